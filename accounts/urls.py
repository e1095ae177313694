from django.urls import path

from . import views

urlpatterns = [
    path("", views.profile, name="profile"),
    path("export/", views.export, name="profile_export"),
    path("delete/", views.delete, name="profile_delete"),
    path("api-tokens/", views.api_token_new, name="api_token_new"),
    path("api-tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="api_token_revoke"),
]
