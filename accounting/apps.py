from django.apps import AppConfig


class AccountingConfig(AppConfig):
    """Accounting: usage records from cloud sites, their summaries, and the views of them (a portal app,
    see egiportal.portal_apps)."""

    name = "accounting"
    portal_app = True
