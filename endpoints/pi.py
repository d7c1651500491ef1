"""PI methods answered from endpoints: services, service types, downtimes and service groups
(specs/gocdb.md §11.8). Element names, order and empty elements follow GOCDB exactly.

The replies can be big (get_service_endpoint and get_downtime unpaged: tens of thousands of services,
hundreds of thousands of downtimes), so these methods read plain rows (values_list), fetch the
children of a whole page or batch with one query per kind, and write each child of <results> with
the framework's `Writer` rather than as an lxml tree: model instances, prefetch_related and lxml
trees made the unpaged get_service_endpoint ten times slower.
"""

import calendar
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from egiportal.models import Identity
from egiportal.pi import (
    PRIVATE,
    PUBLIC,
    Listing,
    Method,
    PIError,
    among,
    epoch,
    extensions_filter,
    grouped,
    scope_filter,
    url_template,
    yes_no,
)
from egiportal.pixml import Writer, element, sub
from sites.choices import CertificationStatus
from sites.models import Role

from .choices import Classification
from .models import (
    Downtime,
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceGroup,
    ServiceGroupProperty,
    ServiceProperty,
    ServiceType,
)

FORMATTED_DATE = "%Y-%m-%d %H:%M"
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")

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


# ---------------------------------------------------------------- downtimes: parameters

DOWNTIME_PARAMS = frozenset(
    {
        "topentity",
        "ongoing_only",
        "startdate",
        "enddate",
        "windowstart",
        "windowend",
        "scope",
        "scope_match",
        "all_lastmonth",
        "site_extensions",
        "service_extensions",
        "id",
        "sitelist",
        "servicelist",  # accepted and ignored, as by GOCDB
        "ngilist",
        "severity",
        "classification",
        "production",
        "monitored",
        "certification_status",
        "service_type_list",
    }
)
# GOCDB compares the raw value with the boolean column (its downtime calendar sends 1 or 0).
SERVICE_FLAGS = {"1": True, "y": True, "yes": True, "true": True, "0": False, "n": False, "no": False, "false": False}
LIST_FILTERS = (
    ("sitelist", "site__short_name__in"),
    ("ngilist", "site__ngi__name__in"),
    ("service_type_list", "service_type__name__in"),
)
DATE_PARAMS = ("ongoing_only", "startdate", "enddate", "windowstart", "windowend")


def whole_number(query, name):
    value = query.get(name).strip()
    if not WHOLE_NUMBER.fullmatch(value):
        raise PIError(f"Invalid '{name}' parameter - must be a whole number greater than or equal to zero")
    return int(value)


def service_flag(query, name):
    value = SERVICE_FLAGS.get(query.get(name).strip().lower())
    if value is None:
        raise PIError(f"Invalid {name} value - must be 1 or 0")
    return value


def downtime_services(query):
    """The services a downtime reply shows, or None when no filter applies to them.

    GOCDB applies these filters to the services it joins to each downtime, so a downtime is listed
    (and repeated) only with those of its services that match.
    """
    qs = Service.objects.all()
    if "topentity" in query:
        value = query.get("topentity")
        qs = qs.filter(
            Q(hostname__like=value)
            | Q(site__short_name__like=value)
            | Q(site__ngi__name__like=value)
            | Q(site__country__name__like=value)
        )
    qs = query.like(qs, "certification_status", "site__certification_status")
    for name in ("production", "monitored"):
        if name in query:
            qs = qs.filter(**{name: service_flag(query, name)})
    for name, lookup in LIST_FILTERS:
        if name in query:
            qs = qs.filter(**{lookup: query.get(name).split(",")})
    qs = scope_filter(query, qs)
    qs = extensions_filter(query, qs, "site_extensions", "site__properties")
    qs = extensions_filter(query, qs, "service_extensions")
    return qs if qs.query.has_filters() else None


