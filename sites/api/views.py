"""API viewsets of projects, NGIs, sites and scopes, site properties, certification changes and roles:
reads filter through the browser's FilterSets; writes go through the services (site, certification and
role services; egiportal's property services), reference data is written by portal administrators."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from egiportal.api import resources
from egiportal.api.permissions import SameSiteWritePermission, TokenWritePermission

# The generic property resource lives with the other property resources (services, endpoints, groups);
from egiportal.api.viewsets import AdminWritesViewSet, PortalViewSet, PropertyViewSet
from egiportal.models import PortalQuerySet

from .. import filtersets, services
from ..models import NGI, CertificationStatusLog, Project, Role, Scope, Site, SiteProperty
from . import serializers


class ProjectViewSet(AdminWritesViewSet):
    queryset = Project.objects.all()
    serializer_class = serializers.ProjectSerializer
    filterset_class = filtersets.ProjectFilterSet


class NGIViewSet(AdminWritesViewSet):
    queryset = NGI.objects.all()
    serializer_class = serializers.NGISerializer
    filterset_class = filtersets.NGIFilterSet


class ScopeViewSet(AdminWritesViewSet):
    queryset = Scope.objects.all()
    serializer_class = serializers.ScopeSerializer
    filterset_class = filtersets.ScopeFilterSet


class SiteViewSet(PortalViewSet):
    queryset = Site.objects.all()
    serializer_class = serializers.SiteSerializer
    filterset_class = filtersets.SiteFilterSet

    def save_object(self, actor, site, m2m):
        services.save_site(actor, site, scopes=m2m.get("scopes"))

    def delete_object(self, actor, site):
        services.delete_site(actor, site)


class SitePropertyViewSet(PropertyViewSet):
    """Custom properties of sites: written through set_properties/delete_properties on the site, so the
    browser's rules hold (EDIT_OBJECT on the site, key/value formats, the per-site limit, audit)."""

    queryset = SiteProperty.objects.all()
    serializer_class = serializers.SitePropertySerializer
    filterset_class = filtersets.SitePropertyFilterSet


class CertificationChangeViewSet(PortalViewSet):
    """The certification history of sites (public, as on the site page). POST changes a site's status
    through sites.services.change_certification, which checks SITE_EDIT_CERT_STATUS and the allowed
    transitions; the history itself is append-only."""

    # CertificationStatusLog has a plain manager; as a PortalQuerySet it gets PortalViewSet's reads
    # (visible_to(user, "view") is every row: the history is public).
    queryset = PortalQuerySet(model=CertificationStatusLog)
    serializer_class = serializers.CertificationChangeSerializer
    filterset_class = filtersets.CertificationStatusLogFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def write(self, serializer, instance=None):
        data = serializer.validated_data
        return services.change_certification(self.request.user, data["site"], data["new_status"], data["reason"])


class RoleViewSet(PortalViewSet):
    """Role assignments and requests. Only those the caller may see are listed (Role visibility, in
    sites.roles.GOCDBRoles); the others are 404. POST requests a role for the caller; `approve/`, `reject/` and `revoke/` (or DELETE)
    call the role services, which check GRANT/REJECT/REVOKE_ROLE (403 when not allowed) and audit."""

    queryset = Role.objects.all()
    serializer_class = serializers.RoleSerializer
    filterset_class = filtersets.RoleFilterSet
    permission_classes = [IsAuthenticated, TokenWritePermission, SameSiteWritePermission]
    http_method_names = ["get", "post", "delete", "head", "options"]

    def write(self, serializer, instance=None):
        data = serializer.validated_data
        return services.request_role(self.request.user, data["owned_entity"], data["role_type"])

    def delete_object(self, actor, role):
        services.revoke_role(actor, role)

    @extend_schema(request=None, responses={200: serializers.RoleSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Grant a pending request (GRANT_ROLE on its entity)."""
        role = services.grant_role(request.user, self.get_object())
        [role] = self.reread([role])
        return Response(self.get_serializer(role).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Refuse a pending request (REJECT_ROLE on its entity); the request is deleted."""
        services.reject_role(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Remove a role (REVOKE_ROLE on its entity, or your own role or request); same as DELETE."""
        services.revoke_role(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserViewSet(resources.UserViewSet):
    """The caller alone (see the core's resource), with their roles."""

    serializer_class = serializers.UserSerializer
