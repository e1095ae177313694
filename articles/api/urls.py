"""The API's URL patterns: django-ninja's, with each endpoint's page-cache declaration.

The page cache (newsroom/pagecache.py) reads the query parameters a page depends on from the
URL pattern's view. django-ninja wraps every endpoint in a view of its own, so the declaration
`@cached_by(...)` made on the endpoint is copied onto that wrapper here, by the pattern's name
(each endpoint's `url_name` is its function's name).
"""

from __future__ import annotations

from django.urls import URLPattern

from . import router

patterns, app_name, namespace = router.api.urls
for pattern in patterns:
    if isinstance(pattern, URLPattern):
        endpoint = getattr(router, pattern.name or "", None)
        declared = getattr(endpoint, "page_cache_params", None)
        if declared is not None:
            pattern.callback.page_cache_params = declared

urlpatterns = patterns
