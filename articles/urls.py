from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("topics/<slug:slug>/", views.topic, name="topic"),
    path("sources/<slug:slug>/", views.source, name="source"),
    path("a/<slug:slug>/", views.article, name="article"),
]
