"""API representations of projects, NGIs, sites and scopes, certification changes and roles."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from egiportal.api.resources import UserSerializer as CoreUserSerializer
from egiportal.api.serializers import (
    BaseModelSerializer,
    FixedFieldsMixin,
    PropertiesField,
    RelatedField,
    UserBriefSerializer,
    api_url,
    property_serializer,
)

from ..choices import CertificationStatus, EntityKind
from ..models import NGI, CertificationStatusLog, Country, OwnedEntity, Project, Role, Scope, Site, SiteProperty
from ..roles import entity_models
from ..services import ROLE_RELATED


class ScopeSerializer(BaseModelSerializer):
    class Meta:
        model = Scope
        fields = ["id", "url", "display", "name", "description", "reserved", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name"]


class CountrySerializer(BaseModelSerializer):
    class Meta:
        model = Country
        fields = ["id", "display", "code", "name"]
        brief_fields = ["id", "code", "name"]


def scopes_field():
    return RelatedField(ScopeSerializer, "name", queryset=Scope.objects.all(), many=True, required=False)


class ProjectSerializer(BaseModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "url", "display", "name", "description", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name"]


class NGISerializer(BaseModelSerializer):
    scopes = scopes_field()
    projects = RelatedField(ProjectSerializer, "name", queryset=Project.objects.all(), many=True, required=False)

    class Meta:
        model = NGI
        fields = [
            "id", "url", "display", "name", "description", "email", "rod_email", "helpdesk_email",
            "security_email", "ggus_su", "scopes", "projects", "created", "last_updated",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "name"]


class SiteSerializer(BaseModelSerializer):
    name = serializers.CharField(source="short_name", max_length=255)
    ngi = RelatedField(NGISerializer, "name", queryset=NGI.objects.all())
    country = RelatedField(CountrySerializer, "code", queryset=Country.objects.all())
    scopes = scopes_field()
    properties = PropertiesField()

    class Meta:
        model = Site
        fields = [
            "id", "url", "display", "name", "official_name", "primary_key", "ngi", "country", "description",
            "home_url", "giis_url", "domain", "email", "telephone", "emergency_email", "emergency_tel",
            "alarm_email", "helpdesk_email", "csirt_email", "csirt_tel", "ip_range", "ipv6_range", "latitude",
            "longitude", "location", "timezone", "notify", "infrastructure", "certification_status", "scopes",
            "properties", "created", "last_updated",
        ]  # fmt: skip
        read_only_fields = ["primary_key", "certification_status"]
        brief_fields = ["id", "url", "display", "name"]


class CertificationChangeSerializer(FixedFieldsMixin, BaseModelSerializer):
    """A change of a site's certification status; POST one to change the status (§7.2)."""

    site = RelatedField(SiteSerializer, "short_name", queryset=Site.objects.all())
    # Checked by the service, with GOCDB's message (a ChoiceField would need ENUM_NAME_OVERRIDES for the
    # schema: the site's certification_status has the same choices).
    new_status = serializers.CharField(
        max_length=16, help_text=f"The new status: one of {', '.join(CertificationStatus.values)}."
    )

    class Meta:
        model = CertificationStatusLog
        fields = ["id", "url", "display", "site", "old_status", "new_status", "reason", "added_by", "added_date"]
        read_only_fields = ["old_status", "added_by", "added_date"]
        writable_fields = ["site", "new_status", "reason"]
        brief_fields = ["id", "url", "display", "new_status", "added_date"]


# The name that identifies each kind of entity, as in the browser and the PI.
ENTITY_NAME_FIELDS = {
    EntityKind.PROJECT: "name",
    EntityKind.NGI: "name",
    EntityKind.SITE: "short_name",
    EntityKind.SERVICEGROUP: "name",
}


