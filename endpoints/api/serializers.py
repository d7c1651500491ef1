"""API representations of service types, services, endpoint locations, service groups, downtimes and
the custom properties of services, endpoints and service groups."""

from rest_framework import serializers

from egiportal.api.serializers import BaseModelSerializer, PropertiesField, RelatedField, property_serializer
from sites.api.serializers import SiteSerializer, scopes_field
from sites.models import Site

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


def own_url_field(model):
    """The model's own `url` column under another name: `url` is the API link of every object."""
    field = model._meta.get_field("url")
    return serializers.CharField(
        source="url", max_length=field.max_length, allow_blank=True, required=False, validators=field.validators
    )


class ServiceTypeSerializer(BaseModelSerializer):
    class Meta:
        model = ServiceType
        fields = ["id", "url", "display", "name", "description", "monitoring_exception", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name"]


class ServiceSerializer(BaseModelSerializer):
    site = RelatedField(SiteSerializer, "short_name", queryset=Site.objects.all())
    service_type = RelatedField(ServiceTypeSerializer, "name", queryset=ServiceType.objects.all())
    service_url = own_url_field(Service)
    scopes = scopes_field()
    properties = PropertiesField()
    endpoints = RelatedField("endpoints.api.serializers.EndpointLocationSerializer", read_only=True, many=True)

    class Meta:
        model = Service
        fields = [
            "id", "url", "display", "site", "service_type", "hostname", "description", "service_url",
            "production", "beta", "monitored", "notify", "email", "dn", "ip_address", "ipv6_address",
            "operating_system", "architecture", "scopes", "properties", "endpoints", "created", "last_updated",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "hostname"]
        select_related = ("service_type",)  # str(service) names its type


class EndpointLocationSerializer(BaseModelSerializer):
    endpoint_url = own_url_field(EndpointLocation)
    service = RelatedField(ServiceSerializer, queryset=Service.objects.all())
    properties = PropertiesField()

    class Meta:
        model = EndpointLocation
        fields = [
            "id", "url", "display", "service", "name", "endpoint_url", "interface_name", "description",
            "monitored", "email", "properties", "created", "last_updated",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "name"]


class ServiceGroupSerializer(BaseModelSerializer):
    scopes = scopes_field()
    services = RelatedField(ServiceSerializer, queryset=Service.objects.all(), many=True, required=False)
    properties = PropertiesField()

    class Meta:
        model = ServiceGroup
        fields = [
            "id", "url", "display", "name", "description", "monitored", "email", "scopes", "services",
            "properties", "created", "last_updated",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "name"]


class DowntimeSerializer(BaseModelSerializer):
    """A downtime; its site follows from its services, its classification from its start (§7.1)."""

    site = RelatedField(SiteSerializer, read_only=True)
    # Empty lists are the services' to refuse, with GOCDB's message.
    services = RelatedField(ServiceSerializer, queryset=Service.objects.all(), many=True, required=False)
    endpoints = RelatedField(
        EndpointLocationSerializer, queryset=EndpointLocation.objects.all(), many=True, required=False
    )

    class Meta:
        model = Downtime
        fields = [
            "id", "url", "display", "primary_key", "site", "severity", "classification", "description", "start",
            "end", "services", "endpoints", "created", "last_updated",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "severity", "start", "end"]
        select_related = ("site",)  # str(downtime) names its site


ServicePropertySerializer = property_serializer(ServiceProperty, ServiceSerializer)
EndpointPropertySerializer = property_serializer(EndpointProperty, EndpointLocationSerializer)
ServiceGroupPropertySerializer = property_serializer(ServiceGroupProperty, ServiceGroupSerializer)
