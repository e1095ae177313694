from django.urls import path

from . import views

urlpatterns = [
    path("", views.profile, name="profile"),
    path("export/", views.export, name="profile_export"),
    path("delete/", views.delete, name="profile_delete"),
]