def time_filters(query, qs):
    """ongoing_only, startdate, enddate, windowstart, windowend and all_lastmonth, with GOCDB's checks."""
    now = timezone.now()
    if "ongoing_only" in query:
        ongoing = query.get("ongoing_only")
        if ongoing not in ("yes", "no"):
            raise PIError("Invalid ongoing_only value - must be 'yes' or 'no'")
        if ongoing == "yes" and ("startdate" in query or "enddate" in query):
            raise PIError("Invalid parameter combination - do not specify startdate or enddate with ongoing_only")
        qs = qs.filter(start__lt=now, end__gt=now)  # for `no` as well: GOCDB's quirk (§13.2)
    for name, lookup in (("startdate", "start__gt"), ("enddate", "end__lt"), ("windowstart", "end__gt")):
        if name in query:
            qs = qs.filter(**{lookup: query.date(name)})
    if "windowend" in query:
        window_end = query.date("windowend")
        try:  # the window includes the whole end day, as in GOCDB v4
            qs = qs.filter(start__lt=window_end + timedelta(days=1))
        except OverflowError:  # the window ends on 9999-12-31: nothing starts later
            pass
    if "all_lastmonth" in query:
        if any(name in query for name in DATE_PARAMS):
            raise PIError(
                "Invalid parameters - only scope, scope_match, topentity params allowed when specifying all_lastmonth"
            )
        qs = qs.filter(start__gt=month_before(now) - timedelta(days=1))
    return qs


def month_before(moment):
    """The same time one calendar month earlier, the day clamped to that month's length."""
    year, month = divmod(moment.year * 12 + moment.month - 2, 12)
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


DOWNTIME_COLUMNS = ("pk", "primary_key", "classification", "severity", "description", "created", "start", "end")


def with_services(qs, services):
    """Rows of the downtimes in `qs`; with `services`, only those affecting at least one of them.

    Every downtime affects a service (endpoints.services keeps it so), so without a service filter
    there is nothing to check: PostgreSQL would merge-join the whole link table to find the first
    page after a cursor.
    """
    if services is not None:
        qs = qs.filter(
            Exists(Downtime.services.through.objects.filter(downtime_id=OuterRef("pk"), service__in=services))
        )
    return qs.values_list(*DOWNTIME_COLUMNS, named=True)


def filter_downtimes(query):
    """The downtimes of get_downtime(_nested_services) and the services to show with them."""
    qs = Downtime.objects.all()
    for name in ("severity", "classification"):
        if name in query:
            qs = qs.filter(**{name: query.get(name)})
    if "id" in query:
        qs = qs.filter(pk=whole_number(query, "id"))
    services = downtime_services(query)
    return with_services(time_filters(query, qs), services), services


IDENTITY_COLUMNS = ("hostname", "service_type__name", "site__short_name")


@dataclass
class DowntimeChildren:
    """The shown services (id, hostname, type, site) and all endpoints (downtime id, id, service id, name, URL,
    interface, monitored) of a batch of downtimes, by downtime id, ordered by id."""

    services: dict
    endpoints: dict

    @classmethod
    def of(cls, ids, services):
        """Three queries, whatever the number of downtimes `ids` (ascending). The services are read
        by id apart from the links: joined to them, PostgreSQL scans the whole service table."""
        links = Downtime.services.through.objects.filter(**among("downtime_id", ids))
        if services is not None:
            links = links.filter(service__in=services)
        links = list(links.order_by("service_id").values_list("downtime_id", "service_id"))
        details = Service.objects.filter(pk__in={service_id for _, service_id in links})
        details = {row[0]: row for row in details.values_list("pk", *IDENTITY_COLUMNS)}
        shown = defaultdict(list)
        for downtime_id, service_id in links:
            if service_id in details:  # unless deleted between the two queries
                shown[downtime_id].append(details[service_id])
        affected = Downtime.endpoints.through.objects.filter(**among("downtime_id", ids))
        endpoint_columns = ("service_id", "name", "url", "interface_name", "monitored")
        return cls(
            shown,
            grouped(
                affected.order_by("endpointlocation_id").values_list(
                    "downtime_id", "endpointlocation_id", *(f"endpointlocation__{c}" for c in endpoint_columns)
                )
            ),
        )

    def of_service(self, downtime_id, service_id):
        """The downtime's endpoints that belong to the service."""
        return [endpoint for endpoint in self.endpoints.get(downtime_id, ()) if endpoint[2] == service_id]


