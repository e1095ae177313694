from django.urls import path, re_path

from . import views

urlpatterns = [
    path("newsletter/subscribe/", views.subscribe, name="newsletter_subscribe"),
    path("newsletter/confirm/<str:token>/", views.confirm, name="newsletter_confirm"),
    path("newsletter/preferences/<str:token>/", views.preferences, name="newsletter_preferences"),
    path("newsletter/unsubscribe/<str:token>/", views.unsubscribe, name="newsletter_unsubscribe"),
    re_path(r"^digest/(?P<day>\d{4}-\d{2}-\d{2})/$", views.archive, name="digest_archive"),
]
