import django_tables2 as tables
from django.utils.html import format_html

from egiportal.tables import BaseTable, LinkedColumn, ScopesColumn, YesNoColumn

from .models import EndpointLocation, Service, ServiceType


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
