"""FilterSets of downtimes and service groups (browser lists; reusable by the API and the PI)."""

import django_filters
from django import forms
from django.db.models import Count, Q
from django.utils import timezone

from egiportal.filtersets import MultiValueTextWidget, PropertyFilter, ScopedFilterSet, ScopeMatch
from sites.models import NGI, Site, SiteProperty

from .choices import Classification, Severity
from .models import Downtime, Service, ServiceGroup, ServiceType

# ISO 8601 in the query string; a date-time picker in the browser.
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"})


class DowntimeState:
    ONGOING = "ongoing"
    FUTURE = "future"
    PAST = "past"
    choices = [(ONGOING, "Ongoing"), (FUTURE, "Not started"), (PAST, "Ended")]


class SitePropertyFilter(PropertyFilter):
    """key=value (or bare key) on the custom properties of the downtime's site."""

    def filter(self, qs, value):
        for key, val in value or []:
            condition = Q(key=key) if val is None else Q(key=key, value=val)
            qs = qs.filter(site__in=SiteProperty.objects.filter(condition).values("parent"))
        return qs


def _subquery_filter(qs, condition):
    """Filter through a to-many join without duplicating rows."""
    return qs.filter(pk__in=qs.model.objects.filter(condition).values("pk"))


class DowntimeFilterSet(ScopedFilterSet):
    """Downtimes by site, NGI, severity, classification, state, time range, service type, service group,
    the scopes of their services (all/any) and the properties of their site."""

    search_fields = ("description", "primary_key", "site__short_name", "services__hostname")
    # to_field_name makes django-filter compare that field, so field_name must point at it too.
    site = django_filters.ModelMultipleChoiceFilter(
        field_name="site__short_name", queryset=Site.objects.all(), to_field_name="short_name"
    )
    ngi = django_filters.ModelMultipleChoiceFilter(
        field_name="site__ngi__name", queryset=NGI.objects.all(), to_field_name="name", label="NGI"
    )
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
    service_group = django_filters.ModelMultipleChoiceFilter(
        queryset=ServiceGroup.objects.all(), to_field_name="name", method="filter_service_group"
    )
    property = None  # downtimes have no properties of their own; see site_property
    site_property = SitePropertyFilter(
        label="Site property", widget=MultiValueTextWidget(attrs={"placeholder": "key=value"})
    )

    class Meta:
        model = Downtime
        fields = []

    def search(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return _subquery_filter(qs, condition)

    def filter_state(self, qs, name, value):
        now = timezone.now()
        if value == DowntimeState.ONGOING:
            return qs.filter(start__lte=now, end__gt=now)
        if value == DowntimeState.FUTURE:
            return qs.filter(start__gt=now)
        if value == DowntimeState.PAST:
            return qs.filter(end__lte=now)
        return qs

    def filter_service_type(self, qs, name, value):
        return _subquery_filter(qs, Q(services__service_type__in=value)) if value else qs

    def filter_service_group(self, qs, name, value):
        return _subquery_filter(qs, Q(services__service_groups__in=value)) if value else qs

    def filter_scope(self, qs, name, value):
        """A downtime matches when one of its services carries all (or any) of the scopes (§8)."""
        if not value:
            return qs
        ids = [s.pk for s in value]
        services = Service.objects.filter(scopes__in=ids)
        if self.form.cleaned_data.get("scope_match") != ScopeMatch.ANY:
            services = services.values("pk").annotate(n=Count("scopes", distinct=True)).filter(n=len(ids))
        return _subquery_filter(qs, Q(services__in=services.values("pk")))


class ServiceGroupFilterSet(ScopedFilterSet):
    """Service groups by name/description, monitoring flag, scopes, properties and member services."""

    search_fields = ("name", "description")
    site = django_filters.ModelMultipleChoiceFilter(
        queryset=Site.objects.all(), to_field_name="short_name", method="filter_site", label="Has services of site"
    )
    # A choice filter, not a BooleanFilter: that one silently ignores values such as "perhaps".
    monitored = django_filters.TypedChoiceFilter(
        choices=[("true", "Yes"), ("false", "No")], coerce=lambda value: value == "true"
    )

    class Meta:
        model = ServiceGroup
        fields = []

    def filter_site(self, qs, name, value):
        return _subquery_filter(qs, Q(services__site__in=value)) if value else qs
