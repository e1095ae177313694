from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from articles.api.docs import api_docs
from articles.ingest.views import websub_callback

from . import rights, views

# The admin login goes through allauth's, so editors get its rate limits (issue #7).
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("accounts.urls")),
    # The JSON API (docs/api.md): its browsable docs, then django-ninja's endpoints.
    path("api/v1/docs", api_docs, name="api_docs"),
    path("api/v1/", include(("articles.api.urls", "api-v1"), namespace="api-v1")),
    path("", include("comments.urls")),
    path("", include("articles.reader.urls")),
    path("", include("newsletter.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("websub/<str:token>/", websub_callback, name="websub_callback"),
    path(".well-known/tdmrep.json", rights.tdmrep_json, name="tdmrep_json"),
]

if settings.BENCH_VIEWS:
    urlpatterns.append(path("bench/ok", views.bench_ok, name="bench_ok"))

# Styled error pages that need no database (newsroom/views.py); 404 uses templates/404.html.
handler500 = "newsroom.views.server_error"
