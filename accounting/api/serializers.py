"""Serializers of the accounting API (accounting.md §1.2, §6): fields named as APEL's columns in snake_case,
durations in seconds, times as epoch seconds, decimals as exact JSON numbers and APEL's nulls (stored as "")
as null. `global_user_name` is null unless the caller may see per-user detail on that row: the viewset
annotates each row with `may_see_user` (one subquery for the whole list, not a query per row)."""

from decimal import Decimal

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from egiportal.api.serializers import BaseModelSerializer, RelatedField

from ..models import (
    AcceleratorRecord,
    AcceleratorSummary,
    CloudRecord,
    CloudSummary,
    IPRecord,
    IPSummary,
    RawMessage,
    StorageRecord,
    StorageSummary,
)

SITE = "sites.api.serializers.SiteSerializer"
PERSONAL = "global_user_name"
HIDDEN_COLUMNS = {"site", "vo_ref", "message", "from_records", "updated"}


class BlankAsNullField(serializers.CharField):
    """Text whose "" (APEL's None, NULL or empty) is shown as null."""

    def to_representation(self, value):
        return value or None


@extend_schema_field({"type": "integer", "nullable": True, "description": "Unix epoch seconds (UTC)."})
class EpochField(serializers.Field):
    """A date-time as whole Unix epoch seconds (UTC), as APEL carries them."""

    def to_representation(self, value):
        return int(value.timestamp())


class ExactDecimalField(serializers.DecimalField):
    """A decimal as a JSON number with exactly its stored digits.

    The JSON renderer writes a Decimal through float; every value of these columns (at most 13 significant
    digits) has a float whose shortest representation is the same decimal, so the number in the text is the
    stored one. Trailing zeros are dropped (but one decimal place kept), so CSV and XML show what JSON shows:
    4.000 is 4.0 and 12.500 is 12.5."""

    def __init__(self, **kwargs):
        kwargs["coerce_to_string"] = False
        super().__init__(**kwargs)

    def to_representation(self, value):
        value = Decimal(value)
        normal = value.normalize()
        return normal if normal.as_tuple().exponent < 0 else value.quantize(Decimal("0.0"))


class AccountingSerializer(BaseModelSerializer):
    """A read-only accounting row: `id`, `url`, the site (brief) and its name, then the model's columns."""

    display = None  # the columns are the row's identity; no made-up label
    site = RelatedField(SITE, read_only=True)
    site_name = serializers.CharField(source="site.short_name", read_only=True)

    serializer_field_mapping = {
        **BaseModelSerializer.serializer_field_mapping,
        models.CharField: BlankAsNullField,
        models.TextField: BlankAsNullField,
        models.DateTimeField: EpochField,
        models.DecimalField: ExactDecimalField,
    }

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_class is BlankAsNullField:
            kwargs["allow_null"] = True
        if field_class is EpochField:
            kwargs = {key: kwargs[key] for key in ("read_only", "required", "label", "help_text") if key in kwargs}
        return field_class, kwargs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if PERSONAL in data and not getattr(instance, "may_see_user", False):
            data[PERSONAL] = None
        return data


def columns(model, first=()):
    """`first`, then the model's other columns in their order (without the internal ones)."""
    names = [f.name for f in model._meta.concrete_fields if f.name not in HIDDEN_COLUMNS and f.name != "id"]
    return [*first, *(name for name in names if name not in first)]


def meta(model, fields, brief):
    return type("Meta", (), {"model": model, "fields": ["id", "url", "site", *fields], "read_only_fields": fields,
                             "brief_fields": ["id", "url", *brief], "select_related": ("site",)})  # fmt: skip


class CloudSummarySerializer(AccountingSerializer):
    """A month of cloud usage (APEL's CloudSummaries row): wall and CPU seconds within the month, memory and
    disk summed over the VMs of the group, earliest and latest start as epoch seconds."""

    Meta = meta(
        CloudSummary,
        [
            "site_name", "cloud_compute_service", "year", "month", "global_user_name", "vo", "vo_group", "vo_role",
            "status", "image_id", "cpu_count", "benchmark_type", "benchmark", "number_of_vms", "wall_duration",
            "cpu_duration", "network_inbound", "network_outbound", "memory", "disk", "earliest_start_time",
            "latest_start_time", "cloud_type",
        ],
        ["site_name", "year", "month", "vo"],
    )  # fmt: skip


class IPSummarySerializer(AccountingSerializer):
    """Public IPs of a month: the last snapshot's count and the most seen."""

    Meta = meta(IPSummary, columns(IPSummary, ["site_name", "year", "month"]), ["site_name", "year", "month", "vo"])


class AcceleratorSummarySerializer(AccountingSerializer):
    """Accelerator time of a month: seconds within the month, and Σ AvailableDuration × Count."""

    Meta = meta(
        AcceleratorSummary,
        columns(AcceleratorSummary, ["site_name", "year", "month"]),
        ["site_name", "year", "month", "vo"],
    )


class StorageSummarySerializer(AccountingSerializer):
    """Block storage of a month: the volumes' latest sizes summed, in bytes."""

    Meta = meta(
        StorageSummary, columns(StorageSummary, ["site_name", "year", "month"]), ["site_name", "year", "month", "vo"]
    )


RECORD_FIRST = ["site_name", "measurement_year", "measurement_month"]
RECORD_BRIEF = ["site_name", "measurement_year", "measurement_month", "vo"]


class CloudRecordSerializer(AccountingSerializer):
    """A VM's cumulative usage snapshot of a month (APEL's CloudRecords row)."""

    Meta = meta(
        CloudRecord, columns(CloudRecord, ["site_name", "vm_uuid", *RECORD_FIRST[1:]]), ["vm_uuid", *RECORD_BRIEF]
    )


class IPRecordSerializer(AccountingSerializer):
    """A public IP count snapshot of a project (or user) in a month."""

    Meta = meta(IPRecord, columns(IPRecord, RECORD_FIRST), RECORD_BRIEF)


class AcceleratorRecordSerializer(AccountingSerializer):
    """Accelerator time of one VM in one month."""

    Meta = meta(AcceleratorRecord, columns(AcceleratorRecord, RECORD_FIRST), RECORD_BRIEF)


class StorageRecordSerializer(AccountingSerializer):
    """A block volume's size at a time."""

    Meta = meta(StorageRecord, columns(StorageRecord, ["site_name", "record_id", *RECORD_FIRST[1:]]), RECORD_BRIEF)


class RawMessageSerializer(BaseModelSerializer):
    """A message as it arrived: accepted, or rejected with the reason (its body on the detail only)."""

    site = RelatedField(SITE, read_only=True)
    # Plain text rather than enums: their names would clash with other apps' `kind`, `state` and `source`.
    kind = serializers.CharField(read_only=True, help_text="cloud, cloud_summary, ip, accelerator or storage.")
    state = serializers.CharField(read_only=True, help_text="accepted or rejected.")
    source = serializers.CharField(read_only=True, help_text="http or dirq.")

    class Meta:
        model = RawMessage
        fields = [
            "id", "url", "display", "received", "kind", "state", "record_count", "error", "message_id", "site",
            "source", "sender",
        ]  # fmt: skip
        read_only_fields = fields
        brief_fields = ["id", "url", "display", "received", "kind", "state"]


class RawMessageDetailSerializer(RawMessageSerializer):
    """A message as it arrived, with its body as received."""

    class Meta(RawMessageSerializer.Meta):
        fields = [*RawMessageSerializer.Meta.fields, "sha256", "body"]
        read_only_fields = fields
