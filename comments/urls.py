from django.urls import path

from . import views

app_name = "comments"
urlpatterns = [
    path("comments/post/<int:article_id>/", views.post, name="post"),
    path("comments/<int:pk>/reply/", views.reply, name="reply"),
    path("comments/<int:pk>/edit/", views.edit, name="edit"),
    path("comments/<int:pk>/delete/", views.delete, name="delete"),
    path("comments/<int:pk>/flag/", views.flag, name="flag"),
]
