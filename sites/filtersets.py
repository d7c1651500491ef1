import django_filters

from egiportal.filtersets import BaseFilterSet, ScopedFilterSet

from .choices import CertificationStatus, Infrastructure
from .models import NGI, Country, Project, Scope, Site


class ProjectFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Project
        fields = []


class NGIFilterSet(ScopedFilterSet):
    search_fields = ("name", "description")
    # With to_field_name the lookup must end in that field too: the filter compares the raw value.
    project = django_filters.ModelMultipleChoiceFilter(
        field_name="projects__name", queryset=Project.objects.all(), to_field_name="name", distinct=True
    )

    class Meta:
        model = NGI
        fields = []


class SiteFilterSet(ScopedFilterSet):
    search_fields = ("short_name", "official_name", "domain", "description")
    ngi = django_filters.ModelMultipleChoiceFilter(
        field_name="ngi__name", queryset=NGI.objects.all(), to_field_name="name", label="NGI"
    )
    country = django_filters.ModelMultipleChoiceFilter(
        field_name="country__code", queryset=Country.objects.all(), to_field_name="code"
    )
    certification_status = django_filters.MultipleChoiceFilter(choices=CertificationStatus.choices)
    infrastructure = django_filters.MultipleChoiceFilter(choices=Infrastructure.choices, label="Production status")
    project = django_filters.ModelMultipleChoiceFilter(
        field_name="ngi__projects__name", queryset=Project.objects.all(), to_field_name="name", distinct=True
    )

    class Meta:
        model = Site
        fields = ["notify"]


class ScopeFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Scope
        fields = ["reserved"]
