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
        services.save_service(actor, service, scopes=m2m.get("scopes"))

    def delete_object(self, actor, service):
        services.delete_service(actor, service)


class EndpointLocationViewSet(PortalViewSet):
    queryset = EndpointLocation.objects.all()
    serializer_class = serializers.EndpointLocationSerializer
    filterset_class = filtersets.EndpointLocationFilterSet

    def new_object(self):
        return EndpointLocation(monitored=None)  # not given: save_endpoint follows the service's flag

    def save_object(self, actor, endpoint, m2m):
        services.save_endpoint(actor, endpoint)

    def delete_object(self, actor, endpoint):
        services.delete_endpoint(actor, endpoint)


class ServiceGroupViewSet(PortalViewSet):
    queryset = ServiceGroup.objects.all()
    serializer_class = serializers.ServiceGroupSerializer
    filterset_class = filtersets.ServiceGroupFilterSet

    def save_object(self, actor, group, m2m):
        services.save_service_group(actor, group, scopes=m2m.get("scopes"), members=m2m.get("services"))

    def delete_object(self, actor, group):
        services.delete_service_group(actor, group)


class DowntimeViewSet(PortalViewSet):
    queryset = Downtime.objects.all()
    serializer_class = serializers.DowntimeSerializer
    filterset_class = filtersets.DowntimeFilterSet

    def save_object(self, actor, downtime, m2m):
        services.save_downtime(actor, downtime, services=m2m.get("services"), endpoints=m2m.get("endpoints"))

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
