"""The OpenAPI description of the REST API (drf-spectacular, served at /api/v1/schema/).

What drf-spectacular cannot guess from the code is described here: the `?brief`, `?fields` and `?omit`
options of reads, the bulk writes on list URLs (lists of objects, each with its id), a create that
also takes a list, related objects (shown brief, written as an id, a name or an object of unique
attributes), every filter of the FilterSets (repeatable values, comma lists), `If-Match`/`ETag`, the
personal API tokens, and the error replies of each operation. XML and CSV renderings are documented
as text: their shape is the JSON one, which a JSON schema cannot describe.
"""

import inspect

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django_filters import ModelMultipleChoiceFilter
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import (
    ResolvedComponent,
    build_array_type,
    build_basic_type,
    build_parameter_type,
    force_instance,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from egiportal.converters import ID_MAX
from egiportal.filtersets import ListFilter, NameListWidget, PropertyFilter

from .serializers import BaseModelSerializer, PropertiesField
from .viewsets import MAX_BULK, PortalViewSet

JSON = "application/json"
BLANK = {"type": "string", "maxLength": 0}
BULK_ACTIONS = {"bulk_update", "bulk_partial_update", "bulk_destroy"}
BULK_DESCRIPTIONS = {
    "bulk_update": "Replace several objects at once: a list of whole objects, each with its `id`.",
    "bulk_partial_update": "Change several objects at once: a list of objects, each with its `id` and the fields to change.",
    "bulk_destroy": "Delete several objects at once: a list of objects, each with its `id`.",
}
ALL_OR_NONE = f" All succeed or none does; at most {MAX_BULK} objects per request."

ERROR = {
    "type": "object",
    "description": "An error reply.",
    "properties": {"detail": {"type": "string", "description": "What went wrong."}},
    "required": ["detail"],
}
CONFLICT = {
    "type": "object",
    "description": "The object cannot be deleted while other objects depend on it.",
    "properties": {
        "detail": {"type": "string"},
        "dependents": {"type": "array", "items": {"type": "string"}, "description": "Some of the dependent objects."},
    },
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "description": (
        "A request the API refuses: an object of messages by field name (`detail` for the whole request), a "
        "list of messages, or, for a bulk request, a list with the messages of each object at its position."
    ),
    "oneOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": {}}]}},
    ],
}
TEXT_REPLY = {"type": "string", "description": "The JSON reply's data as XML or CSV (`?format=xml`, `?format=csv`)."}
COMPONENTS = {"Error": ERROR, "Conflict": CONFLICT, "ValidationError": VALIDATION_ERROR, "TextReply": TEXT_REPLY}
ERRORS = {
    "400": ("ValidationError", "Invalid request: unknown filter, malformed parameter or invalid object."),
    "401": ("Error", "The API token is invalid, expired or revoked."),
    "403": ("Error", "Not allowed: a read-only token, or no permission on the object."),
    "404": ("Error", "No such object (or not visible to you), or an unknown `format`."),
    "405": ("Error", "This kind of object cannot be changed through the API."),
    "409": ("Conflict", "Other objects depend on this one."),
    "412": ("Error", "`If-Match` does not match the object's current ETag."),
    "429": ("Error", "Too many requests: see Retry-After."),
}
# The 409 of a create or update (a delete's is ERRORS' Conflict, naming the dependents).
WRITE_CONFLICT = (
    "ValidationError",
    "The input clashes with stored data (a name that is taken, a key that exists): messages as for 400.",
)


class TokenScheme(OpenApiAuthenticationExtension):
    """Personal API tokens (egiportal.api.authentication)."""

    target_class = "egiportal.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal API token (made on the portal's /tokens/ page), sent as `Authorization: Bearer egit_...`, "
                "`Authorization: Token egit_...` or HTTP Basic with the token as the password. Read-only tokens "
                "cannot write. A site's portal token (`egip_...`) reads as its owner."
            ),
        }


class CheckinScheme(OpenApiAuthenticationExtension):
    """EGI Check-in access tokens (egiportal.api.authentication.CheckinAuthentication)."""

    target_class = "egiportal.api.authentication.CheckinAuthentication"
    name = "checkinAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An EGI Check-in access token, sent as `Authorization: Bearer <token>`; it acts as the user it "
                "was issued to, with that user's roles and VO memberships. 401 when Check-in does not accept it."
            ),
        }


class RelatedFieldSchema(OpenApiSerializerFieldExtension):
    """A related object: its brief form in replies; in requests its id, natural key or unique attributes."""

    target_class = "egiportal.api.serializers.RelatedField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if direction == "response":
            nested = field.serializer(nested=True, context=field.context)
            return auto_schema.resolve_serializer(nested, direction).ref
        label = field.serializer.Meta.model._meta.verbose_name
        choices = [{"type": "integer", "minimum": 1, "description": f"The {label}'s id."}]
        if field.natural_key:
            choices.append({"type": "string", "description": f"The {label}'s {field.natural_key}."})
        choices.append(
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {},
                "description": f'Attributes that identify one {label}, e.g. {{"id": 1}}.',
            }
        )
        key = f"its {field.natural_key}, " if field.natural_key else ""
        return {"oneOf": choices, "description": f"The {label}: its id, {key}or an object of its unique attributes."}


