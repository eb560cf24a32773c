from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        """Connect the signal handlers."""
        from accounts import signals  # noqa: F401
