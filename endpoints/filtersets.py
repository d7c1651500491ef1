"""FilterSets of services, endpoint locations and service types, shared by the browser lists and the API.

Unknown values (a site, NGI, type or status that does not exist, a flag that is not yes/no) make the
filterset invalid, so the list answers 400 instead of silently showing everything.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from egiportal.filtersets import BaseFilterSet, MultiValueTextWidget, PropertyFilter, ScopedFilterSet
from sites.choices import CertificationStatus
from sites.models import NGI, Country, Site

from .models import EndpointLocation, Service, ServiceType


class YesNoField(forms.Field):
    """A tri-state flag: empty (any), yes or no. Anything else is an error, not "any"."""

    widget = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
    VALUES = {
        **dict.fromkeys(("true", "yes", "y", "1", "on"), True),
        **dict.fromkeys(("false", "no", "n", "0", "off"), False),
    }

    def clean(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise ValidationError(f"{str(value)[:40]!r} is not one of yes, no, true, false.") from None


class YesNoFilter(django_filters.Filter):
    field_class = YesNoField

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.filter(**{self.field_name: value})


def _by_name(path, queryset, to_field_name, label, distinct=False):
    """Multi-select by a natural key; django-filter compares `getattr(choice, to_field_name)` with the
    field, so the field path must end in that key too (site__short_name, not site)."""
    return django_filters.ModelMultipleChoiceFilter(
        field_name=f"{path}__{to_field_name}",
        queryset=queryset,
        to_field_name=to_field_name,
        label=label,
        distinct=distinct,
    )


class ServiceFilterSet(ScopedFilterSet):
    """Filters of the service list: where (site, NGI, country), what (type, flags), scopes, properties."""

    search_fields = ("hostname", "description", "url")
    site = _by_name("site", Site.objects.all(), "short_name", "Site")
    ngi = _by_name("site__ngi", NGI.objects.all(), "name", "NGI")
    country = _by_name("site__country", Country.objects.all(), "code", "Country")
    service_type = _by_name("service_type", ServiceType.objects.all(), "name", "Service type")
    production = YesNoFilter(label="In production")
    monitored = YesNoFilter(label="Monitored")
    beta = YesNoFilter(label="Beta")
    certification_status = django_filters.MultipleChoiceFilter(
        field_name="site__certification_status", choices=CertificationStatus.choices, label="Site certification"
    )

    class Meta:
        model = Service
        fields = []


class EndpointLocationFilterSet(BaseFilterSet):
    """Filters of the endpoint list."""

    search_fields = ("name", "url", "description", "interface_name", "service__hostname")
    service_type = _by_name("service__service_type", ServiceType.objects.all(), "name", "Service type")
    site = _by_name("service__site", Site.objects.all(), "short_name", "Site")
    monitored = YesNoFilter(label="Monitored")
    property = PropertyFilter(label="Property", widget=MultiValueTextWidget(attrs={"placeholder": "key=value"}))

    class Meta:
        model = EndpointLocation
        fields = []


class ServiceTypeFilterSet(BaseFilterSet):
    search_fields = ("name", "description")
    monitoring_exception = YesNoFilter(label="Exempt from monitoring")

    class Meta:
        model = ServiceType
        fields = []
