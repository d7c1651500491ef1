from django.apps import AppConfig

from .choices import AuditAction

# Service types of cloud compute (specs/gocdb.md service types): EGI's cloud sites register OpenStack Nova,
# older ones OCCI or OpenNebula endpoints.
CLOUD_COMPUTE_TYPES = ("org.openstack.nova", "eu.egi.cloud.vm-management.occi", "org.opennebula.one")


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

    def object_panels(self, obj, user):
        """A VO page's panel: the images its published list endorses and the cloud sites that support it
        (a cloud compute service in production with the VO in its scopes or in a `vo` property)."""
        if obj._meta.label != "egiportal.VirtualOrganisation":
            return []
        from django.db.models import Exists, OuterRef, Q

        from endpoints.models import Service
        from sites.models import Site

        from . import publishing
        from .models import VOImageList

        vo = obj
        published = VOImageList.objects.visible_to(user).filter(vo=vo, state="published").first()
        rows = publishing.entry_rows(published) if published else []
        supporting = Service.objects.filter(
            site=OuterRef("pk"), production=True, service_type__name__in=CLOUD_COMPUTE_TYPES
        ).filter(Q(scopes__name__iexact=vo.name) | Q(properties__key="vo", properties__value=vo.name))
        sites = Site.objects.visible_to(user).filter(Exists(supporting)).select_related("ngi").order_by("short_name")
        context = {"vo": vo, "image_list": published, "rows": rows, "sites": list(sites[:500])}
        return [("appliances/inc/vo_panel.html", context)]
