"""API representations of the marketplace: appliances, their versions, images and integrity checks, VO
image lists with the state of each entry, and the signed artefacts published from them.

Fields the services or the integrity check own (state, status, size, sha512, guid, published, ...) are
read-only; writes only check shapes here and go through appliances.services (egiportal.api.viewsets)."""

import json
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from egiportal.api.resources import VirtualOrganisationSerializer
from egiportal.api.serializers import BaseModelSerializer, FixedFieldsMixin, RelatedField, UserBriefSerializer

from ..choices import EntryState
from ..models import (
    ApplianceVersion,
    Category,
    Image,
    IntegrityJob,
    ListSubscriber,
    PublishedArtefact,
    VirtualAppliance,
    VOImageList,
)


class CategorySerializer(BaseModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "display", "name"]
        brief_fields = ["id", "display", "name"]


class ApplianceSerializer(BaseModelSerializer):
    """A virtual appliance. Anyone logged in may create one and becomes its owner; its owner and contacts
    (co-authors, given by username) may change it. DELETE marks it deleted: lists that hold it say so."""

    categories = RelatedField(CategorySerializer, "name", queryset=Category.objects.all(), many=True, required=False)
    owner = RelatedField(UserBriefSerializer, read_only=True)
    contacts = RelatedField(
        UserBriefSerializer, "username", queryset=get_user_model().objects.all(), many=True, required=False
    )
    has_logo = serializers.SerializerMethodField()

    class Meta:
        model = VirtualAppliance
        fields = [
            "id", "url", "display", "name", "title", "description", "homepage", "categories", "owner", "contacts",
            "has_logo", "guid", "deleted", "created", "last_updated",
        ]  # fmt: skip
        read_only_fields = ["guid", "deleted"]
        brief_fields = ["id", "url", "display", "name"]

    def get_has_logo(self, appliance) -> bool:
        return bool(appliance.logo_type)

    def hidden_personal_fields(self):
        """The owner is as personal as the contacts (the model's personal_fields): both or neither."""
        hidden = super().hidden_personal_fields()
        return (*hidden, "owner") if hidden else ()

    def validate_name(self, name):
        if self.instance is not None and name != self.instance.name:
            # The name is in the store URL that sites subscribe to (/store/vappliance/<name>/image.list).
            raise serializers.ValidationError("An appliance's name cannot change: sites subscribe to it.")
        return name


class ImageBriefSerializer(BaseModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "url", "display", "guid", "format", "arch"]
        brief_fields = ["id", "url", "display", "guid", "format", "arch"]


class VersionSerializer(BaseModelSerializer):
    """A version of an appliance. Only the working version can be changed; an expiry more than a year ahead
    is set to one year (said in `warnings`); a version string is never used twice by an appliance.
    `verify/` starts an integrity check, `publish/` releases a verified version."""

    appliance = RelatedField(ApplianceSerializer, "name", queryset=VirtualAppliance.objects.all())
    images = RelatedField(ImageBriefSerializer, read_only=True, many=True)
    published_by = RelatedField(UserBriefSerializer, read_only=True)
    expires = serializers.DateTimeField(required=False, help_text="At most one year ahead; one year when not given.")
    warnings = serializers.SerializerMethodField(
        help_text="What the write just made changed in what was asked (e.g. a clamped expiry); empty on reads."
    )

    class Meta:
        model = ApplianceVersion
        fields = [
            "id", "url", "display", "appliance", "version", "guid", "notes", "state", "status", "expires",
            "published", "published_by", "archived", "images", "warnings", "created", "last_updated",
        ]  # fmt: skip
        read_only_fields = ["guid", "state", "status", "published", "archived"]
        brief_fields = ["id", "url", "display", "version", "state", "status"]
        select_related = ("appliance",)  # str(version) names its appliance

    def get_warnings(self, version) -> list[str]:
        return self.context.get("warnings", {}).get(version.pk, [])

    def validate_appliance(self, appliance):
        if self.instance is not None and appliance.pk != self.instance.appliance_id:
            raise serializers.ValidationError("A version cannot move to another appliance.")
        return appliance


