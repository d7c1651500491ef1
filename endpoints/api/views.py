"""API viewsets of service types, services, endpoint locations, service groups, downtimes and custom
properties. Reads filter through the browser's FilterSets; every write goes through the services of
endpoints/services.py (or egiportal/services.py for properties), which check permissions, validate
with GOCDB's rules and messages, and audit."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from egiportal.api.viewsets import AdminWritesViewSet, PortalViewSet, PropertyViewSet

from .. import filtersets, services
from ..models import (
    Downtime,
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceGroup,
    ServiceGroupProperty,
    ServiceProperty,
    ServiceType,
)
from . import serializers


class ServiceTypeViewSet(AdminWritesViewSet):
    queryset = ServiceType.objects.all()
    serializer_class = serializers.ServiceTypeSerializer
    filterset_class = filtersets.ServiceTypeFilterSet


class ServiceViewSet(PortalViewSet):
    queryset = Service.objects.all()
    serializer_class = serializers.ServiceSerializer
    filterset_class = filtersets.ServiceFilterSet

    def save_object(self, actor, service, m2m):
        if service.pk is not None:
            services.update_service(actor, service, m2m.get("scopes", service.scopes.all()))
            return
        # Without scopes a new service takes its site's, as the browser form proposes.
        scopes = m2m["scopes"] if "scopes" in m2m else service.site.scopes.all()
        services.create_service(actor, service, scopes)

    def delete_object(self, actor, service):
        services.delete_service(actor, service)


class EndpointLocationViewSet(PortalViewSet):
    queryset = EndpointLocation.objects.all()
    serializer_class = serializers.EndpointLocationSerializer
    filterset_class = filtersets.EndpointLocationFilterSet

    def save_object(self, actor, endpoint, m2m):
        if endpoint.pk is None:
            services.create_endpoint(actor, endpoint)
        else:
            services.update_endpoint(actor, endpoint)

    def delete_object(self, actor, endpoint):
        services.delete_endpoint(actor, endpoint)


class ServiceGroupViewSet(PortalViewSet):
    queryset = ServiceGroup.objects.all()
    serializer_class = serializers.ServiceGroupSerializer
    filterset_class = filtersets.ServiceGroupFilterSet

    def save_object(self, actor, group, m2m):
        if group.pk is None:
            services.create_service_group(actor, group, m2m.get("scopes", []))
            members = set()
        else:
            members = set(group.services.all())
            services.update_service_group(actor, group, m2m.get("scopes", group.scopes.all()))
        if "services" in m2m:
            wanted = set(m2m["services"])
            add, remove = sorted(wanted - members, key=by_pk), sorted(members - wanted, key=by_pk)
            if add or remove:  # change_group_services refuses an empty change
                services.change_group_services(actor, group, add=add, remove=remove)

    def delete_object(self, actor, group):
        services.delete_service_group(actor, group)


def by_pk(obj):
    return obj.pk


class DowntimeViewSet(PortalViewSet):
    queryset = Downtime.objects.all()
    serializer_class = serializers.DowntimeSerializer
    filterset_class = filtersets.DowntimeFilterSet

    def save_object(self, actor, downtime, m2m):
        if downtime.pk is None:
            services.declare_downtime(actor, downtime, m2m.get("services", []), m2m.get("endpoints", []))
            return
        chosen = m2m.get("services")
        endpoints = m2m.get("endpoints")
        if endpoints is None:
            # Endpoints of services that leave the downtime leave with them (else they would bring
            # their service back in, see services._affected).
            endpoints = list(downtime.endpoints.all())
            if chosen is not None:
                endpoints = [e for e in endpoints if e.service_id in {s.pk for s in chosen}]
        services.edit_downtime(actor, downtime, chosen if chosen is not None else downtime.services.all(), endpoints)

    def delete_object(self, actor, downtime):
        services.delete_downtime(actor, downtime)

    @extend_schema(request=None, responses={200: serializers.DowntimeSerializer})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End an ongoing downtime a minute from now, as the browser's "End now" does (400 when it is
        not ongoing)."""
        downtime = services.end_downtime(request.user, self.get_object())
        [downtime] = self.reread([downtime])
        return Response(self.get_serializer(downtime).data)


class ServicePropertyViewSet(PropertyViewSet):
    queryset = ServiceProperty.objects.all()
    serializer_class = serializers.ServicePropertySerializer
    filterset_class = filtersets.ServicePropertyFilterSet


class EndpointPropertyViewSet(PropertyViewSet):
    queryset = EndpointProperty.objects.all()
    serializer_class = serializers.EndpointPropertySerializer
    filterset_class = filtersets.EndpointPropertyFilterSet


class ServiceGroupPropertyViewSet(PropertyViewSet):
    queryset = ServiceGroupProperty.objects.all()
    serializer_class = serializers.ServiceGroupPropertySerializer
    filterset_class = filtersets.ServiceGroupPropertyFilterSet
