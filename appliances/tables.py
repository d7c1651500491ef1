import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from egiportal.tables import BaseTable, LinkedColumn

from .models import VirtualAppliance


class ApplianceTable(BaseTable):
    """The catalogue. Needs prefetched `category_list` and `published_versions` (the published version, a
    list of at most one) with their `image_list`: see appliances.views.CATALOGUE_QS."""

    logo = tables.Column(accessor="pk", verbose_name="", orderable=False, empty_values=(), exclude_from_export=True)
    title = LinkedColumn(verbose_name="Appliance")
    name = tables.Column(verbose_name="Short name")
    categories = tables.Column(accessor="pk", verbose_name="Categories", orderable=False, empty_values=())
    version = tables.Column(accessor="pk", verbose_name="Published version", orderable=False, empty_values=())
    os = tables.Column(accessor="pk", verbose_name="Operating systems", orderable=False, empty_values=())
    formats = tables.Column(accessor="pk", verbose_name="Formats", orderable=False, empty_values=())
    last_updated = tables.DateTimeColumn(format="Y-m-d", verbose_name="Updated")

    class Meta(BaseTable.Meta):
        model = VirtualAppliance
        fields = ("logo", "title", "name", "categories", "version", "os", "formats", "last_updated")

    def render_logo(self, record):
        if not record.logo_type:
            return ""
        url = reverse("appliance_logo", args=[record.name])
        return format_html('<img src="{}" alt="" width="32" height="32" class="rounded" loading="lazy">', url)

    def value_categories(self, record):
        return ", ".join(c.name for c in record.category_list)

    render_categories = value_categories

    def _published(self, record):
        return record.published_versions[0] if record.published_versions else None

    def value_version(self, record):
        version = self._published(record)
        return version.version if version else ""

    def render_version(self, record):
        version = self._published(record)
        if version is None:
            return mark_safe('<span class="text-muted">none</span>')
        badge = mark_safe(' <span class="badge text-bg-warning">expiring</span>') if version.expires_soon else ""
        return format_html('<a href="{}">{}</a>{}', version.get_absolute_url(), version.version, badge)

    def _images(self, record):
        version = self._published(record)
        return version.image_list if version else []

    def value_os(self, record):
        return ", ".join(sorted({f"{i.os_name} {i.os_version}" for i in self._images(record)}))

    render_os = value_os

    def value_formats(self, record):
        return ", ".join(sorted({f"{i.format} ({i.arch})" for i in self._images(record)}))

    render_formats = value_formats
