"""FilterSets of the marketplace, shared by the browser catalogue and the REST API.

Unknown values (an OS, format or VO that does not exist) make the filterset invalid: a 400, never a
silently unfiltered list.
"""

import django_filters
from django.db.models import Exists, OuterRef, Q

from egiportal.filtersets import BaseFilterSet, StrictBooleanFilter, by_name, filter_without_duplicates
from egiportal.models import VirtualOrganisation

from .choices import (
    AcceleratorType,
    Architecture,
    ImageFormat,
    IntegrityStatus,
    JobState,
    ListState,
    OSFamily,
    VersionState,
)
from .models import (
    ApplianceVersion,
    Category,
    Image,
    IntegrityJob,
    PublishedArtefact,
    VirtualAppliance,
    VOImageList,
    VOImageListEntry,
)


def _published_images(**condition):
    """Appliances with an image of their published version matching `condition`."""
    return Image.objects.filter(
        version__appliance=OuterRef("pk"), version__state=VersionState.PUBLISHED, **condition
    ).values("pk")


class ApplianceFilterSet(BaseFilterSet):
    """The catalogue: by what its published images are (OS, architecture, format, accelerator), by
    category, and by the VOs whose published list holds it."""

    search_fields = ("name", "title", "description")
    category = by_name("categories", Category.objects.all(), "name", "Category", distinct=True)
    os_family = django_filters.MultipleChoiceFilter(choices=OSFamily.choices, method="by_image", label="OS family")
    os_name = django_filters.CharFilter(method="by_os_name", label="OS name")
    arch = django_filters.MultipleChoiceFilter(choices=Architecture.choices, method="by_image", label="Architecture")
    # Not `format`: that query parameter picks the API's rendering (?format=csv).
    image_format = django_filters.MultipleChoiceFilter(choices=ImageFormat.choices, method="by_image", label="Format")
    accelerator = django_filters.MultipleChoiceFilter(
        choices=AcceleratorType.choices, method="by_accelerator", label="Accelerator"
    )
    vo = by_name("", VirtualOrganisation.objects.all(), "name", "Endorsed by VO", typed=True, method="by_vo")
    has_published = StrictBooleanFilter(method="by_published", label="Has a published version")

    class Meta:
        model = VirtualAppliance
        fields = []

    IMAGE_FIELD = {"os_family": "os_family", "arch": "arch", "image_format": "format"}

    def by_image(self, qs, name, values):
        if not values:
            return qs
        return qs.filter(Exists(_published_images(**{f"{self.IMAGE_FIELD[name]}__in": values})))

    def by_os_name(self, qs, name, value):
        value = value.strip()
        return qs.filter(Exists(_published_images(os_name__iexact=value))) if value else qs

    def by_accelerator(self, qs, name, values):
        return qs.filter(Exists(_published_images(accelerator_type__in=values))) if values else qs

    def by_vo(self, qs, name, vos):
        if not vos:
            return qs
        entries = VOImageListEntry.objects.filter(
            image__version__appliance=OuterRef("pk"),
            image_list__state=ListState.PUBLISHED,
            image_list__vo__in=vos,
            image_list__private=False,
        )
        return qs.filter(Exists(entries))

    def by_published(self, qs, name, value):
        if value is None:
            return qs
        published = ApplianceVersion.objects.filter(appliance=OuterRef("pk"), state=VersionState.PUBLISHED)
        return qs.filter(Exists(published)) if value else qs.exclude(Exists(published))


class ApplianceVersionFilterSet(BaseFilterSet):
    search_fields = ("version", "notes")
    appliance = by_name("appliance", VirtualAppliance.objects.all(), "name", "Appliance", typed=True)
    state = django_filters.MultipleChoiceFilter(choices=VersionState.choices, label="State")
    status = django_filters.MultipleChoiceFilter(choices=IntegrityStatus.choices, label="Integrity")

    class Meta:
        model = ApplianceVersion
        fields = []


class ImageFilterSet(BaseFilterSet):
    search_fields = ("title", "description", "url", "os_name")
    appliance = by_name("version__appliance", VirtualAppliance.objects.all(), "name", "Appliance", typed=True)
    version_state = django_filters.MultipleChoiceFilter(
        field_name="version__state", choices=VersionState.choices, label="Version state"
    )
    os_family = django_filters.MultipleChoiceFilter(choices=OSFamily.choices, label="OS family")
    arch = django_filters.MultipleChoiceFilter(choices=Architecture.choices, label="Architecture")
    image_format = django_filters.MultipleChoiceFilter(field_name="format", choices=ImageFormat.choices, label="Format")
    accelerator_type = django_filters.MultipleChoiceFilter(choices=AcceleratorType.choices, label="Accelerator")
    hypervisor = django_filters.CharFilter(method="by_hypervisor", label="Hypervisor")

    class Meta:
        model = Image
        fields = []

    @classmethod
    def get_filters(cls):
        """Without the generic `format` lookups: that query parameter picks the API's rendering (?format=csv);
        `image_format` filters by it."""
        filters = super().get_filters()
        for name in ("format", "format__in"):
            filters.pop(name, None)
        return filters

    def by_hypervisor(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        # hypervisors is a comma list of known names: match a whole item.
        return filter_without_duplicates(qs, _item_of("hypervisors", value))


def _item_of(field, value):
    return (
        Q(**{field: value})
        | Q(**{f"{field}__startswith": value + ","})
        | Q(**{f"{field}__endswith": "," + value})
        | Q(**{f"{field}__contains": "," + value + ","})
    )


class VOImageListFilterSet(BaseFilterSet):
    vo = by_name("vo", VirtualOrganisation.objects.all(), "name", "VO", typed=True)
    state = django_filters.MultipleChoiceFilter(choices=ListState.choices, label="State")

    class Meta:
        model = VOImageList
        fields = []


class PublishedArtefactFilterSet(BaseFilterSet):
    vo = by_name("vo", VirtualOrganisation.objects.all(), "name", "VO", typed=True)
    appliance = by_name("appliance", VirtualAppliance.objects.all(), "name", "Appliance", typed=True)

    class Meta:
        model = PublishedArtefact
        fields = []


class IntegrityJobFilterSet(BaseFilterSet):
    appliance = by_name("version__appliance", VirtualAppliance.objects.all(), "name", "Appliance", typed=True)
    state = django_filters.MultipleChoiceFilter(choices=JobState.choices, label="State")

    class Meta:
        model = IntegrityJob
        fields = []
