import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from egiportal.tables import BaseTable, LinkedColumn, ScopesColumn, YesNoColumn

from .models import Downtime, EndpointLocation, Service, ServiceGroup, ServiceType


class FlagColumn(YesNoColumn):
    """Yes/No on the page and in the CSV export (not Python's True/False)."""

    def value(self, value):
        return "Yes" if value else "No"


class ServiceTable(BaseTable):
    """Services with their site, NGI and type; needs select_related site__ngi, service_type and
    prefetched scopes (see endpoints.views.SERVICE_LIST_QS)."""

    hostname = LinkedColumn(verbose_name="Host name")
    service_type = tables.Column(verbose_name="Type", accessor="service_type__name", order_by="service_type__name")
    site = tables.Column(linkify=True, order_by="site__short_name")
    ngi = tables.Column(verbose_name="NGI", accessor="site__ngi__name")
    production = FlagColumn(verbose_name="Production")
    monitored = FlagColumn()
    beta = FlagColumn()
    url = tables.Column(verbose_name="URL", visible=False)
    scopes = ScopesColumn()

    class Meta(BaseTable.Meta):
        model = Service
        fields = ("hostname", "service_type", "site", "ngi", "production", "monitored", "beta", "url", "scopes")


class EndpointLocationTable(BaseTable):
    """Endpoints with their service and site; needs select_related service__site, service__service_type."""

    name = LinkedColumn()
    service = tables.Column(verbose_name="Service", accessor="service__hostname", order_by="service__hostname")
    service_type = tables.Column(verbose_name="Type", accessor="service__service_type__name")
    site = tables.Column(verbose_name="Site", accessor="service__site__short_name")
    url = tables.Column(verbose_name="URL")
    interface_name = tables.Column(verbose_name="Interface")
    monitored = FlagColumn()

    class Meta(BaseTable.Meta):
        model = EndpointLocation
        fields = ("name", "service", "service_type", "site", "url", "interface_name", "monitored")

    def render_service(self, record, value):
        return format_html('<a href="{}">{}</a>', record.service.get_absolute_url(), value)

    def render_site(self, record, value):
        return format_html('<a href="{}">{}</a>', record.service.site.get_absolute_url(), value)

    def value_service(self, value):
        return value

    def value_site(self, value):
        return value


class ServiceTypeTable(BaseTable):
    name = LinkedColumn()
    monitoring_exception = FlagColumn(verbose_name="Exempt from monitoring")
    service_count = tables.Column(verbose_name="Services")

    class Meta(BaseTable.Meta):
        model = ServiceType
        fields = ("name", "description", "monitoring_exception", "service_count")


def downtime_state(downtime, now=None):
    now = now or timezone.now()
    if downtime.end <= now:
        return "Ended"
    return "Ongoing" if downtime.start <= now else "Not started"


class DowntimeServicesColumn(tables.Column):
    """The affected services of a prefetched `services` relation."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", verbose_name="Services", orderable=False, empty_values=(), **kwargs)

    def render(self, record):
        return format_html_join(
            ", ", '<span class="text-nowrap">{} <small class="text-muted">{}</small></span>', _services(record)
        )

    def value(self, record):
        return ";".join(f"{host} ({kind})" for host, kind in _services(record))


def _services(record):
    return [(s.hostname, s.service_type.name) for s in record.services.all()]


class DowntimeTable(BaseTable):
    primary_key = LinkedColumn(verbose_name="ID", accessor="pk")
    site = tables.Column(linkify=True, order_by=("site__short_name",))
    ngi = tables.Column(
        verbose_name="NGI", accessor="site__ngi__name", linkify=lambda record: record.site.ngi.get_absolute_url()
    )
    severity = tables.Column()
    classification = tables.Column()
    state = tables.Column(accessor="pk", verbose_name="State", orderable=False, empty_values=())
    start = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Start (UTC)")
    end = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="End (UTC)")
    services = DowntimeServicesColumn()
    description = tables.Column(attrs={"td": {"class": "wrap"}})

    class Meta(BaseTable.Meta):
        model = Downtime
        fields = (
            "primary_key",
            "site",
            "ngi",
            "severity",
            "classification",
            "state",
            "start",
            "end",
            "services",
            "description",
        )

    def render_primary_key(self, record):
        return format_html('<a href="{}">{}</a>', record.get_absolute_url(), record.primary_key or record.pk)

    def value_primary_key(self, record):
        return record.primary_key or record.pk

    def render_severity(self, record):
        css = "danger" if record.severity == "OUTAGE" else "warning"
        return format_html('<span class="badge text-bg-{}">{}</span>', css, record.severity)

    def value_severity(self, record):
        return record.severity

    def render_state(self, record):
        return downtime_state(record)

    def value_state(self, record):
        return downtime_state(record)

    def render_description(self, value):
        return value if len(value) <= 120 else value[:117] + "..."

    def value_description(self, value):
        return value


class ServiceGroupTable(BaseTable):
    name = LinkedColumn()
    service_count = tables.Column(verbose_name="Services")
    monitored = YesNoColumn()
    scopes = ScopesColumn()

    class Meta(BaseTable.Meta):
        model = ServiceGroup
        fields = ("name", "description", "monitored", "email", "service_count", "scopes")