class EntityField(serializers.Field):
    """The project, NGI, site or service group a role is held over.

    Shown as `{type, id, name, url}`; written as its id (entities share one id space) or as
    `{"type": ..., "id": ...}` / `{"type": ..., "name": ...}`.
    """

    default_error_messages = {
        "invalid": 'Give the entity\'s id, or {{"type": ..., "id": ...}} or {{"type": ..., "name": ...}}.',
        "type": "Unknown entity type {kind}; use one of project, ngi, site, servicegroup.",
        "missing": "No {label} matches {value}.",
    }

    def to_representation(self, entity):
        concrete = entity.concrete
        request = self.context.get("request")
        return {"type": entity.kind, "id": entity.pk, "name": str(concrete), "url": api_url(concrete, request)}

    def to_internal_value(self, data):
        """The concrete entity (a Project, NGI, Site or ServiceGroup)."""
        if isinstance(data, dict):
            return self.by_attributes(data)
        pk = as_id(data)
        if pk is None:
            self.fail("invalid")
        found = OwnedEntity.objects.filter(pk=pk).first()
        if found is None:
            self.fail("missing", label="project, NGI, site or service group", value=pk)
        return found.concrete

    def by_attributes(self, data):
        if set(data) not in ({"type", "id"}, {"type", "name"}):
            self.fail("invalid")
        kind = data["type"]
        if not isinstance(kind, str) or kind not in EntityKind.values:
            self.fail("type", kind=repr(str(kind)[:40]))
        model = entity_models()[kind]
        if "id" in data:
            value = as_id(data["id"])
            lookup = {"pk": value}
        else:
            value = data["name"]
            valid = isinstance(value, str) and 0 < len(value) <= 255 and "\x00" not in value
            lookup = {ENTITY_NAME_FIELDS[kind]: value if valid else None}
        if None in lookup.values():
            self.fail("invalid")
        found = model.objects.filter(**lookup).first()
        if found is None:
            self.fail("missing", label=model._meta.verbose_name, value=repr(str(value)[:60]))
        return found


def as_id(value):
    """An id from a number or a string of digits; None for anything else (booleans, negative or huge numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


class EntityFieldSchema(OpenApiSerializerFieldExtension):
    target_class = EntityField

    def map_serializer_field(self, auto_schema, direction):
        kinds = {"type": "string", "enum": list(EntityKind.values)}
        shown = {
            "type": "object",
            "properties": {
                "type": kinds,
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "url": {"type": "string", "format": "uri", "nullable": True},
            },
            "required": ["type", "id", "name", "url"],
        }
        if direction == "response":
            return shown
        by_id = {"type": kinds, "id": {"type": "integer", "minimum": 1}}
        by_name = {"type": kinds, "name": {"type": "string", "minLength": 1, "maxLength": 255}}
        objects = [
            {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
            for props in (by_id, by_name)
        ]
        return {"oneOf": [{"type": "integer", "minimum": 1}, *objects], "description": EntityField.__doc__}


class RoleSerializer(FixedFieldsMixin, BaseModelSerializer):
    """A role of a user over a project, NGI, site or service group, granted or pending. POST one to
    request it for yourself; an approver grants it (`approve/`)."""

    user = RelatedField(UserBriefSerializer, read_only=True)
    role_name = serializers.CharField(source="get_role_type_display", read_only=True)
    entity = EntityField(source="owned_entity")

    class Meta:
        model = Role
        fields = [
            "id", "url", "display", "user", "role_type", "role_name", "entity", "status", "created", "last_updated",
        ]  # fmt: skip
        read_only_fields = ["status"]
        writable_fields = ["role_type", "entity"]
        brief_fields = ["id", "url", "display", "role_type", "role_name", "entity", "status"]
        select_related = ROLE_RELATED  # str(role) names its user and entity


# A site's properties name their site by id or by name.
SitePropertySerializer = property_serializer(SiteProperty, SiteSerializer, "short_name")


class UserSerializer(CoreUserSerializer):
    """You: your name, contact details, linked identities, VO memberships and roles. Only first_name,
    last_name and telephone can be changed (PATCH); the rest comes from Check-in or from role decisions."""

    roles = RelatedField(RoleSerializer, read_only=True, many=True)

    class Meta(CoreUserSerializer.Meta):
        fields = [*CoreUserSerializer.Meta.fields, "roles"]
