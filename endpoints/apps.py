from django.apps import AppConfig

from .choices import AuditAction


class EndpointsConfig(AppConfig):
    """Service types, services, endpoint locations, service groups and downtimes (a portal app, see
    egiportal.portal_apps)."""

    name = "endpoints"
    portal_app = True

    audit_actions = AuditAction.choices

    def home_counters(self):
        from .models import Downtime, Service

        return [("Services", Service.objects.count()), ("Ongoing downtimes", Downtime.objects.ongoing().count())]

    def home_panels(self):
        from .models import Downtime

        ongoing = Downtime.objects.ongoing().select_related("site").order_by("end")[:10]
        return [("endpoints/inc/home_ongoing.html", {"ongoing": ongoing})]
