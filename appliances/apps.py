from django.apps import AppConfig


class AppliancesConfig(AppConfig):
    """The marketplace: virtual appliances, their versions and images, VO-wide image lists, and their
    publication as signed HEPiX image lists (a portal app, see egiportal.portal_apps)."""

    name = "appliances"
    portal_app = True