class ImageSerializer(BaseModelSerializer):
    """An image of a version: one file at `url` (http or https) with its metadata. `size`, `sha512` and
    `verified` are what the integrity check found; `declared_sha512`, when given, must match it."""

    version = RelatedField(VersionSerializer, queryset=ApplianceVersion.objects.all())

    class Meta:
        model = Image
        fields = [
            "id", "url", "display", "version", "guid", "title", "description", "notes", "image_url", "format",
            "declared_size", "declared_sha512", "size", "sha512", "verified", "arch", "os_family", "os_name",
            "os_version", "hypervisors", "ram_minimum", "ram_recommended", "cores_minimum", "cores_recommended",
            "accelerator_type", "accelerators_minimum", "accelerators_recommended", "network_rules",
            "context_formats", "created", "last_updated",
        ]  # fmt: skip
        # `url` is every object's API link: the image file's URL is `image_url`.
        extra_kwargs = {"image_url": {"source": "url"}}
        read_only_fields = ["guid", "size", "sha512", "verified"]
        brief_fields = ["id", "url", "display", "guid", "format", "arch"]
        select_related = ("version__appliance",)  # an untitled image's display names its appliance

    def build_field(self, field_name, info, model_class, nested_depth):
        if field_name == "image_url":
            return self.build_standard_field("url", info.fields["url"])
        return super().build_field(field_name, info, model_class, nested_depth)

    def validate_version(self, version):
        if self.instance is not None and version.pk != self.instance.version_id:
            raise serializers.ValidationError("An image cannot move to another version.")
        return version


class IntegrityJobSerializer(BaseModelSerializer):
    """An integrity check of a version: its state, per-image progress (by image id: state, bytes done,
    total, error) and, when it failed, why. `cancel/` asks a running check to stop."""

    version = RelatedField(VersionSerializer, read_only=True)
    requested_by = RelatedField(UserBriefSerializer, read_only=True)
    progress = serializers.JSONField(read_only=True)

    class Meta:
        model = IntegrityJob
        fields = [
            "id", "url", "display", "version", "state", "publish", "requested_by", "created", "started",
            "finished", "attempts", "cancel_requested", "progress", "error",
        ]  # fmt: skip
        read_only_fields = fields
        brief_fields = ["id", "url", "display", "state"]
        select_related = ("version__appliance",)


class VerifyRequestSerializer(serializers.Serializer):
    publish = serializers.BooleanField(default=False, help_text="Publish the version when the check succeeds.")


ENTRY_ORDER = list(EntryState.values)


