from django.apps import AppConfig

from .choices import AuditAction


class AppliancesConfig(AppConfig):
    """The marketplace: virtual appliances, their versions and images, VO-wide image lists, and their
    publication as signed HEPiX image lists (a portal app, see egiportal.portal_apps)."""

    name = "appliances"
    portal_app = True

    audit_actions = AuditAction.choices

    def home_counters(self):
        from .models import VirtualAppliance, VOImageList

        return [
            ("Appliances", VirtualAppliance.objects.listed().count()),
            ("Published image lists", VOImageList.objects.filter(state="published").count()),
        ]
