import django_filters
from django import forms

from egiportal.filtersets import (
    INT64_MAX,
    BaseFilterSet,
    HiddenNameListWidget,
    ListFilter,
    MultiValueTextWidget,
    PropertyFilter,
    ScopeNamesFilter,
    by_name,
    having_all,
)

from .choices import CertificationStatus, EntityKind, Infrastructure
from .models import NGI, CertificationStatusLog, Country, Project, Role, Scope, Site, SiteProperty


class ScopeMatch:
    """How several `scope` filters combine."""

    ALL = "all"
    ANY = "any"
    choices = [(ALL, "all selected"), (ANY, "any selected")]


class ScopedFilterSet(BaseFilterSet):
    """Adds `scope` (repeatable) with `scope_match` = all (default) or any, and `property`."""

    scope = ScopeNamesFilter(queryset=Scope.objects.all(), to_field_name="name", method="filter_scope", label="Scope")
    scope_match = django_filters.ChoiceFilter(
        choices=ScopeMatch.choices, method="noop", label="Scope match", empty_label=None
    )
    property = PropertyFilter(label="Property", widget=MultiValueTextWidget(attrs={"placeholder": "key=value"}))
    # The API's "any of these scopes" (repeatable or comma-separated); hidden in the browser's sidebar.
    scope__any = ScopeNamesFilter(
        queryset=Scope.objects.all(),
        to_field_name="name",
        method="filter_scope_any",
        label="Any scope",
        widget=HiddenNameListWidget,
    )

    def noop(self, qs, name, value):
        return qs

    def filter_scope_any(self, qs, name, value):
        if not value:
            return qs
        return qs.filter(pk__in=qs.model.objects.filter(scopes__in=[s.pk for s in value]).values("pk"))

    def filter_scope(self, qs, name, value):
        if not value:
            return qs
        ids = [s.pk for s in value]
        if self.form.cleaned_data.get("scope_match") == ScopeMatch.ANY:
            return qs.filter(pk__in=qs.model.objects.filter(scopes__in=ids).values("pk"))
        return qs.filter(pk__in=having_all(qs.model, "scopes", ids))


class ProjectFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Project
        fields = []


class NGIFilterSet(ScopedFilterSet):
    search_fields = ("name", "description")
    project = by_name("projects", Project.objects.all(), "name", "Project", distinct=True)
    property = None  # NGIs have no custom properties: ScopedFilterSet's filter would be a 500

    class Meta:
        model = NGI
        fields = []


class SiteFilterSet(ScopedFilterSet):
    search_fields = ("short_name", "official_name", "domain", "description")
    ngi = by_name("ngi", NGI.objects.all(), "name", "NGI", typed=True)
    country = by_name("country", Country.objects.all(), "code", "Country")
    certification_status = django_filters.MultipleChoiceFilter(choices=CertificationStatus.choices)
    infrastructure = django_filters.MultipleChoiceFilter(choices=Infrastructure.choices, label="Production status")
    project = by_name("ngi__projects", Project.objects.all(), "name", "Project", distinct=True)
    name = ListFilter(field_name="short_name", base=forms.CharField(max_length=255), label="Name")  # the API's name

    class Meta:
        model = Site
        fields = ["notify"]


class ScopeFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Scope
        fields = ["reserved"]


class SitePropertyFilterSet(BaseFilterSet):
    """Custom properties of sites (API): by site name (`parent`) or id (`parent_id`), key and value."""

    search_fields = ("key", "value")
    parent = by_name("parent", Site.objects.all(), "short_name", "Site", typed=True)

    class Meta:
        model = SiteProperty
        fields = []


class CertificationStatusLogFilterSet(BaseFilterSet):
    """Certification status changes (API): by site name (`site`) or id (`site_id`), statuses and date."""

    search_fields = ("reason", "added_by")
    site = by_name("site", Site.objects.all(), "short_name", "Site", typed=True)
    ngi = by_name("site__ngi", NGI.objects.all(), "name", "NGI", typed=True)
    old_status = django_filters.MultipleChoiceFilter(choices=CertificationStatus.choices)
    new_status = django_filters.MultipleChoiceFilter(choices=CertificationStatus.choices)

    class Meta:
        model = CertificationStatusLog
        fields = []


class RoleFilterSet(BaseFilterSet):
    """Role assignments and requests (API), among those the caller may see: by status, role type, the
    user's username (an unknown one matches nothing rather than telling whether it exists) and entity."""

    search_fields = ("user__username",)
    user = django_filters.CharFilter(field_name="user__username", max_length=150, label="Username")
    entity_id = ListFilter(
        field_name="owned_entity", base=forms.IntegerField(min_value=0, max_value=INT64_MAX), label="Entity id"
    )
    entity_type = django_filters.MultipleChoiceFilter(
        field_name="owned_entity__kind", choices=EntityKind.choices, label="Entity type"
    )

    class Meta:
        model = Role
        fields = []
