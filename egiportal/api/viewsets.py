"""The viewset base of the REST API.

Reads: the queryset goes through `visible_to(user, "view")` and the model's FilterSet (unknown
filters are a 400), then gets exactly the joins and prefetches that the fields being rendered need,
so a list costs the same number of queries whatever its length. Writes: the serializer checks shapes,
then the app's services do the rest (permission, `full_clean`, audit) in one transaction per request;
bulk writes take lists on the list URL. Detail responses carry an ETag; `If-Match` is honoured.
"""

from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch, ProtectedError, RestrictedError
from django.http import Http404
from django.utils.http import quote_etag
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from egiportal.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, ServiceError, error_code
from egiportal.services import (
    REFUSE_EXISTING,
    delete_audited,
    delete_properties,
    locked_rows,
    save_audited,
    set_properties,
)

from .serializers import RelatedField

RESERVED_PARAMS = {"limit", "offset", "cursor", "brief", "fields", "omit", "format"}
MAX_BULK = 1000
MAX_ID = 2**63 - 1  # larger ids cannot exist (64-bit keys); SQLite cannot even compare with them


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object has changed since you read it (If-Match does not match its ETag)."
    default_code = "precondition_failed"


# The replies to the services' error codes (issue 10): a clash with stored data (a taken name, a key
# that exists) is a 409 with the same body as a 400, messages by field name; deletes that other rows
# protect are 409s naming them (below).
SERVICE_ERRORS = {
    INVALID: exceptions.ValidationError,
    CONFLICT: Conflict,
    FORBIDDEN: exceptions.PermissionDenied,
    NOT_FOUND: exceptions.NotFound,
}


