"""Filters of the accounting tables, one FilterSet per model, for the REST API (and the browser where it fits).

Every table filters by site (name), NGI, country, VO (a list), year, month and a month range (`from`/`to`,
YYYY-MM); unknown sites, NGIs and countries, impossible months and a range that ends before it starts are
400s. `global_user_name` is per-user data: filtering on it is refused (400) to callers who may see it on no
row, and for the others it only matches rows on which they may see it, so that a filter cannot tell whether
someone used a site or VO the caller has no say on.
"""

import re

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from egiportal.filtersets import BaseFilterSet, HiddenNameListWidget, ListField, ListFilter, by_name
from sites.models import NGI, Country, Site

from .choices import MessageKind, MessageState
from .models import (
    DETAIL,
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

MONTH = re.compile(r"(\d{4})-(\d{1,2})")
MAX_TEXT = 255  # no stored text is longer: a longer value is a 400, not a scan for nothing
MAX_VALUES = 100  # values of one list filter


class MonthField(forms.CharField):
    """A month as YYYY-MM (or YYYY-M), cleaned to (year, month)."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        match = MONTH.fullmatch(value.strip())
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
            raise ValidationError(f"{value[:20]!r} is not a month as YYYY-MM (1970-01 or later).")
        return int(match[1]), int(match[2])


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{1,2}$", "example": "2024-03"})
class MonthFilter(django_filters.Filter):
    """Rows of this month or later (`lookup_expr` gte) or earlier (lte): `field_name` is the model's year,
    `month_field` its month."""

    field_class = MonthField

    def __init__(self, *args, month_field="month", **kwargs):
        self.month_field = month_field
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        year_field, month_field = self.field_name, self.month_field
        year, month = value
        step = "gt" if self.lookup_expr == "gte" else "lt"
        return qs.filter(
            Q(**{f"{year_field}__{step}": year}) | Q(**{year_field: year, f"{month_field}__{self.lookup_expr}": month})
        )


class TextListField(ListField):
    """A list of text values (repeated or comma-separated), each at most MAX_TEXT characters."""

    widget = HiddenNameListWidget

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("base", forms.CharField(max_length=MAX_TEXT))
        super().__init__(*args, **kwargs)

    def clean(self, value):
        values = super().clean(value)
        if len(values) > MAX_VALUES:
            raise ValidationError(f"At most {MAX_VALUES} values.")
        return values


class TextListFilter(ListFilter):
    field_class = TextListField


def year_filter(field_name):
    base = forms.IntegerField(min_value=1970, max_value=9999)
    return ListFilter(field_name=field_name, base=base, split=True, label="Year", widget=HiddenNameListWidget)


def month_filter(field_name):
    base = forms.IntegerField(min_value=1, max_value=12)
    return ListFilter(field_name=field_name, base=base, split=True, label="Month", widget=HiddenNameListWidget)


class AccountingFilterSet(BaseFilterSet):
    """The filters every accounting table has. `year_field`/`month_field` name the model's month."""

    year_field = "year"
    month_field = "month"
    personal = ("global_user_name",)

    site = by_name("site", Site.objects.all(), "short_name", "Site", typed=True)
    ngi = by_name("site__ngi", NGI.objects.all(), "name", "NGI", typed=True)
    country = by_name("site__country", Country.objects.all(), "code", "Country")
    vo = TextListFilter(field_name="vo", label="VO")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.personal_given = sorted(
            name
            for name, f in self.filters.items()
            if f.field_name.split("__")[0] in self.personal and name in (self.data or ())
        )

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        # `from` and `to` cannot be class attributes (`from` is a keyword).
        month = {"field_name": cls.year_field, "month_field": cls.month_field}
        filters["from"] = MonthFilter(lookup_expr="gte", label="From month (YYYY-MM)", **month)
        filters["to"] = MonthFilter(lookup_expr="lte", label="To month (YYYY-MM)", **month)
        filters["year"] = year_filter(cls.year_field)
        filters["month"] = month_filter(cls.month_field)
        return filters

    def is_valid(self):
        """Also refuses `from` after `to`, and a per-user filter from who may see per-user data nowhere."""
        valid = super().is_valid()
        data = getattr(self.form, "cleaned_data", {})
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.form.errors["to"] = self.form.error_class(["The range ends before it starts (from is after to)."])
            valid = False
        if self.personal_given and not self.detail_rows().exists():
            for name in self.personal_given:
                self.form.errors[name] = self.form.error_class(["Filtering on per-user data needs a role."])
            valid = False
        return valid

    def detail_rows(self):
        return self._meta.model.objects.visible_to(getattr(self.request, "user", None), DETAIL)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if any(self.form.cleaned_data.get(name) for name in self.personal_given):
            # Only rows whose per-user data the caller may see can match a per-user filter.
            queryset = queryset.filter(pk__in=self.detail_rows().values("pk"))
        return queryset


class RecordFilterSet(AccountingFilterSet):
    year_field = "measurement_year"
    month_field = "measurement_month"


class CloudSummaryFilterSet(AccountingFilterSet):
    search_fields = ("vo", "image_id", "cloud_compute_service")
    status = TextListFilter(field_name="status")
    image_id = TextListFilter(field_name="image_id")
    cloud_compute_service = TextListFilter(field_name="cloud_compute_service")

    class Meta:
        model = CloudSummary
        fields = []


class IPSummaryFilterSet(AccountingFilterSet):
    search_fields = ("vo",)

    class Meta:
        model = IPSummary
        fields = []


class AcceleratorSummaryFilterSet(AccountingFilterSet):
    search_fields = ("vo", "model")

    class Meta:
        model = AcceleratorSummary
        fields = []


class StorageSummaryFilterSet(AccountingFilterSet):
    search_fields = ("vo",)

    class Meta:
        model = StorageSummary
        fields = []


class CloudRecordFilterSet(RecordFilterSet):
    search_fields = ("vm_uuid", "machine_name", "vo", "image_id")
    status = TextListFilter(field_name="status")
    image_id = TextListFilter(field_name="image_id")
    cloud_compute_service = TextListFilter(field_name="cloud_compute_service")

    class Meta:
        model = CloudRecord
        fields = []


class IPRecordFilterSet(RecordFilterSet):
    search_fields = ("vo", "local_group")

    class Meta:
        model = IPRecord
        fields = []


class AcceleratorRecordFilterSet(RecordFilterSet):
    search_fields = ("vo", "associated_record", "model")

    class Meta:
        model = AcceleratorRecord
        fields = []


class StorageRecordFilterSet(RecordFilterSet):
    search_fields = ("vo", "record_id")

    class Meta:
        model = StorageRecord
        fields = []


class RawMessageFilterSet(BaseFilterSet):
    """Filters of the raw messages a site sent (their bodies are not searched)."""

    search_fields = ("message_id", "error")
    site = by_name("site", Site.objects.all(), "short_name", "Site", typed=True)
    kind = django_filters.MultipleChoiceFilter(choices=MessageKind.choices)
    state = django_filters.MultipleChoiceFilter(choices=MessageState.choices)
    received_after = django_filters.IsoDateTimeFilter(field_name="received", lookup_expr="gte", label="From")
    received_before = django_filters.IsoDateTimeFilter(field_name="received", lookup_expr="lt", label="Until")

    class Meta:
        model = RawMessage
        fields = []