class PortalFilterExtension(DjangoFilterExtension):
    """The FilterSets' own filter classes: repeatable values, comma lists and `key=value` properties."""

    target_class = "egiportal.api.viewsets.StrictFilterBackend"
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        if isinstance(filter_field, ListFilter):
            return [self.list_parameter(auto_schema, model, field_name, filter_field)]
        if isinstance(filter_field, PropertyFilter):
            description = "Custom property `key=value` (exact value) or `key` (the property exists); repeat for more, all must match."
            return [query_array(field_name, build_basic_type(OpenApiTypes.STR), description, explode=True)]
        if isinstance(filter_field, ModelMultipleChoiceFilter):
            key = filter_field.extra.get("to_field_name") or "id"
            description = f"{filter_field.label or field_name} by {key}; repeat for several (any matches)"
            if isinstance(filter_field.field.widget, NameListWidget):
                description += " or separate them by commas"
            return [query_array(field_name, build_basic_type(OpenApiTypes.STR), description + ".", explode=True)]
        return super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)

    def list_parameter(self, auto_schema, model, name, filter_field):
        """`field` (repeatable), `field__in` (comma list) or `<relation>_id` (repeatable ids)."""
        try:
            model_field = model._meta.get_field(filter_field.field_name)
        except FieldDoesNotExist:  # a path through relations: the type of its form field will do
            model_field = None
        if model_field is None or model_field.is_relation:
            integer = isinstance(filter_field.field.base, forms.IntegerField)
            item = {"type": "integer", "minimum": 0} if integer else {"type": "string"}
        else:
            item = auto_schema._map_model_field(model_field, direction=None)
            for key in ("readOnly", "description", "title", "default"):
                item.pop(key, None)
        label = model_field.verbose_name if model_field is not None else filter_field.label or name
        if filter_field.field.split:
            description = f"Rows whose {label} is one of these values, separated by commas."
            return query_array(name, item, description, explode=False)
        return query_array(name, item, f"Rows whose {label} is this value; repeat for several.", explode=True)