def exception_handler(exc, context):
    """The services' refusals (and Django's validation errors from model rules) answered by their code,
    with their messages; deletes that other rows protect are 409s naming them."""
    if isinstance(exc, (ServiceError, DjangoValidationError)):
        code = error_code(exc)
        reply = SERVICE_ERRORS[code]
        if code in (INVALID, CONFLICT):
            exc = reply(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
        else:
            exc = reply(" ".join(exc.messages) if isinstance(exc, DjangoValidationError) else str(exc))
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        dependents = sorted({f"{o._meta.verbose_name}: {o}" for o in list(exc.protected_objects)[:50]})
        exc = Conflict(
            {"detail": "Other objects depend on this one; delete or move them first.", "dependents": dependents}
        )
    return drf_exception_handler(exc, context)


class StrictFilterBackend(DjangoFilterBackend):
    """The model's FilterSet; a query parameter that is neither a filter nor a paging/rendering option
    is a 400, so a typo never silently returns everything."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        unknown = sorted(set(request.query_params) - known - RESERVED_PARAMS)
        if unknown:
            raise exceptions.ValidationError({name: "Unknown filter." for name in unknown})
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        in_utc(filterset.form.cleaned_data)
        return filterset.qs


def in_utc(cleaned_data):
    """Date-times of filters in UTC: ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59."""
    for name, value in cleaned_data.items():
        if isinstance(value, datetime) and value.tzinfo is not None:
            try:
                cleaned_data[name] = value.astimezone(UTC)
            except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
                raise exceptions.ValidationError({name: "This date-time is out of range."}) from None


def rendered_fields(serializer):
    """The fields a (possibly brief or trimmed) serializer renders."""
    return serializer.child.fields if isinstance(serializer, serializers.ListSerializer) else serializer.fields


def optimise(queryset, serializer, prefix=""):
    """`queryset` with the select_related/prefetch_related that rendering `serializer` needs, derived from
    its fields (a related object's brief form included), plus `Meta.select_related` for `display`."""
    meta = getattr(serializer, "Meta", None)
    for path in getattr(meta, "select_related", ()):
        queryset = queryset.select_related(prefix + path)
    for name, field in rendered_fields(serializer).items():
        source = prefix + (field.source or name)
        if isinstance(field, RelatedField):
            queryset = queryset.select_related(source)
            nested = field.serializer(nested=True, context=serializer.context)
            queryset = optimise(queryset, nested, prefix=source + "__")
        elif isinstance(field, serializers.ManyRelatedField) and isinstance(field.child_relation, RelatedField):
            child = field.child_relation
            nested = child.serializer(nested=True, context=serializer.context)
            related = optimise(child.serializer.Meta.model.objects.all(), nested)
            queryset = queryset.prefetch_related(Prefetch(source, queryset=related))
        elif getattr(field, "prefetch", None):
            queryset = queryset.prefetch_related(prefix + field.prefetch)
    return queryset


class PortalViewSet(viewsets.ModelViewSet):
    """CRUD and bulk writes for one model. Subclasses set queryset, serializer_class, filterset_class
    and implement `save_object(actor, instance, m2m)` and `delete_object(actor, instance)` by calling
    the app's services."""

    filter_backends = [StrictFilterBackend]
    lookup_value_converter = "id"  # egiportal.converters.IdConverter: any other id is not found, without a query

    # ---------------------------------------------------------------- reads

    def get_serializer(self, *args, **kwargs):
        params = self.request.query_params if self.request is not None else {}
        if self.request is not None and self.request.method == "GET":
            kwargs.setdefault("nested", params.get("brief", "").lower() in ("1", "true", "yes"))
            kwargs.setdefault("fields", split(params.get("fields")))
            kwargs.setdefault("omit", split(params.get("omit")))
        return super().get_serializer(*args, **kwargs)

    def get_queryset(self):
        queryset = self.queryset.all().visible_to(self.request.user, "view")
        if self.request.method == "GET":
            queryset = optimise(queryset, self.get_serializer())
        ordering = queryset.query.order_by or queryset.model._meta.ordering or ()
        return queryset.order_by(*ordering, "pk")

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag(instance)
        return response

    # ---------------------------------------------------------------- writes

    def new_object(self):
        """The instance a create fills in; fields the request leaves out keep what this gives."""
        return self.queryset.model()

    def save_object(self, actor, instance, m2m):
        raise exceptions.MethodNotAllowed(self.request.method)

    def delete_object(self, actor, instance):
        raise exceptions.MethodNotAllowed(self.request.method)

    def write(self, serializer, instance=None):
        """Apply validated data to `instance` (or a new object) and save it through the services."""
        data = dict(serializer.validated_data)
        model = self.queryset.model
        m2m = {name: data.pop(name) for name in list(data) if model._meta.get_field(name).many_to_many}
        instance = instance if instance is not None else self.new_object()
        for name, value in data.items():
            setattr(instance, name, value)
        self.save_object(self.request.user, instance, m2m)
        return instance

    def reread(self, instances):
        """The written objects, fetched again with the prefetches of their representation."""
        queryset = optimise(self.queryset.model.objects.all(), self.get_serializer())
        found = {obj.pk: obj for obj in queryset.filter(pk__in=[i.pk for i in instances])}
        return [found[i.pk] for i in instances]

    def check_precondition(self, instance):
        expected = self.request.headers.get("If-Match")
        if expected and expected.strip() not in ("*", etag(instance)):
            raise PreconditionFailed()

    def create(self, request, *args, **kwargs):
        """One object, or a list of them (bulk create): all are saved or none."""
        many = isinstance(request.data, list)
        items = check_size(request.data) if many else [request.data]
        with transaction.atomic():
            instances = [self.write(self.validated(item, index if many else None)) for index, item in enumerate(items)]
        data = self.get_serializer(self.reread(instances), many=True).data
        return Response(data if many else data[0], status=status.HTTP_201_CREATED)

    def validated(self, data, index=None, instance=None, partial=False):
        """A validated serializer; in a bulk request its errors are reported at the item's position."""
        serializer = self.get_serializer(instance, data=data, partial=partial)
        if not serializer.is_valid():
            detail = serializer.errors
            raise exceptions.ValidationError(detail if index is None else [{}] * index + [detail])
        return serializer

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            instance = self.locked(self.get_object().pk)
            self.check_precondition(instance)
            self.write(self.validated(request.data, instance=instance, partial=partial), instance)
        [instance] = self.reread([instance])
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag(instance)
        return response

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            instance = self.locked(self.get_object().pk)
            self.check_precondition(instance)
            self.delete_object(request.user, instance)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def locked(self, pk):
        """The row, locked until the end of the transaction (so If-Match and the write see one state)."""
        return self.lock_all([{"id": pk}])[pk]

    # ---------------------------------------------------------------- bulk writes on the list URL

    def bulk_items(self, request):
        items = check_size(request.data)
        ids = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int) or isinstance(item.get("id"), bool):
                raise exceptions.ValidationError({"detail": "Each object needs an integer id."})
            ids.append(item["id"])
        if len(set(ids)) != len(ids):
            raise exceptions.ValidationError({"detail": "An id is given more than once."})
        possible = [pk for pk in ids if 0 < pk <= MAX_ID]
        found = self.get_queryset().filter(pk__in=possible).values_list("pk", flat=True)
        missing = sorted(set(ids) - set(found))
        if missing:
            raise Http404(f"No {self.queryset.model._meta.verbose_name} with id {', '.join(map(str, missing[:20]))}.")
        return items

    def bulk_update(self, request, partial=False):
        items = self.bulk_items(request)
        instances = []
        with transaction.atomic():
            rows = self.lock_all(items)
            for index, item in enumerate(items):
                instance = rows[item["id"]]
                self.check_precondition(instance)
                data = {k: v for k, v in item.items() if k != "id"}
                instances.append(self.write(self.validated(data, index, instance, partial), instance))
        return Response(self.get_serializer(self.reread(instances), many=True).data)

    def bulk_partial_update(self, request):
        return self.bulk_update(request, partial=True)

    def bulk_destroy(self, request):
        items = self.bulk_items(request)
        with transaction.atomic():
            rows = self.lock_all(items)
            for item in items:
                self.delete_object(request.user, rows[item["id"]])
        return Response(status=status.HTTP_204_NO_CONTENT)

    def lock_all(self, items):
        """The bulk request's rows by id, all locked first in id order (two bulk writes of the same rows
        in opposite orders would otherwise each hold a row the other waits for)."""
        ids = [item["id"] for item in items]
        rows = {row.pk: row for row in locked_rows(self.queryset.model, ids)}
        gone = [pk for pk in ids if pk not in rows]
        if gone:  # deleted since it was looked up
            raise Http404(f"No {self.queryset.model._meta.verbose_name} with id {', '.join(map(str, gone[:20]))}.")
        return rows


def check_size(items):
    if not isinstance(items, list) or not items:
        raise exceptions.ValidationError({"detail": "Send a non-empty list of objects."})
    if len(items) > MAX_BULK:
        raise exceptions.ValidationError({"detail": f"At most {MAX_BULK} objects per request."})
    return items


def etag(instance):
    """A weak ETag from the object's last change."""
    stamp = getattr(instance, "last_updated", None)
    return "W/" + quote_etag(f"{instance.pk}-{stamp.timestamp() if stamp else 0}")


def split(value):
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


class AdminWritesViewSet(PortalViewSet):
    """Reference data (projects, NGIs, scopes, service types): readable by all, written by portal
    administrators only, audited like the admin site's edits."""

    def save_object(self, actor, instance, m2m):
        require_admin(actor, instance)
        save_audited(actor, instance, m2m=m2m)

    def delete_object(self, actor, instance):
        require_admin(actor, instance)
        delete_audited(actor, instance)


def require_admin(actor, instance):
    if not actor.is_superuser:
        raise PermissionDenied(f"Only portal administrators may change {instance._meta.verbose_name_plural}.")


class PropertyViewSet(PortalViewSet):
    """Custom properties, written through set_properties/delete_properties on their parent, so the
    per-entity limit, the key and value rules and the audit (on the parent) hold as in the browser.

    POST adds new keys only (a key the parent has is a 409); PUT/PATCH change a value; DELETE removes it.
    A POSTed list is saved all or nothing, with one set_properties call per parent; the services'
    refusals are answered at each item's position.
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
        saved, refusals = {}, []
        with transaction.atomic():
            parents = by_parent(rows)
            for model in sorted({type(parent) for parent in parents}, key=lambda model: model._meta.label):
                # parents locked in a stable order, as the bulk writes lock their rows
                locked_rows(model, [parent.pk for parent in parents if type(parent) is model])
            for parent, indexed in parents.items():
                pairs = [(row["key"], row["value"]) for _, row in indexed]
                try:
                    for prop in set_properties(request.user, parent, pairs, existing=REFUSE_EXISTING):
                        saved[parent.pk, prop.key] = prop
                except DjangoValidationError as exc:  # each parent's call is undone; the others are tried
                    if error_code(exc) not in (INVALID, CONFLICT):
                        raise
                    refusals.append((parent, [index for index, _ in indexed], exc))
            if refusals:
                raise property_refusal(refusals, len(rows), many)
        instances = self.reread([saved[row["parent"].pk, row["key"]] for row in rows])
        data = self.get_serializer(instances, many=True).data
        return Response(data if many else data[0], status=status.HTTP_201_CREATED)


def property_refusal(refusals, count, many):
    """The reply to set_properties' refusals, (parent, request positions of its pairs, error) each: a 400
    when any input is invalid (only those messages), else a 409 for the keys that exist. A refused pair
    is answered at its item's position; the property limit in `detail`, naming the parent."""
    invalid = [refusal for refusal in refusals if error_code(refusal[2]) == INVALID]
    items, detail = [{} for _ in range(count)], []
    for parent, indexes, exc in invalid or refusals:
        for error in exc.error_list:
            params = error.params or {}
            if params.get("position") is None:
                detail.append(f"{parent}: {error.messages[0]}")
                continue
            message = PROPERTY_MESSAGES.get(error.code, "{message}")
            text = message.format(key=params["key"], parent=parent, message=error.messages[0])
            items[indexes[params["position"]]].setdefault("key", []).append(text)
    body = (items if many else items[0]) if any(items) else {"detail": detail}
    return exceptions.ValidationError(body) if invalid else Conflict(body)


PROPERTY_MESSAGES = {
    "exists": "Property {key} of {parent} already exists.",
    "repeated": "Property {key} of {parent} is given more than once.",
}


def positional(errors, count):
    """A list's errors with each item's at its position, as the framework's other bulk writes answer
    (DRF 3.18 reports them as {index: errors})."""
    return [errors.get(index, {}) for index in range(count)] if isinstance(errors, dict) else list(errors)


def by_parent(rows):
    """(position in `rows`, row) pairs per parent, in the order the parents first appear."""
    grouped = {}
    for index, row in enumerate(rows):
        grouped.setdefault(row["parent"], []).append((index, row))
    return grouped
