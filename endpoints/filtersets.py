"""FilterSets of services, endpoint locations and service types, shared by the browser lists and the API.

Unknown values (a site, NGI, type or status that does not exist, a flag that is not yes/no) make the
filterset invalid, so the list answers 400 instead of silently showing everything.
"""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from egiportal.filtersets import (
    BaseFilterSet,
    MultiValueTextWidget,
    PropertyFilter,
    StrictBooleanFilter,
    by_name,
    filter_without_duplicates,
    having_all,
)
from sites.choices import CertificationStatus
from sites.filtersets import ScopedFilterSet, ScopeMatch
from sites.models import NGI, Country, Site

from .choices import Classification, Severity
from .models import (
    Downtime,
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceGroup,
    ServiceGroupProperty,
    ServiceProperty,
    ServiceType,
)


class ServiceFilterSet(ScopedFilterSet):
    """Filters of the service list: where (site, NGI, country), what (type, flags), scopes, properties."""

    search_fields = ("hostname", "description", "url")
    site = by_name("site", Site.objects.all(), "short_name", "Site", typed=True)
    ngi = by_name("site__ngi", NGI.objects.all(), "name", "NGI", typed=True)
    country = by_name("site__country", Country.objects.all(), "code", "Country")
    service_type = by_name("service_type", ServiceType.objects.all(), "name", "Service type")
    production = StrictBooleanFilter(label="In production")
    monitored = StrictBooleanFilter(label="Monitored")
    beta = StrictBooleanFilter(label="Beta")
    certification_status = django_filters.MultipleChoiceFilter(
        field_name="site__certification_status", choices=CertificationStatus.choices, label="Site certification"
    )

    class Meta:
        model = Service
        fields = []


class EndpointLocationFilterSet(BaseFilterSet):
    """Filters of the endpoint list."""

    search_fields = ("name", "url", "description", "interface_name", "service__hostname")
    service_type = by_name("service__service_type", ServiceType.objects.all(), "name", "Service type")
    site = by_name("service__site", Site.objects.all(), "short_name", "Site", typed=True)
    monitored = StrictBooleanFilter(label="Monitored")
    property = PropertyFilter(label="Property", widget=MultiValueTextWidget(attrs={"placeholder": "key=value"}))

    class Meta:
        model = EndpointLocation
        fields = []


class ServiceTypeFilterSet(BaseFilterSet):
    search_fields = ("name", "description")
    monitoring_exception = StrictBooleanFilter(label="Exempt from monitoring")

    class Meta:
        model = ServiceType
        fields = []


# ISO 8601 in the query string; a date-time picker in the browser.
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"})


class DowntimeState:
    ONGOING = "ongoing"
    FUTURE = "future"
    PAST = "past"
    choices = [(ONGOING, "Ongoing"), (FUTURE, "Not started"), (PAST, "Ended")]


class DowntimeFilterSet(ScopedFilterSet):
    """Downtimes by site, NGI, severity, classification, state, time range, service type, service group,
    the scopes of their services (all/any) and the properties of their site."""

    search_fields = ("description", "primary_key", "site__short_name", "services__hostname")
    site = by_name("site", Site.objects.all(), "short_name", "Site", typed=True)
    ngi = by_name("site__ngi", NGI.objects.all(), "name", "NGI", typed=True)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    classification = django_filters.MultipleChoiceFilter(choices=Classification.choices)
    state = django_filters.ChoiceFilter(choices=DowntimeState.choices, method="filter_state", label="State")
    start_after = django_filters.IsoDateTimeFilter(
        field_name="start", lookup_expr="gte", label="Starts from (UTC)", widget=DATETIME_WIDGET
    )
    start_before = django_filters.IsoDateTimeFilter(
        field_name="start", lookup_expr="lt", label="Starts before (UTC)", widget=DATETIME_WIDGET
    )
    end_after = django_filters.IsoDateTimeFilter(
        field_name="end", lookup_expr="gte", label="Ends from (UTC)", widget=DATETIME_WIDGET
    )
    end_before = django_filters.IsoDateTimeFilter(
        field_name="end", lookup_expr="lt", label="Ends before (UTC)", widget=DATETIME_WIDGET
    )
    service_type = django_filters.ModelMultipleChoiceFilter(
        queryset=ServiceType.objects.all(), to_field_name="name", method="filter_service_type", label="Service type"
    )
    service_group = by_name(
        None, ServiceGroup.objects.all(), "name", "Service group", typed=True, method="filter_service_group"
    )
    property = None  # downtimes have no properties of their own; see site_property
    site_property = PropertyFilter(
        path="site__properties", label="Site property", widget=MultiValueTextWidget(attrs={"placeholder": "key=value"})
    )
    # The API's yes/no form of state=ongoing; hidden in the browser, whose sidebar offers `state`.
    ongoing = StrictBooleanFilter(method="filter_ongoing", label="Ongoing", widget=forms.HiddenInput)

    class Meta:
        model = Downtime
        fields = []

    def filter_state(self, qs, name, value):
        now = timezone.now()
        if value == DowntimeState.ONGOING:
            return qs.filter(start__lte=now, end__gt=now)
        if value == DowntimeState.FUTURE:
            return qs.filter(start__gt=now)
        if value == DowntimeState.PAST:
            return qs.filter(end__lte=now)
        return qs

    def filter_ongoing(self, qs, name, value):
        if value is None:
            return qs
        now = timezone.now()
        ongoing = Q(start__lte=now, end__gt=now)
        return qs.filter(ongoing if value else ~ongoing)

    def filter_service_type(self, qs, name, value):
        return filter_without_duplicates(qs, Q(services__service_type__in=value)) if value else qs

    def filter_service_group(self, qs, name, value):
        return filter_without_duplicates(qs, Q(services__service_groups__in=value)) if value else qs

    def filter_scope(self, qs, name, value):
        """A downtime matches when one of its services carries all (or any) of the scopes (§8)."""
        if not value:
            return qs
        ids = [s.pk for s in value]
        if self.form.cleaned_data.get("scope_match") == ScopeMatch.ANY:
            return self.filter_scope_any(qs, name, value)
        return filter_without_duplicates(qs, Q(services__in=having_all(Service, "scopes", ids)))

    def filter_scope_any(self, qs, name, value):
        """`scope__any`: one of the downtime's services carries one of the scopes."""
        if not value:
            return qs
        services = Service.objects.filter(scopes__in=[s.pk for s in value])
        return filter_without_duplicates(qs, Q(services__in=services.values("pk")))


class ServiceGroupFilterSet(ScopedFilterSet):
    """Service groups by name/description, monitoring flag, scopes, properties and member services."""

    search_fields = ("name", "description")
    site = by_name(None, Site.objects.all(), "short_name", "Has services of site", typed=True, method="filter_site")
    monitored = StrictBooleanFilter()

    class Meta:
        model = ServiceGroup
        fields = []

    def filter_site(self, qs, name, value):
        return filter_without_duplicates(qs, Q(services__site__in=value)) if value else qs


class PropertyFilterSet(BaseFilterSet):
    """Custom properties (API): by key, value and parent (`parent_id`), with `q` over keys and values."""

    search_fields = ("key", "value")


class ServicePropertyFilterSet(PropertyFilterSet):
    class Meta:
        model = ServiceProperty
        fields = []


class EndpointPropertyFilterSet(PropertyFilterSet):
    class Meta:
        model = EndpointProperty
        fields = []


class ServiceGroupPropertyFilterSet(PropertyFilterSet):
    class Meta:
        model = ServiceGroupProperty
        fields = []
