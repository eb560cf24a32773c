from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        """Connect the signal handlers; refuse a reason setting that names an action taking none."""
        from accounts import signals  # noqa: F401
        from accounts.rules.reasons import reasons_configured

        reasons_configured()
