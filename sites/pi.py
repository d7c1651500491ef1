"""PI methods answered from sites: sites, NGIs, projects, users, contacts and certification
(specs/gocdb.md §11.8). Element names, order and empty elements follow GOCDB exactly."""

from django.db.models import Prefetch

from egiportal.pi import (
    PRIVATE,
    PUBLIC,
    Listing,
    Method,
    element,
    extensions_filter,
    scope_filter,
    sub,
    sub_if,
    url_template,
)

from .models import Scope, Site, SiteProperty

SITE_PARAMS = frozenset(
    {
        "sitename",
        "roc",
        "country",
        "certification_status",
        "exclude_certification_status",
        "production_status",
        "scope",
        "scope_match",
        "extensions",
    }
)


def number(value):
    """A float as PHP prints it: 45.5, 13.662742, 7 (no trailing .0)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def filter_sites(query, qs=None):
    """The site filters shared by get_site, get_site_list and get_site_security_info."""
    qs = Site.objects.all() if qs is None else qs
    qs = query.like(qs, "sitename", "short_name")
    qs = query.like(qs, "roc", "ngi__name")
    qs = query.like(qs, "country", "country__name")
    qs = query.like(qs, "certification_status", "certification_status")
    qs = query.like(qs, "production_status", "infrastructure")
    if "exclude_certification_status" in query:
        qs = qs.exclude(certification_status__like=query.get("exclude_certification_status"))
    qs = scope_filter(query, qs)
    return extensions_filter(query, qs)


def extensions(parent, properties):
    """`<EXTENSIONS>` with one `<EXTENSION>` (LOCAL_ID, KEY, VALUE) per property."""
    block = sub(parent, "EXTENSIONS")
    for prop in properties:
        ext = sub(block, "EXTENSION")
        sub(ext, "LOCAL_ID", prop.pk)
        sub(ext, "KEY", prop.key)
        sub(ext, "VALUE", prop.value)
    return block


def scopes(parent, scope_list):
    block = sub(parent, "SCOPES")
    for scope in scope_list:
        sub(block, "SCOPE", scope.name)
    return block


SCOPES = Prefetch("scopes", queryset=Scope.objects.order_by("name"))


def get_site(query):
    qs = filter_sites(query).select_related("ngi", "country")
    qs = qs.prefetch_related(SCOPES, Prefetch("properties", queryset=SiteProperty.objects.order_by("pk")))
    url = url_template("sites:site")

    def render(sites):
        for site in sites:
            el = element("SITE", ID=site.pk, PRIMARY_KEY=site.primary_key, NAME=site.short_name)
            sub_if(el, "PRIMARY_KEY", site.primary_key)
            sub_if(el, "SHORT_NAME", site.short_name)
            sub_if(el, "OFFICIAL_NAME", site.official_name)
            sub_if(el, "SITE_DESCRIPTION", site.description)
            sub(el, "GOCDB_PORTAL_URL", url.format(site.pk))
            sub_if(el, "HOME_URL", site.home_url)
            sub_if(el, "CONTACT_EMAIL", site.email)
            sub_if(el, "CONTACT_TEL", site.telephone)
            sub_if(el, "ALARM_EMAIL", site.alarm_email)
            sub_if(el, "GIIS_URL", site.giis_url)
            sub_if(el, "COUNTRY_CODE", site.country.code)
            sub_if(el, "COUNTRY", site.country.name)
            sub(el, "ROC", site.ngi.name)
            sub_if(el, "PRODUCTION_INFRASTRUCTURE", site.infrastructure)
            sub_if(el, "CERTIFICATION_STATUS", site.certification_status)
            sub_if(el, "TIMEZONE", site.timezone)
            sub_if(el, "LATITUDE", None if site.latitude is None else number(site.latitude))
            sub_if(el, "LONGITUDE", None if site.longitude is None else number(site.longitude))
            sub_if(el, "CSIRT_EMAIL", site.csirt_email)
            sub(el, "NOTIFICATIONS", "TRUE" if site.notify else "FALSE")
            domain = sub(el, "DOMAIN")
            sub_if(domain, "DOMAIN_NAME", site.domain)
            sub_if(el, "SITE_IP", site.ip_range)
            sub_if(el, "SITE_IPV6", site.ipv6_range)
            scopes(el, site.scopes.all())
            extensions(el, site.properties.all())
            yield el

    return Listing(qs, render)


def get_site_list(query):
    qs = filter_sites(query).select_related("ngi", "country")

    def render(sites):
        for site in sites:
            yield element(
                "SITE",
                ID=site.pk,
                PRIMARY_KEY=site.primary_key,
                NAME=site.short_name,
                COUNTRY=site.country.name,
                COUNTRY_CODE=site.country.code,
                ROC=site.ngi.name,
                SUBGRID="",
                GIIS_URL=site.giis_url,
            )

    return Listing(qs, render)


METHODS = {
    "get_site": Method(get_site, SITE_PARAMS, PRIVATE, pageable=True),
    # get_site_list shares get_site's whitelist (so cursors are accepted) but is never paged (§11.4).
    "get_site_list": Method(get_site_list, SITE_PARAMS | {"next_cursor", "prev_cursor"}, PUBLIC),
}