def write_affected(w, endpoints):
    if w.start("AFFECTED_ENDPOINTS", endpoints):
        for _, pk, _service_id, name, url, interface_name, monitored in endpoints:
            w.open("ENDPOINT")
            w.leaf("ID", pk)
            w.leaf("NAME", name)
            w.leaf("URL", url)
            w.leaf("INTERFACENAME", interface_name)
            w.leaf("ENDPOINT_MONITORED", yes_no(monitored))
            w.close("ENDPOINT")
        w.close("AFFECTED_ENDPOINTS")


def downtime_writer(downtime):
    return Writer("DOWNTIME", ID=downtime.pk, PRIMARY_KEY=downtime.primary_key, CLASSIFICATION=downtime.classification)


def formatted(moment):
    return moment.astimezone(UTC).strftime(FORMATTED_DATE)


def write_service_identity(w, hostname, type_name, site_name):
    """HOSTNAME, SERVICE_TYPE, ENDPOINT (hostname immediately followed by the type name), HOSTED_BY."""
    w.leaf("HOSTNAME", hostname)
    w.leaf("SERVICE_TYPE", type_name)
    w.leaf("ENDPOINT", hostname + type_name)
    w.leaf("HOSTED_BY", site_name)


def write_downtime_details(w, downtime):
    """SEVERITY, DESCRIPTION, INSERT_DATE (when it was declared), START_DATE, END_DATE (epoch seconds),
    FORMATED_START_DATE and FORMATED_END_DATE (UTC)."""
    w.leaf("SEVERITY", downtime.severity)
    w.leaf("DESCRIPTION", downtime.description)
    w.leaf("INSERT_DATE", epoch(downtime.created))
    w.leaf("START_DATE", epoch(downtime.start))
    w.leaf("END_DATE", epoch(downtime.end))
    w.leaf("FORMATED_START_DATE", formatted(downtime.start))
    w.leaf("FORMATED_END_DATE", formatted(downtime.end))


# ---------------------------------------------------------------- get_downtime, get_downtime_nested_services


def get_downtime(query):
    qs, services = filter_downtimes(query)
    url = url_template("endpoints:downtime")

    def render(downtimes):
        """One DOWNTIME per shown service (paging counts downtimes, not these elements)."""
        children = DowntimeChildren.of([downtime.pk for downtime in downtimes], services)
        for downtime in downtimes:
            for service_id, *identity in children.services.get(downtime.pk, ()):
                w = downtime_writer(downtime)
                w.leaf_if("PRIMARY_KEY", downtime.primary_key)
                write_service_identity(w, *identity)
                w.leaf("GOCDB_PORTAL_URL", url.format(downtime.pk))
                write_affected(w, children.of_service(downtime.pk, service_id))
                write_downtime_details(w, downtime)
                yield w.done("DOWNTIME")

    return Listing(qs, render)


def get_downtime_nested_services(query):
    qs, services = filter_downtimes(query)
    url = url_template("endpoints:downtime")

    def render(downtimes):
        children = DowntimeChildren.of([downtime.pk for downtime in downtimes], services)
        for downtime in downtimes:
            w = downtime_writer(downtime)
            write_downtime_details(w, downtime)
            w.leaf("GOCDB_PORTAL_URL", url.format(downtime.pk))
            shown = children.services.get(downtime.pk, ())
            if w.start("SERVICES", shown):
                for service_id, *identity in shown:
                    w.open("SERVICE")
                    w.leaf("PRIMARY_KEY", f"{service_id}G0")
                    write_service_identity(w, *identity)
                    write_affected(w, children.of_service(downtime.pk, service_id))
                    w.close("SERVICE")
                w.close("SERVICES")
            yield w.done("DOWNTIME")

    return Listing(qs, render)


