from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"

    def ready(self) -> None:
        # Cache invalidation when readers' content changes (see articles/reader/invalidation.py),
        # then the WebSub hub ping, connected second so its on-commit work runs after the cache is
        # emptied and the hub fetches fresh feeds (articles/reader/receivers.py).
        from .reader import invalidation, receivers  # noqa: F401 (in this order)

        # Open questions follow the story's published summary (articles/stories/followups.py).
        from .stories import receivers as story_receivers  # noqa: F401
