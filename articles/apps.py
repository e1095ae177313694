from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"

    def ready(self) -> None:
        # Cache invalidation when readers' content changes (see articles/reader/invalidation.py).
        from .reader import invalidation  # noqa: F401
