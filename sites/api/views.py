"""API viewsets of projects, NGIs, sites and scopes: reads filter through the browser's FilterSets;
site writes go through the site services, reference data is written by portal administrators."""

from egiportal.api.viewsets import AdminWritesViewSet, PortalViewSet

from .. import filtersets, services
from ..models import NGI, Project, Scope, Site
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
        if site.pk is None:
            services.create_site(actor, site, m2m.get("scopes", []))
        else:
            services.update_site(actor, site, m2m.get("scopes", site.scopes.all()))

    def delete_object(self, actor, site):
        services.delete_site(actor, site)
