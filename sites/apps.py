from django.apps import AppConfig

from .choices import AuditAction


class SitesConfig(AppConfig):
    """Projects, NGIs, sites, scopes, certification, roles and API credentials (a portal app, see
    egiportal.portal_apps)."""

    name = "sites"
    portal_app = True

    audit_actions = AuditAction.choices

    def home_counters(self):
        from .models import NGI, Site

        return [("NGIs", NGI.objects.count()), ("Sites", Site.objects.count())]

    def profile_panels(self, user):
        from .services import roles_of

        return [("sites/inc/profile_roles.html", {"roles": roles_of(user)})]
