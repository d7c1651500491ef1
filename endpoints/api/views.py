"""API viewsets of service types, services, endpoint locations, service groups, downtimes and custom
properties. Reads filter through the browser's FilterSets; every write goes through the services of
endpoints/services.py (or egiportal/services.py for properties), which check permissions, validate
with GOCDB's rules and messages, and audit."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import exceptions, status
from rest_framework.response import Response

from egiportal.api.viewsets import AdminWritesViewSet, PortalViewSet, check_size
from egiportal.services import delete_properties, set_properties

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


class PropertyViewSet(PortalViewSet):
    """Custom properties, written through set_properties/delete_properties on their parent, so the
    per-entity limit, the key and value rules and the audit (on the parent) hold as in the browser.

    POST adds new keys only (an existing key is a 400); PUT/PATCH change a value; DELETE removes it.
    A POSTed list is saved all or nothing, with one set_properties call per parent.
    """

    def save_object(self, actor, prop, m2m):
        set_properties(actor, prop.parent, [(prop.key, prop.value)])

    def delete_object(self, actor, prop):
        delete_properties(actor, prop.parent, [prop.key])

    def create(self, request, *args, **kwargs):
        many = isinstance(request.data, list)
        items = check_size(request.data) if many else [request.data]
        serializer = self.get_serializer(data=items, many=True)
        if not serializer.is_valid():
            errors = positional(serializer.errors, len(items))
            raise exceptions.ValidationError(errors if many else errors[0])
        rows = serializer.validated_data
        self.check_new_keys(rows, many)
        saved = {}
        with transaction.atomic():
            for parent, pairs in by_parent(rows).items():
                for prop in self.add_properties(request.user, parent, pairs):
                    saved[parent.pk, prop.key] = prop
        instances = self.reread([saved[row["parent"].pk, row["key"]] for row in rows])
        data = self.get_serializer(instances, many=True).data
        return Response(data if many else data[0], status=status.HTTP_201_CREATED)

    def check_new_keys(self, rows, many):
        """A 400 at the item's position for a key its parent already has or that the request repeats
        (set_properties with overwrite=False would skip the first silently)."""
        model = self.queryset.model
        stored = set(model.objects.filter(parent__in={r["parent"].pk for r in rows}).values_list("parent_id", "key"))
        seen, errors = set(), [{} for _ in rows]
        for index, row in enumerate(rows):
            pair, name = (row["parent"].pk, row["key"]), f"Property {row['key']} of {row['parent']}"
            if pair in stored:
                errors[index] = {"key": [f"{name} already exists."]}
            elif pair in seen:
                errors[index] = {"key": [f"{name} is given more than once."]}
            seen.add(pair)
        if any(errors):
            raise exceptions.ValidationError(errors if many else errors[0])

    def add_properties(self, actor, parent, pairs):
        """set_properties on one parent; its errors (e.g. the property limit) name that parent."""
        try:
            return set_properties(actor, parent, pairs, overwrite=False)
        except DjangoValidationError as exc:
            raise DjangoValidationError({"detail": [f"{parent}: {message}" for message in exc.messages]}) from None


def positional(errors, count):
    """A list's errors with each item's at its position, as the framework's other bulk writes answer
    (DRF 3.18 reports them as {index: errors})."""
    return [errors.get(index, {}) for index in range(count)] if isinstance(errors, dict) else list(errors)


def by_parent(rows):
    """(key, value) pairs per parent, in the order the parents first appear."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row["parent"], []).append((row["key"], row["value"]))
    return grouped


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
