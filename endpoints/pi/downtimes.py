"""PI methods get_downtime, get_downtime_nested_services and get_downtime_to_broadcast."""

import calendar
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from egiportal.pi import (
    Listing,
    PIError,
    among,
    epoch,
    extensions_filter,
    grouped,
    scope_filter,
    url_template,
    yes_no,
)
from egiportal.pixml import Writer

from ..choices import Classification
from ..models import (
    Downtime,
    Service,
)

FORMATTED_DATE = "%Y-%m-%d %H:%M"
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")

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
