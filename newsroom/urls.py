from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

# The admin login goes through allauth's, so editors get its rate limits (issue #7).
admin.autodiscover()
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("accounts.urls")),
    path("", include("comments.urls")),
    path("", include("articles.urls")),
    path("", include("newsletter.urls")),
]

# Styled error pages that need no database (articles/views.py); 404 uses templates/404.html.
handler500 = "articles.views.server_error"
