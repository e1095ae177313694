from django.apps import AppConfig


class CommentsConfig(AppConfig):
    name = "comments"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 - connects the log-in receivers