# ---------------------------------------------------------------- get_downtime_to_broadcast

BROADCAST_PARAMS = frozenset({"interval", "scope", "scope_match", "id"})


def interval_days(query):
    """`interval` in whole days (default 1). GOCDB lets any PHP numeric string through and then fails
    on anything but a whole number of days; here anything else is "not a number"."""
    value = query.get("interval", "1").strip()
    if not re.fullmatch(r"[0-9]{1,6}", value):
        raise PIError("interval is not a number")
    return int(value)


def announce_date(downtime):
    """GOCDB's Downtime::getAnnounceDate: when it was declared if unscheduled, else a day before it starts."""
    if downtime.classification == Classification.UNSCHEDULED:
        return downtime.created
    return downtime.start - timedelta(days=1)


def declared_within(days):
    """The downtimes declared in the last `days` days (all of them when that reaches before year 1)."""
    try:
        return Downtime.objects.filter(created__gt=timezone.now() - timedelta(days=days))
    except OverflowError:
        return Downtime.objects.all()


def get_downtime_to_broadcast(query):
    qs = declared_within(interval_days(query))
    if "id" in query:
        qs = qs.filter(pk=whole_number(query, "id"))
    services = scope_filter(query, Service.objects.all())
    services = services if services.query.has_filters() else None
    url = url_template("endpoints:downtime")

    def render(downtimes):
        children = DowntimeChildren.of([downtime.pk for downtime in downtimes], services)
        for downtime in downtimes:
            for _service_id, hostname, type_name, site_name in children.services.get(downtime.pk, ()):
                w = downtime_writer(downtime)
                w.leaf("PRIMARY_KEY", downtime.primary_key)
                w.leaf("SITENAME", site_name)
                w.leaf("HOSTNAME", hostname)
                w.leaf("SERVICE_TYPE", type_name)
                w.leaf("HOSTED_BY", site_name)
                w.leaf("GOCDB_PORTAL_URL", url.format(downtime.pk))
                write_affected(w, children.endpoints.get(downtime.pk, ()))  # all of them, as GOCDB does
                w.leaf("SEVERITY", downtime.severity)
                w.leaf("DESCRIPTION", downtime.description)
                w.leaf("INSERT_DATE", epoch(downtime.created))
                w.leaf("START_DATE", epoch(downtime.start))
                w.leaf("END_DATE", epoch(downtime.end))
                w.leaf("REMINDER_START_DOWNTIME", epoch(announce_date(downtime)))
                w.leaf("BROADCASTING_START_DOWNTIME")
                yield w.done("DOWNTIME")

    return Listing(with_services(qs, services), render)


# ---------------------------------------------------------------- get_service_group, get_service_group_role

GROUP_PARAMS = frozenset({"service_group_name", "scope", "scope_match"})
GROUP_COLUMNS = ("pk", "name", "description", "monitored", "email")
MEMBER_COLUMNS = ("hostname", "service_type__name", "ip_address", "ipv6_address", "dn", "production", "monitored")


def filter_groups(query):
    qs = query.like(ServiceGroup.objects.all(), "service_group_name", "name")
    qs = scope_filter(query, qs)
    return extensions_filter(query, qs).values_list(*GROUP_COLUMNS, named=True)


def group_writer(group, url):
    """`<SERVICE_GROUP>` opened, with NAME, DESCRIPTION, MONITORED, CONTACT_EMAIL and GOCDB_PORTAL_URL."""
    w = Writer("SERVICE_GROUP", ID=group.pk, PRIMARY_KEY=f"{group.pk}G0")
    w.leaf("NAME", group.name)
    w.leaf("DESCRIPTION", group.description)
    w.leaf("MONITORED", yes_no(group.monitored))
    w.leaf("CONTACT_EMAIL", group.email)
    w.leaf("GOCDB_PORTAL_URL", url.format(group.pk))
    return w


