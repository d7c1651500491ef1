"""PI methods get_service_types and get_service_endpoint (alias get_service), and the service children and
writers that service groups share."""

from dataclasses import dataclass

from egiportal.pi import (
    Listing,
    among,
    extensions_filter,
    grouped,
    scope_filter,
    url_template,
    yes_no,
)
from egiportal.pixml import Writer, element, sub
from sites.choices import CertificationStatus

from ..models import (
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceProperty,
    ServiceType,
)

# ---------------------------------------------------------------- get_service_types


def get_service_types(query):
    types = []
    for service_type in ServiceType.objects.order_by("pk"):
        el = element("SERVICE_TYPE", TYPE_ID=f"{service_type.pk}G0", PRIMARY_KEY=f"{service_type.pk}G0")
        sub(el, "SERVICE_TYPE_NAME", service_type.name)
        sub(el, "SERVICE_TYPE_DESC", service_type.description)
        types.append(el)
    return types


# ---------------------------------------------------------------- children fetched per batch


PROPERTY_COLUMNS = ("parent_id", "pk", "key", "value")


@dataclass
class ServiceChildren:
    """Endpoints, endpoint properties, scope names and properties of a batch of services, by service id
    (endpoint properties by endpoint id), each ordered by id as GOCDB's Helpers::orderArrById does."""

    endpoints: dict
    endpoint_properties: dict
    scopes: dict
    properties: dict

    @classmethod
    def of(cls, ids):
        """The children of the services `ids` (ascending): four queries, whatever their number."""
        endpoints = EndpointLocation.objects.filter(**among("service_id", ids)).order_by("pk")
        endpoint_properties = EndpointProperty.objects.filter(**among("parent__service_id", ids)).order_by("pk")
        scopes = Service.scopes.through.objects.filter(**among("service_id", ids)).order_by("scope_id")
        properties = ServiceProperty.objects.filter(**among("parent_id", ids)).order_by("pk")
        return cls(
            grouped(endpoints.values_list("service_id", "pk", "name", "url", "interface_name", "monitored", "email")),
            grouped(endpoint_properties.values_list(*PROPERTY_COLUMNS)),
            grouped(scopes.values_list("service_id", "scope__name")),
            grouped(properties.values_list(*PROPERTY_COLUMNS)),
        )

    def write(self, w, service_id, with_email=False):
        """ENDPOINTS (ID, NAME, EXTENSIONS, URL, INTERFACENAME, ENDPOINT_MONITORED and, in
        get_service_group, CONTACT_EMAIL), SCOPES and EXTENSIONS of one service."""
        endpoints = self.endpoints.get(service_id, ())
        if w.start("ENDPOINTS", endpoints):
            for _, pk, name, url, interface_name, monitored, email in endpoints:
                w.open("ENDPOINT")
                w.leaf("ID", pk)
                w.leaf("NAME", name)
                write_extensions(w, self.endpoint_properties.get(pk, ()))
                w.leaf("URL", url)
                w.leaf("INTERFACENAME", interface_name)
                w.leaf("ENDPOINT_MONITORED", yes_no(monitored))
                if with_email:
                    w.leaf("CONTACT_EMAIL", email)
                w.close("ENDPOINT")
            w.close("ENDPOINTS")
        write_scopes(w, self.scopes.get(service_id, ()))
        write_extensions(w, self.properties.get(service_id, ()))


def write_scopes(w, names):
    if w.start("SCOPES", names):
        for _, name in names:
            w.leaf("SCOPE", name)
        w.close("SCOPES")


def write_extensions(w, properties):
    """`<EXTENSIONS>` with one `<EXTENSION>` (LOCAL_ID, KEY, VALUE) per (parent, id, key, value)."""
    if w.start("EXTENSIONS", properties):
        for _, pk, key, value in properties:
            w.open("EXTENSION")
            w.leaf("LOCAL_ID", pk)
            w.leaf("KEY", key)
            w.leaf("VALUE", value)
            w.close("EXTENSION")
        w.close("EXTENSIONS")


# ---------------------------------------------------------------- get_service / get_service_endpoint

SERVICE_PARAMS = frozenset(
    {"hostname", "sitename", "roc", "country", "service_type", "monitored", "scope", "scope_match", "extensions"}
)
# GOCDB's `monitored` filter of get_service: Y/y and N/n filter, any other value is ignored.
MONITORED_FLAGS = {"Y": True, "y": True, "N": False, "n": False}
SERVICE_LIKES = (
    ("hostname", "hostname"),
    ("sitename", "site__short_name"),
    ("roc", "site__ngi__name"),
    ("country", "site__country__name"),
    ("service_type", "service_type__name"),
)
SERVICE_COLUMNS = (
    "pk",
    "hostname",
    "dn",
    "operating_system",
    "architecture",
    "beta",
    "service_type__name",
    "ip_address",
    "ipv6_address",
    "production",
    "monitored",
    "notify",
    "site__short_name",
    "site__country__name",
    "site__country__code",
    "site__ngi__name",
    "url",
)


def filter_services(query):
    """The services get_service lists: never those of Closed sites (GOCDB hides them)."""
    qs = Service.objects.exclude(site__certification_status=CertificationStatus.CLOSED)
    for name, lookup in SERVICE_LIKES:
        qs = query.like(qs, name, lookup)
    flag = MONITORED_FLAGS.get(query.get("monitored"))
    if flag is not None:
        qs = qs.filter(monitored=flag)
    qs = scope_filter(query, qs)
    return extensions_filter(query, qs)


def get_service_endpoint(query):
    url = url_template("endpoints:service")

    def render(services):
        children = ServiceChildren.of([service.pk for service in services])
        for service in services:
            yield service_xml(service, url, children)

    return Listing(filter_services(query).values_list(*SERVICE_COLUMNS, named=True), render)


def service_xml(service, url, children):
    """One `<SERVICE_ENDPOINT>` of get_service (§11.8, sample get_service_endpoint_page1.xml)."""
    key = f"{service.pk}G0"
    w = Writer("SERVICE_ENDPOINT", PRIMARY_KEY=key)
    w.leaf("PRIMARY_KEY", key)
    w.leaf("HOSTNAME", service.hostname)
    w.leaf("GOCDB_PORTAL_URL", url.format(service.pk))
    w.leaf_if("HOSTDN", service.dn)
    w.leaf_if("HOST_OS", service.operating_system)
    w.leaf_if("HOST_ARCH", service.architecture)
    w.leaf("BETA", yes_no(service.beta))
    w.leaf("SERVICE_TYPE", service.service_type__name)
    w.leaf_if("HOST_IP", service.ip_address)
    w.leaf_if("HOST_IPV6", service.ipv6_address)
    w.leaf("CORE")
    w.leaf("IN_PRODUCTION", yes_no(service.production))
    w.leaf("NODE_MONITORED", yes_no(service.monitored))
    w.leaf("NOTIFICATIONS", yes_no(service.notify))
    w.leaf("SITENAME", service.site__short_name)
    w.leaf_if("COUNTRY_NAME", service.site__country__name)
    w.leaf_if("COUNTRY_CODE", service.site__country__code)
    w.leaf_if("ROC_NAME", service.site__ngi__name)
    w.leaf("URL", service.url)
    children.write(w, service.pk)
    return w.done("SERVICE_ENDPOINT")
