import django_filters

from egiportal.filtersets import BaseFilterSet, ScopedFilterSet, by_name

from .choices import CertificationStatus, Infrastructure
from .models import NGI, Country, Project, Scope, Site


class ProjectFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Project
        fields = []


class NGIFilterSet(ScopedFilterSet):
    search_fields = ("name", "description")
    project = by_name("projects", Project.objects.all(), "name", "Project", distinct=True)

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

    class Meta:
        model = Site
        fields = ["notify"]


class ScopeFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Scope
        fields = ["reserved"]
