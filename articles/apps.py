from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"

    def ready(self) -> None:
        # Cache invalidation when readers' content changes (see articles/signals.py).
        from . import signals  # noqa: F401
