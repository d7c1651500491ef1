import django_tables2 as tables

from egiportal.tables import BaseTable, LinkedColumn, ScopesColumn

from .models import NGI, Project, Scope, Site


class ProjectTable(BaseTable):
    name = LinkedColumn()
    ngi_count = tables.Column(verbose_name="NGIs")

    class Meta(BaseTable.Meta):
        model = Project
        fields = ("name", "description", "ngi_count")


class NGITable(BaseTable):
    name = LinkedColumn()
    site_count = tables.Column(verbose_name="Sites")
    scopes = ScopesColumn()

    class Meta(BaseTable.Meta):
        model = NGI
        fields = ("name", "description", "email", "site_count", "scopes")


class SiteTable(BaseTable):
    short_name = LinkedColumn(verbose_name="Name")
    ngi = tables.Column(verbose_name="NGI", linkify=True)
    country = tables.Column(accessor="country__name", verbose_name="Country")
    service_count = tables.Column(verbose_name="Services")
    scopes = ScopesColumn()

    class Meta(BaseTable.Meta):
        model = Site
        fields = (
            "short_name",
            "official_name",
            "ngi",
            "country",
            "certification_status",
            "infrastructure",
            "service_count",
            "scopes",
        )


class ScopeTable(BaseTable):
    name = LinkedColumn()
    reserved = tables.BooleanColumn(yesno="Reserved,")

    class Meta(BaseTable.Meta):
        model = Scope
        fields = ("name", "description", "reserved")