def get_service_group(query):
    group_url, service_url = url_template("endpoints:servicegroup"), url_template("endpoints:service")

    def render(groups):
        """Members (fewer children than get_service's, all always present), then the group's scopes
        and extensions; six queries per page or batch."""
        ids = [group.pk for group in groups]
        links = ServiceGroup.services.through.objects.filter(servicegroup_id__in=ids).order_by("service_id")
        members = grouped(
            links.values_list("servicegroup_id", "service_id", *(f"service__{c}" for c in MEMBER_COLUMNS))
        )
        children = ServiceChildren.of(sorted({row[1] for rows in members.values() for row in rows}))
        scopes = ServiceGroup.scopes.through.objects.filter(servicegroup_id__in=ids).order_by("scope_id")
        scopes = grouped(scopes.values_list("servicegroup_id", "scope__name"))
        properties = ServiceGroupProperty.objects.filter(parent_id__in=ids).order_by("pk")
        properties = grouped(properties.values_list(*PROPERTY_COLUMNS))
        for group in groups:
            w = group_writer(group, group_url)
            for _, service_id, hostname, type_name, ip, ipv6, dn, production, monitored in members.get(group.pk, ()):
                w.open("SERVICE_ENDPOINT", PRIMARY_KEY=f"{service_id}G0")
                w.leaf("HOSTNAME", hostname)
                w.leaf("GOCDB_PORTAL_URL", service_url.format(service_id))
                w.leaf("SERVICE_TYPE", type_name)
                w.leaf("HOST_IP", ip)
                w.leaf("HOST_IPV6", ipv6)
                w.leaf("HOSTDN", dn)
                w.leaf("IN_PRODUCTION", yes_no(production))
                w.leaf("NODE_MONITORED", yes_no(monitored))
                children.write(w, service_id, with_email=True)
                w.close("SERVICE_ENDPOINT")
            write_scopes(w, scopes.get(group.pk, ()))
            write_extensions(w, properties.get(group.pk, ()))
            yield w.done("SERVICE_GROUP")

    return Listing(filter_groups(query), render)


def get_service_group_role(query):
    url = url_template("endpoints:servicegroup")

    def render(groups):
        """Every role over each group, pending ones included (GOCDB quirk, §13.7); two queries per page
        or batch. CERTDN is the user's default identity; users have no public page (empty URL)."""
        roles = Role.objects.filter(owned_entity_id__in=[group.pk for group in groups]).select_related("user")
        roles = roles.prefetch_related(Prefetch("user__identities", queryset=Identity.objects.order_by("pk")))
        by_group = defaultdict(list)
        for role in roles.order_by("pk"):
            by_group[role.owned_entity_id].append(role)
        for group in groups:
            w = group_writer(group, url)
            for role in by_group[group.pk]:
                w.open("USER")
                w.leaf("FORENAME", role.user.first_name)
                w.leaf("SURNAME", role.user.last_name)
                w.leaf("CERTDN", role.user.default_identity())
                w.leaf("GOCDB_PORTAL_URL")
                w.leaf("ROLE", role.get_role_type_display())
                w.close("USER")
            yield w.done("SERVICE_GROUP")

    return Listing(filter_groups(query), render)


METHODS = {
    "get_service_types": Method(get_service_types, frozenset(), PUBLIC),
    "get_service_endpoint": Method(get_service_endpoint, SERVICE_PARAMS, PUBLIC, pageable=True),
    "get_service": Method(get_service_endpoint, SERVICE_PARAMS, PUBLIC, pageable=True),  # an alias (§17.2)
    "get_downtime": Method(get_downtime, DOWNTIME_PARAMS, PUBLIC, pageable=True),
    "get_downtime_nested_services": Method(get_downtime_nested_services, DOWNTIME_PARAMS, PUBLIC, pageable=True),
    "get_downtime_to_broadcast": Method(get_downtime_to_broadcast, BROADCAST_PARAMS, PUBLIC, pageable=True),
    "get_service_group": Method(get_service_group, GROUP_PARAMS | {"extensions"}, PRIVATE, pageable=True),
    "get_service_group_role": Method(get_service_group_role, GROUP_PARAMS, PRIVATE, pageable=True),
}