def current_of(entry):
    """The published version of an entry's appliance, as annotated by appliances.api.views.with_entries."""
    pk = getattr(entry, "current_pk", None)
    return SimpleNamespace(pk=pk, version=entry.current_version) if pk is not None else None


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "appliance": {"type": "string"},
                "appliance_title": {"type": "string"},
                "version": {"type": "string"},
                "image": {"type": "integer"},
                "image_guid": {"type": "string", "format": "uuid"},
                "state": {"type": "string", "enum": ENTRY_ORDER},
                "current_version": {"type": "string", "nullable": True},
            },
            "required": ["id", "appliance", "version", "image", "state"],
        },
    }
)
class EntriesField(serializers.Field):
    """A list's entries, worst state first (as publishing.entry_rows orders them), each with its state
    against its appliance's published version. The viewset prefetches the entries with that version."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, image_list):
        rows = []
        for entry in image_list.entries.all():
            current = current_of(entry)
            version = entry.image.version
            state = entry.state(current)
            rows.append(
                {
                    "id": entry.pk,
                    "appliance": version.appliance.name,
                    "appliance_title": version.appliance.title,
                    "version": version.version,
                    "image": entry.image_id,
                    "image_guid": str(entry.image.guid),
                    "state": state,
                    "current_version": current.version if current is not None else None,
                    "_order": (ENTRY_ORDER.index(state), version.appliance.title, entry.image_id),
                }
            )
        rows.sort(key=lambda row: row["_order"])
        for row in rows:
            del row["_order"]
        return rows


@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
class SummaryField(EntriesField):
    """How many entries are in each state ("N entries outdated")."""

    def to_representation(self, image_list):
        counts = dict.fromkeys(ENTRY_ORDER, 0)
        for row in super().to_representation(image_list):
            counts[row["state"]] += 1
        return counts


class VOImageListSerializer(FixedFieldsMixin, BaseModelSerializer):
    """A VO-wide image list: the draft its managers curate (visible to them only), the published one sites
    subscribe to, or an obsolete one published before."""

    vo = RelatedField(VirtualOrganisationSerializer, read_only=True)
    published_by = RelatedField(UserBriefSerializer, read_only=True)
    identifier = serializers.UUIDField(read_only=True, help_text="The list's dc:identifier (never changes).")
    entries = EntriesField()
    summary = SummaryField()

    class Meta:
        model = VOImageList
        fields = [
            "id", "url", "display", "vo", "state", "private", "version", "identifier", "published",
            "published_by", "summary", "entries", "created", "last_updated",
        ]  # fmt: skip
        read_only_fields = fields
        writable_fields = []
        brief_fields = ["id", "url", "display", "state", "version"]
        select_related = ("vo",)


class AddEntrySerializer(serializers.Serializer):
    appliance = serializers.CharField(max_length=100, help_text="The appliance's name.")


class UpdateOutdatedSerializer(serializers.Serializer):
    updated = serializers.ListField(child=serializers.CharField(), help_text="The appliances updated.")
    skipped = serializers.DictField(child=serializers.CharField(), help_text="Appliances left as they were, and why.")
    draft = VOImageListSerializer()


class ArtefactSerializer(BaseModelSerializer):
    """A signed HEPiX image list as it was published, kept for ever. `store_url` is where sites download
    the list (the newest artefact of it); a VO's private artefacts are listed to its members only."""

    vo = RelatedField(VirtualOrganisationSerializer, read_only=True)
    appliance = RelatedField(ApplianceSerializer, read_only=True)
    published_by = RelatedField(UserBriefSerializer, read_only=True)
    store_url = serializers.SerializerMethodField()

    class Meta:
        model = PublishedArtefact
        fields = [
            "id", "url", "display", "vo", "appliance", "version", "identifier", "private", "sha256", "signer_dn",
            "signer_ca", "image_count", "store_url", "published_by", "created",
        ]  # fmt: skip
        read_only_fields = fields
        brief_fields = ["id", "url", "display", "version", "store_url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_store_url(self, artefact):
        return store_url(artefact, self.context.get("request"))


def store_url(artefact, request=None):
    """The store URL of the list an artefact belongs to (VO or appliance)."""
    if artefact.vo_id:
        path = reverse("store_vo_list", args=[artefact.vo.name])
    else:
        path = reverse("store_appliance_list", args=[artefact.appliance.name])
    return request.build_absolute_uri(path) if request is not None else path


class ArtefactDetailSerializer(ArtefactSerializer):
    """A signed HEPiX image list as it was published, with its document (the signed JSON)."""

    document = serializers.SerializerMethodField()

    class Meta(ArtefactSerializer.Meta):
        fields = [*ArtefactSerializer.Meta.fields, "document"]
        read_only_fields = fields

    def get_document(self, artefact) -> dict:
        return json.loads(artefact.document)


class PublishedSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The list's new hv:version.")
    store_url = serializers.URLField(help_text="Where sites download it.")
    artefact = ArtefactSerializer()


class DraftChangeSerializer(serializers.Serializer):
    private = serializers.BooleanField(help_text="Sites need a subscriber token to download the published list.")


class SubscriberSerializer(serializers.ModelSerializer):
    """A subscriber token of a VO's private list: its secret is shown once, in the reply that issues it."""

    class Meta:
        model = ListSubscriber
        fields = ["id", "name", "prefix", "created", "last_used", "revoked"]
        read_only_fields = ["id", "prefix", "created", "last_used", "revoked"]


class IssuedSubscriberSerializer(SubscriberSerializer):
    secret = serializers.SerializerMethodField(help_text="Shown once: send it as the HTTP Basic user name.")

    class Meta(SubscriberSerializer.Meta):
        fields = [*SubscriberSerializer.Meta.fields, "secret"]
        read_only_fields = [*SubscriberSerializer.Meta.read_only_fields, "secret"]

    def get_secret(self, subscriber) -> str:
        return self.context["secret"]
