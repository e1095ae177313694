from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("articles.urls")),
]

# Styled error pages that need no database (articles/views.py); 404 uses templates/404.html.
handler500 = "articles.views.server_error"
