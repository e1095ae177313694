from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from . import cached_user  # noqa: F401 - connects the receiver that retires cached users