def query_array(name, item, description, explode):
    return build_parameter_type(
        name=name,
        location=OpenApiParameter.QUERY,
        schema=build_array_type(item),
        description=description,
        explode=explode,
        style="form",
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema with the conventions of `egiportal.api` (see the module docstring)."""

    # ---------------------------------------------------------------- helpers

    @property
    def portal(self):
        return isinstance(self.view, PortalViewSet)

    @property
    def action(self):
        return getattr(self.view, "action", None)

    def read_only_model(self):
        """True when the viewset keeps PortalViewSet's refusing save/delete (writes answer 405)."""
        return type(self.view).save_object is PortalViewSet.save_object

    # ---------------------------------------------------------------- operation ids and text

    def get_operation_id(self):
        if self.portal and self.action in BULK_ACTIONS:
            return "_".join([*(token.replace("-", "_") for token in self._tokenize_path()), self.action])
        return super().get_operation_id()

    def get_description(self):
        if self.portal and self.action in BULK_ACTIONS:
            return BULK_DESCRIPTIONS[self.action] + ALL_OR_NONE
        return super().get_description()

    # ---------------------------------------------------------------- parameters

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if not self.portal:
            return params
        if self.method == "GET":
            params += self.rendering_parameters()
        if self.method in ("PUT", "PATCH", "DELETE") and self.action != "bulk_destroy":
            params.append(
                OpenApiParameter(
                    "If-Match",
                    str,
                    OpenApiParameter.HEADER,
                    description="Only change the object if its ETag still is this value (or `*`); otherwise 412.",
                )
            )
        if self.action in ("retrieve", "update", "partial_update"):
            params.append(
                OpenApiParameter(
                    "ETag", str, OpenApiParameter.HEADER, response=[200], description="The object's version."
                )
            )
        return params

    def _resolve_path_parameters(self, variables):
        """The object id: a whole number (PortalViewSet.lookup_value_converter), not drf-spectacular's regex string."""
        params = super()._resolve_path_parameters(variables)
        if self.portal:
            for param in params:
                if param["in"] == OpenApiParameter.PATH:
                    label = self.view.queryset.model._meta.verbose_name
                    param["schema"] = {"type": "integer", "minimum": 0, "maximum": ID_MAX}
                    param["description"] = f"The {label}'s id."
        return params

    def rendering_parameters(self):
        """`brief`, `fields` and `omit` (PortalViewSet.get_serializer)."""
        serializer_class = self.view.get_serializer_class()
        names = list(serializer_class().fields)
        name_list = build_array_type({"type": "string", "enum": names})
        brief = ", ".join(serializer_class.Meta.brief_fields)
        return [
            OpenApiParameter(
                "brief",
                OpenApiTypes.BOOL,
                description=f"Render the short form of each object: {brief}.",
            ),
            OpenApiParameter(
                "fields",
                name_list,
                style="form",
                explode=False,
                description="Render only these fields (comma-separated).",
            ),
            OpenApiParameter(
                "omit", name_list, style="form", explode=False, description="Leave these fields out (comma-separated)."
            ),
        ]

    # ---------------------------------------------------------------- bodies

    def _get_request_body(self, direction="request"):
        if not self.portal or self.action not in BULK_ACTIONS | {"create"}:
            return super()._get_request_body(direction)
        if self.action == "bulk_destroy":
            item = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
            return {"content": {JSON: {"schema": bulk_list(item)}}, "required": True}
        body = super()._get_request_body(direction)
        one = body["content"][JSON]["schema"]
        if self.action == "create":
            schema = {"oneOf": [one, bulk_list(one)], "description": "One object, or a list of them (bulk create)."}
        else:
            with_id = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
            schema = bulk_list({"allOf": [one, with_id]})
        return {"content": {JSON: {"schema": schema}}, "required": True}

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.portal:
            if self.action in ("bulk_update", "bulk_partial_update"):
                for content in responses["200"]["content"].values():
                    if content["schema"].get("$ref"):
                        content["schema"] = build_array_type(content["schema"])
            elif self.action == "create":
                for content in responses["201"]["content"].values():
                    if content["schema"].get("$ref"):
                        content["schema"] = {"oneOf": [content["schema"], build_array_type(content["schema"])]}
        for code in self.error_codes():
            name, description = WRITE_CONFLICT if code == "409" and self.method != "DELETE" else ERRORS[code]
            responses[code] = {"content": self.error_content(name), "description": description}
            if code == "429":
                responses[code]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                }
        return responses

    def error_codes(self):
        """The error replies this operation can give."""
        write = self.method not in ("GET", "HEAD", "OPTIONS")
        codes = ["400", "401", "404", "429"]  # 404 also answers an unknown ?format
        if not self.portal:
            return codes
        if write:
            codes.append("403")
        if write and self.read_only_model():
            codes.append("405")
        if self.method == "DELETE" or (write and not self.read_only_model()):
            codes.append("409")  # a delete that other rows protect; a write that clashes with stored data
        if self.method in ("PUT", "PATCH", "DELETE") and self.action != "bulk_destroy":
            codes.append("412")
        return sorted(codes)

    def component(self, name):
        """A reference to one of COMPONENTS, registered on first use."""
        self.registry.register_on_missing(
            ResolvedComponent(name, ResolvedComponent.SCHEMA, schema=COMPONENTS[name], object=name)
        )
        return {"$ref": f"#/components/schemas/{name}"}

    def error_content(self, name):
        return {
            media: {"schema": self.component(name if media == JSON else "TextReply")}
            for media in self.map_renderers("media_type")
        }

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        for media, content in response.get("content", {}).items():
            if media != JSON:
                content["schema"] = self.component("TextReply")
        return response

    # ---------------------------------------------------------------- components

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        return "Brief" + name if getattr(serializer, "nested", False) else name

    def _map_basic_serializer(self, serializer, direction):
        """Our serializers' components: described by their model, and, in replies, without `pattern`s
        (they check input; stored values predate some of them) and, but for the brief form, without
        required fields (`?fields`/`?omit` may leave any out)."""
        serializer = force_instance(serializer)
        schema = super()._map_basic_serializer(serializer, direction)
        if not isinstance(serializer, BaseModelSerializer):
            return schema
        for prop in schema["properties"].values():
            if BLANK in prop.get("oneOf", ()):
                # drf-spectacular offers "" besides a pattern or format that may allow "" too: not exclusive.
                prop["anyOf"] = prop.pop("oneOf")
        label = serializer.Meta.model._meta.verbose_name
        own_doc = serializer.__class__.__dict__.get("__doc__")
        schema["description"] = (
            inspect.cleandoc(own_doc)
            if own_doc
            else f"One {label}" + (", in short form." if serializer.nested else ".")
        )
        if direction == "response":
            for prop in schema["properties"].values():
                drop_patterns(prop)
            if not serializer.nested:
                schema.pop("required", None)
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, PropertiesField):
            schema["description"] = "Custom properties of the object, as {key: value}."
        return schema


def drop_patterns(schema):
    """Remove `pattern` from a property schema and its alternatives (not from referenced components)."""
    schema.pop("pattern", None)
    for key in ("oneOf", "anyOf", "allOf"):
        for alternative in schema.get(key, ()):
            drop_patterns(alternative)
    if isinstance(schema.get("items"), dict):
        drop_patterns(schema["items"])


def bulk_list(item):
    return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_BULK}
