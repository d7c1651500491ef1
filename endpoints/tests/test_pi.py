"""The endpoints-side GOCDB PI methods (specs/gocdb.md §11, §17) through the test client: output
against GOCDB's own samples, every parameter, hostile input, cursor paging, query counts and the
protection of the private methods."""

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import etree

from egiportal.models import Identity
from egiportal.pi import url_template
from egiportal.tests.factories import UserFactory
from endpoints.models import (
    Downtime,
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceProperty,
    ServiceType,
)
from endpoints.pi import METHODS
from endpoints.pi.downtimes import month_before
from endpoints.tests.factories import (
    DowntimeFactory,
    EndpointFactory,
    ServiceFactory,
    ServiceGroupFactory,
    service_type,
)
from sites.choices import RoleStatus
from sites.models import NGI, APICredential, Country, Scope
from sites.tests.factories import NGIFactory, SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

URL = "/gocdbpi/public/"
SAMPLES = Path(__file__).resolve().parents[2] / "egiportal" / "tests" / "gocdb_samples"
NO_IDENTIFIER = "No valid identifier found. Try accessing the resource through the private interface."
PAGEABLE = sorted(name for name, method in METHODS.items() if method.pageable)
PRIVATE_METHODS = ("get_service_group", "get_service_group_role")
H, D = timedelta(hours=1), timedelta(days=1)


# ---------------------------------------------------------------- calling the PI


def body(response):
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def call(client, method, headers=None, **params):
    """The raw reply of `method` with `params`."""
    return body(client.get(URL, {"method": method, **params}, headers=headers or {}))


def parse(client, method, headers=None, **params):
    content = call(client, method, headers, **params)
    assert content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<results>\n'), content[:300]
    return etree.fromstring(content)


def error(client, method, **params):
    """The message of a GOCDB `<error>` reply."""
    content = call(client, method, **params).decode()
    match = re.fullmatch(r"<error>(.*)</error>", content, re.DOTALL)
    assert match, content[:300]
    return match[1]


def ids(client, method, tag="SERVICE_ENDPOINT", attr="PRIMARY_KEY", **params):
    """The `attr` of every `tag` child, suffix G0 dropped, as ints."""
    return [int(el.get(attr).removesuffix("G0")) for el in parse(client, method, **params).iter(tag)]


def bearer(site=None):
    """Headers of a caller holding a registered portal-token API credential."""
    _, secret = api_credential(site or SiteFactory(), kind=APICredential.Kind.TOKEN)
    return {"Authorization": f"Bearer {secret}"}


def scope(name):
    return Scope.objects.get_or_create(name=name)[0]


# ---------------------------------------------------------------- golden files from GOCDB 5.12.4

PAGE_TYPES = {
    "Service": "endpoints:service",
    "Downtime": "endpoints:downtime",
    "Service_Group": "endpoints:servicegroup",
}


def expected_from_sample(name):
    """A sample with GOCDB's instance URL and portal links turned into this portal's."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    # Paging links name the server the client called (the test client's), portal pages PORTAL_URL.
    text = text.replace("https://localhost/gocdbpi/", "http://testserver/gocdbpi/")
    portal_link = r"https://localhost/portal/index\.php\?Page_Type=(\w+)&amp;id=(\d+)"
    text = re.sub(portal_link, lambda m: url_template(PAGE_TYPES[m[1]]).format(m[2]), text)
    assert "localhost" not in text
    return text.encode()


def text(el, tag):
    return el.findtext(tag) or ""


def build_sites(names):
    """{short name: Site} for (short name, country name, country code, NGI name) tuples."""
    sites = {}
    for short_name, country_name, code, ngi_name in names:
        country, _ = Country.objects.update_or_create(code=code, defaults={"name": country_name})
        ngi = NGI.objects.filter(name=ngi_name).first() or NGIFactory(name=ngi_name)
        sites[short_name] = SiteFactory(short_name=short_name, ngi=ngi, country=country)
    return sites


def build_services_sample(root):
    """The services, endpoints, properties and scopes of get_service_endpoint_page1.xml with their ids.
    The ids the sample skips (GOCDB hides services of Closed sites) get services at a Closed site."""
    records = root.findall("SERVICE_ENDPOINT")
    # Scopes are listed by id; GOCDB's sample database created them as Local, EGI, wlcg.
    Scope.objects.filter(name__in=["Local", "EGI", "wlcg"]).delete()
    Scope.objects.bulk_create(Scope(pk=pk, name=name) for pk, name in enumerate(["Local", "EGI", "wlcg"], start=1))
    sites = build_sites(
        {(text(r, "SITENAME"), text(r, "COUNTRY_NAME"), text(r, "COUNTRY_CODE"), text(r, "ROC_NAME")) for r in records}
    )
    services, endpoints, endpoint_properties, properties, scope_links = [], [], [], [], []
    for r in records:
        pk = int(r.get("PRIMARY_KEY").removesuffix("G0"))
        services.append(
            Service(
                pk=pk,
                site=sites[text(r, "SITENAME")],
                service_type=service_type(text(r, "SERVICE_TYPE")),
                hostname=text(r, "HOSTNAME"),
                description="From GOCDB's sample",
                dn=text(r, "HOSTDN"),
                operating_system=text(r, "HOST_OS"),
                architecture=text(r, "HOST_ARCH"),
                ip_address=text(r, "HOST_IP"),
                ipv6_address=text(r, "HOST_IPV6"),
                beta=text(r, "BETA") == "Y",
                production=text(r, "IN_PRODUCTION") == "Y",
                monitored=text(r, "NODE_MONITORED") == "Y",
                notify=text(r, "NOTIFICATIONS") == "Y",
                url=text(r, "URL"),
            )
        )
        scope_links += [Service.scopes.through(service_id=pk, scope=scope(s.text)) for s in r.find("SCOPES")]
        for ext in r.find("EXTENSIONS"):
            properties.append(ServiceProperty(pk=int(text(ext, "LOCAL_ID")), parent_id=pk, **key_value(ext)))
        for ep in r.find("ENDPOINTS"):
            endpoints.append(endpoint_from(ep, pk))
            for ext in ep.find("EXTENSIONS"):
                endpoint_properties.append(
                    EndpointProperty(pk=int(text(ext, "LOCAL_ID")), parent_id=endpoints[-1].pk, **key_value(ext))
                )
    closed = SiteFactory(certification_status="Closed")
    shown = {s.pk for s in services}
    hidden = [pk for pk in range(1, max(shown)) if pk not in shown]
    services += [
        Service(pk=pk, site=closed, service_type=service_type(), hostname=f"closed{pk}.example.org") for pk in hidden
    ]
    Service.objects.bulk_create(services)
    Service.scopes.through.objects.bulk_create(scope_links)
    EndpointLocation.objects.bulk_create(endpoints)
    EndpointProperty.objects.bulk_create(endpoint_properties)
    ServiceProperty.objects.bulk_create(properties)
    return hidden


def key_value(ext):
    return {"key": text(ext, "KEY"), "value": text(ext, "VALUE")}


def endpoint_from(ep, service_id):
    return EndpointLocation(
        pk=int(text(ep, "ID")),
        service_id=service_id,
        name=text(ep, "NAME"),
        url=text(ep, "URL"),
        interface_name=text(ep, "INTERFACENAME"),
        monitored=text(ep, "ENDPOINT_MONITORED") == "Y",
    )


def test_get_service_endpoint_matches_gocdb_sample(client):
    expected = expected_from_sample("get_service_endpoint_page1.xml")
    hidden = build_services_sample(etree.fromstring(expected))
    assert len(hidden) == 12  # the sample's next_cursor (112) is reached past them
    assert call(client, "get_service_endpoint", next_cursor="0") == expected
    alias = call(client, "get_service", next_cursor="0")
    assert alias == expected.replace(b"method=get_service_endpoint", b"method=get_service")


def build_downtimes_sample(root):
    """The downtimes of get_downtime_page1.xml with their ids, keys, dates and affected endpoints.
    The sample names services by host and type only: their ids follow their endpoints' ids, which
    keeps each downtime's services in the sample's order (GOCDB orders them by id)."""
    records = root.findall("DOWNTIME")
    nl = Country.objects.get(code="NL")
    ngi = NGIFactory(name="NGI_SAMPLE")
    sites = {
        name: SiteFactory(short_name=name, ngi=ngi, country=nl) for name in {text(r, "HOSTED_BY") for r in records}
    }
    endpoints_of = defaultdict(dict)
    for r in records:
        for ep in r.find("AFFECTED_ENDPOINTS"):
            endpoints_of[(text(r, "HOSTNAME"), text(r, "SERVICE_TYPE"), text(r, "HOSTED_BY"))][text(ep, "ID")] = ep
    order = sorted(endpoints_of, key=lambda key: min(int(i) for i in endpoints_of[key]))
    service_ids = {key: n for n, key in enumerate(order, start=1)}
    Service.objects.bulk_create(
        Service(pk=pk, site=sites[site], service_type=service_type(type_name), hostname=host)
        for (host, type_name, site), pk in service_ids.items()
    )
    EndpointLocation.objects.bulk_create(
        endpoint_from(ep, service_ids[key]) for key, eps in endpoints_of.items() for ep in eps.values()
    )
    by_id = defaultdict(list)
    for r in records:
        by_id[int(r.get("ID"))].append(r)
    for pk, rows in by_id.items():
        first = rows[0]

        def moment(tag, first=first):
            return datetime.fromtimestamp(int(text(first, tag)), UTC)

        downtime = Downtime.objects.create(
            pk=pk,
            site=sites[text(first, "HOSTED_BY")],
            primary_key=first.get("PRIMARY_KEY"),
            classification=first.get("CLASSIFICATION"),
            severity=text(first, "SEVERITY"),
            description=text(first, "DESCRIPTION"),
            start=moment("START_DATE"),
            end=moment("END_DATE"),
        )
        Downtime.objects.filter(pk=pk).update(created=moment("INSERT_DATE"))
        keys = [(text(r, "HOSTNAME"), text(r, "SERVICE_TYPE"), text(r, "HOSTED_BY")) for r in rows]
        downtime.services.set([service_ids[key] for key in keys])
        downtime.endpoints.set([int(text(ep, "ID")) for r in rows for ep in r.find("AFFECTED_ENDPOINTS")])


def test_get_downtime_matches_gocdb_sample(client):
    expected = expected_from_sample("get_downtime_page1.xml")
    build_downtimes_sample(etree.fromstring(expected))
    assert call(client, "get_downtime", next_cursor="0") == expected


def test_get_service_types_matches_gocdb_sample(client):
    expected = (SAMPLES / "get_service_types.xml").read_bytes()
    ServiceType.objects.all().delete()  # the migrations seed EGI's types
    ServiceType.objects.bulk_create(
        ServiceType(
            pk=int(el.get("TYPE_ID").removesuffix("G0")),
            name=text(el, "SERVICE_TYPE_NAME"),
            description=text(el, "SERVICE_TYPE_DESC"),
        )
        for el in etree.fromstring(expected)
    )
    assert call(client, "get_service_types") == expected


# ---------------------------------------------------------------- the text writer


# ---------------------------------------------------------------- a small federation


@pytest.fixture
def world():
    """Services at an open Dutch site, a suspended German one and a closed Dutch one, with scopes,
    properties and endpoints, and downtimes past, ongoing and future."""
    egi, local, wlcg = scope("EGI"), scope("Local"), scope("wlcg")
    nl, de = Country.objects.get(code="NL"), Country.objects.get(code="DE")
    ngi_nl, ngi_de = NGIFactory(name="NGI_NL"), NGIFactory(name="NGI_DE")
    ams = SiteFactory(short_name="NL-AMS", ngi=ngi_nl, country=nl)
    ber = SiteFactory(short_name="DE-BER", ngi=ngi_de, country=de, certification_status="Suspended")
    old = SiteFactory(short_name="NL-OLD", ngi=ngi_nl, country=nl, certification_status="Closed")
    ams.properties.create(key="tier", value="2")
    w = SimpleNamespace(ams=ams, ber=ber, old=old)
    w.cloud = ServiceFactory(
        site=ams, hostname="cloud.ams.example.org", service_type=service_type("org.openstack.nova"), scopes=[egi]
    )
    w.storage = ServiceFactory(
        site=ams,
        hostname="se.ams.example.org",
        service_type=service_type("webdav"),
        scopes=[egi, wlcg],
        monitored=False,
        production=False,
        dn="/DC=org/CN=se.ams.example.org",
        url="https://se.ams.example.org/",
    )
    w.ce = ServiceFactory(site=ber, hostname="ce.ber.example.org", service_type=service_type("ARC-CE"), scopes=[local])
    w.gone = ServiceFactory(site=old, hostname="old.ams.example.org", scopes=[egi])
    w.storage.properties.create(key="vo", value="atlas")
    w.cloud.properties.create(key="vo", value="ops")
    w.ce.properties.create(key="ARGO_HOST", value="ce")
    w.se_ep1 = EndpointFactory(service=w.storage, name="se-https", monitored=True)
    w.se_ep2 = EndpointFactory(service=w.storage, name="se-xroot", url="root://se.ams.example.org:1094/")
    w.cloud_ep = EndpointFactory(service=w.cloud, name="nova")
    w.cloud_ep.properties.create(key="interface.version", value="v2.1")
    now = timezone.now()
    w.past = downtime([w.cloud], now - 10 * D, now - 9 * D, severity="WARNING", created=now - 12 * D)
    w.ongoing = downtime(
        [w.cloud, w.storage], now - H, now + H, classification="UNSCHEDULED", endpoints=[w.se_ep2], created=now - 2 * H
    )
    w.future = downtime([w.ce], now + 5 * D, now + 6 * D, created=now - 3 * D)
    w.closed = downtime([w.gone], now + 5 * D, now + 6 * D, created=now - 3 * D)
    return w


def downtime(services, start, end, severity="OUTAGE", classification="SCHEDULED", endpoints=(), created=None):
    item = DowntimeFactory(
        service=services[0],
        services=services,
        start=start,
        end=end,
        severity=severity,
        classification=classification,
        description=f"{severity.lower()} of {services[0].hostname} & co <now>",
    )
    item.endpoints.set(endpoints)
    if created:
        Downtime.objects.filter(pk=item.pk).update(created=created)
        item.refresh_from_db()
    return item


def empty(el):
    return etree.tostring(el, with_tail=False) == f"<{el.tag}/>".encode()


def pks(*objects):
    return [obj.pk for obj in objects]


# ---------------------------------------------------------------- get_service / get_service_endpoint


def test_get_service_lists_services_of_open_sites_by_id(client, world):
    assert ids(client, "get_service_endpoint") == pks(world.cloud, world.storage, world.ce)
    assert call(client, "get_service") == call(client, "get_service_endpoint")


def test_get_service_renders_one_service(client, world):
    (el,) = parse(client, "get_service", hostname="se.ams.example.org")
    assert [child.tag for child in el] == [
        "PRIMARY_KEY",
        "HOSTNAME",
        "GOCDB_PORTAL_URL",
        "HOSTDN",
        "BETA",
        "SERVICE_TYPE",
        "CORE",
        "IN_PRODUCTION",
        "NODE_MONITORED",
        "NOTIFICATIONS",
        "SITENAME",
        "COUNTRY_NAME",
        "COUNTRY_CODE",
        "ROC_NAME",
        "URL",
        "ENDPOINTS",
        "SCOPES",
        "EXTENSIONS",
    ]
    assert el.get("PRIMARY_KEY") == el.findtext("PRIMARY_KEY") == f"{world.storage.pk}G0"
    assert el.findtext("GOCDB_PORTAL_URL") == f"{settings.PORTAL_URL}/services/{world.storage.pk}/"
    assert (el.findtext("IN_PRODUCTION"), el.findtext("NODE_MONITORED"), el.findtext("BETA")) == ("N", "N", "N")
    assert (el.findtext("SITENAME"), el.findtext("COUNTRY_NAME"), el.findtext("ROC_NAME")) == (
        "NL-AMS",
        "Netherlands",
        "NGI_NL",
    )
    assert [e.findtext("ID") for e in el.find("ENDPOINTS")] == [str(world.se_ep1.pk), str(world.se_ep2.pk)]
    assert [e.findtext("ENDPOINT_MONITORED") for e in el.find("ENDPOINTS")] == ["Y", "N"]
    assert [s.text for s in el.find("SCOPES")] == ["EGI", "wlcg"]
    assert [(x.findtext("KEY"), x.findtext("VALUE")) for x in el.find("EXTENSIONS")] == [("vo", "atlas")]
    (ce,) = parse(client, "get_service", hostname="ce.ber.example.org")
    assert ce.find("HOSTDN") is None
    assert empty(ce.find("URL")) and empty(ce.find("ENDPOINTS")) and empty(ce.find("CORE"))


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"hostname": "se.ams.example.org"}, ["storage"]),
        ({"hostname": "%.ams.%"}, ["cloud", "storage"]),
        ({"hostname": "SE.AMS.EXAMPLE.ORG"}, []),  # LIKE is case-sensitive, as on GOCDB's collation
        ({"hostname": "old.ams.example.org"}, []),  # services of Closed sites are hidden
        ({"sitename": "DE-B_R"}, ["ce"]),
        ({"roc": "NGI_NL"}, ["cloud", "storage"]),
        ({"country": "Germany"}, ["ce"]),
        ({"country": "DE"}, []),  # the country name, not its code
        ({"service_type": "web%"}, ["storage"]),
        ({"monitored": "N"}, ["storage"]),
        ({"monitored": "n"}, ["storage"]),
        ({"monitored": "Y"}, ["cloud", "ce"]),
        ({"monitored": "y"}, ["cloud", "ce"]),
        ({"monitored": "maybe"}, ["cloud", "storage", "ce"]),  # other values are ignored
        ({"scope": "wlcg"}, ["storage"]),
        ({"scope": "EGI,Local", "scope_match": "any"}, ["cloud", "storage", "ce"]),
        ({"scope": "EGI,wlcg", "scope_match": "all"}, ["storage"]),
        ({"scope": "EGI,wlcg"}, ["storage"]),  # scope_match defaults to all
        ({"scope": ""}, ["cloud", "storage", "ce"]),
        ({"scope": "nosuchscope"}, []),
        ({"extensions": "(vo=atlas)"}, ["storage"]),
        ({"extensions": "(vo=)"}, ["cloud", "storage"]),
        ({"extensions": "(vo=)NOT(vo=ops)"}, ["storage"]),
        ({"extensions": "(vo=ops)OR(ARGO_HOST=ce)"}, ["cloud", "ce"]),
        ({"apikey": "x", "output": "xml"}, ["cloud", "storage", "ce"]),
    ],
)
def test_get_service_filters(client, world, params, expected):
    assert ids(client, "get_service_endpoint", **params) == pks(*(getattr(world, name) for name in expected))


@pytest.mark.parametrize(
    "extensions, message",
    [
        ("vo=atlas", "Illegal operator in expression: vo=atlas"),
        ("=x", "Invalid query expression"),
        ("(vo=1", "Invalid query expression"),
        ("(vo)", "Invalid key=value pair, missing = char"),
        ("(v$o=1)", "Invalid key=value pair, invalid key"),
        ("(vo=1)XOR(vo=2)", "Illegal operator in expression: XOR(vo=2)"),
        ("(vo=(1))", "Invalid query expression"),
        ("", "Query expression is null or empty"),
    ],
)
def test_bad_extensions_get_gocdb_plain_text_reply(client, world, extensions, message):
    for method in ("get_service", "get_downtime"):
        name = "extensions" if method == "get_service" else "service_extensions"
        assert call(client, method, **{name: extensions}).decode() == message


# ---------------------------------------------------------------- get_downtime, get_downtime_nested_services


def shown(client, method="get_downtime", **params):
    """(downtime id, service id) of every DOWNTIME element."""
    root = parse(client, method, **params)
    return [
        (int(el.get("ID")), Service.objects.get(hostname=el.findtext("HOSTNAME")).pk) for el in root.iter("DOWNTIME")
    ]


def pairs(world, *names):
    """(downtime id, service id) for "downtime.service" names."""
    result = []
    for name in names:
        item, service = name.split(".")
        result.append((getattr(world, item).pk, getattr(world, service).pk))
    return result


ALL_DOWNTIMES = ("past.cloud", "ongoing.cloud", "ongoing.storage", "future.ce", "closed.gone")


def test_get_downtime_repeats_a_downtime_per_service(client, world):
    assert shown(client) == pairs(world, *ALL_DOWNTIMES)


def test_get_downtime_renders_a_downtime(client, world):
    cloud, storage = parse(client, "get_downtime", id=str(world.ongoing.pk))
    assert [child.tag for child in storage] == [
        "PRIMARY_KEY",
        "HOSTNAME",
        "SERVICE_TYPE",
        "ENDPOINT",
        "HOSTED_BY",
        "GOCDB_PORTAL_URL",
        "AFFECTED_ENDPOINTS",
        "SEVERITY",
        "DESCRIPTION",
        "INSERT_DATE",
        "START_DATE",
        "END_DATE",
        "FORMATED_START_DATE",
        "FORMATED_END_DATE",
    ]
    d = world.ongoing
    assert dict(storage.attrib) == {"ID": str(d.pk), "PRIMARY_KEY": d.primary_key, "CLASSIFICATION": "UNSCHEDULED"}
    assert storage.findtext("ENDPOINT") == "se.ams.example.orgwebdav"
    assert storage.findtext("HOSTED_BY") == "NL-AMS"
    assert storage.findtext("GOCDB_PORTAL_URL") == f"{settings.PORTAL_URL}/downtimes/{d.pk}/"
    assert storage.findtext("DESCRIPTION") == "outage of cloud.ams.example.org & co <now>"
    assert storage.findtext("INSERT_DATE") == str(int(d.created.timestamp()))
    assert storage.findtext("START_DATE") == str(int(d.start.timestamp()))
    assert storage.findtext("END_DATE") == str(int(d.end.timestamp()))
    assert storage.findtext("FORMATED_START_DATE") == d.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert storage.findtext("FORMATED_END_DATE") == d.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    (endpoint,) = storage.find("AFFECTED_ENDPOINTS")
    assert [(c.tag, c.text) for c in endpoint] == [
        ("ID", str(world.se_ep2.pk)),
        ("NAME", "se-xroot"),
        ("URL", "root://se.ams.example.org:1094/"),
        ("INTERFACENAME", world.se_ep2.interface_name),
        ("ENDPOINT_MONITORED", "N"),
    ]
    assert empty(cloud.find("AFFECTED_ENDPOINTS"))  # only the service's own endpoints are listed


def test_get_downtime_nested_services_lists_services_inside(client, world):
    root = parse(client, "get_downtime_nested_services")
    assert [int(el.get("ID")) for el in root] == pks(world.past, world.ongoing, world.future, world.closed)
    ongoing = root[1]
    assert [child.tag for child in ongoing] == [
        "SEVERITY",
        "DESCRIPTION",
        "INSERT_DATE",
        "START_DATE",
        "END_DATE",
        "FORMATED_START_DATE",
        "FORMATED_END_DATE",
        "GOCDB_PORTAL_URL",
        "SERVICES",
    ]
    cloud, storage = ongoing.find("SERVICES")
    assert [child.tag for child in storage] == [
        "PRIMARY_KEY",
        "HOSTNAME",
        "SERVICE_TYPE",
        "ENDPOINT",
        "HOSTED_BY",
        "AFFECTED_ENDPOINTS",
    ]
    assert storage.findtext("PRIMARY_KEY") == f"{world.storage.pk}G0"
    assert [e.findtext("ID") for e in storage.find("AFFECTED_ENDPOINTS")] == [str(world.se_ep2.pk)]
    assert empty(cloud.find("AFFECTED_ENDPOINTS"))
    scoped = parse(client, "get_downtime_nested_services", scope="wlcg")
    assert [s.findtext("HOSTNAME") for s in scoped.iter("SERVICE")] == ["se.ams.example.org"]


def moment(offset):
    """A downtime parameter value `offset` from now, to the second."""
    return f"{timezone.now() + offset:%Y-%m-%d %H:%M:%S}"


@pytest.mark.parametrize(
    "params, expected",
    [
        (lambda: {"ongoing_only": "yes"}, ["ongoing.cloud", "ongoing.storage"]),
        (lambda: {"ongoing_only": "no"}, ["ongoing.cloud", "ongoing.storage"]),  # GOCDB's quirk (§13.2)
        (lambda: {"ongoing_only": "no", "startdate": moment(-2 * H)}, ["ongoing.cloud", "ongoing.storage"]),
        (lambda: {"startdate": moment(-2 * D)}, ["ongoing.cloud", "ongoing.storage", "future.ce", "closed.gone"]),
        (lambda: {"enddate": moment(2 * H)}, ["past.cloud", "ongoing.cloud", "ongoing.storage"]),
        (lambda: {"startdate": moment(-2 * D), "enddate": moment(2 * H)}, ["ongoing.cloud", "ongoing.storage"]),
        (lambda: {"windowstart": moment(-D)}, ["ongoing.cloud", "ongoing.storage", "future.ce", "closed.gone"]),
        (lambda: {"windowend": moment(-D)}, ["past.cloud", "ongoing.cloud", "ongoing.storage"]),  # + 1 day
        (lambda: {"windowend": moment(-D - 2 * H)}, ["past.cloud"]),
        (lambda: {"windowstart": moment(-D), "windowend": moment(-H / 2)}, ["ongoing.cloud", "ongoing.storage"]),
        (lambda: {"windowend": "9999-12-31"}, list(ALL_DOWNTIMES)),
        (
            lambda: {"startdate": f"@{int((timezone.now() - 2 * D).timestamp())}"},
            ["ongoing.cloud", "ongoing.storage", "future.ce", "closed.gone"],
        ),
        (lambda: {"topentity": "se.ams.example.org"}, ["ongoing.storage"]),  # only the matching service
        (lambda: {"topentity": "NL-AMS"}, ["past.cloud", "ongoing.cloud", "ongoing.storage"]),
        (lambda: {"topentity": "NGI_DE"}, ["future.ce"]),
        (lambda: {"topentity": "Germany"}, ["future.ce"]),
        (lambda: {"topentity": "NL-%"}, ["past.cloud", "ongoing.cloud", "ongoing.storage", "closed.gone"]),
        (lambda: {"scope": "wlcg"}, ["ongoing.storage"]),
        (lambda: {"scope": "Local,wlcg", "scope_match": "any"}, ["ongoing.storage", "future.ce"]),
        (lambda: {"scope": ""}, list(ALL_DOWNTIMES)),
        (lambda: {"site_extensions": "(tier=2)"}, ["past.cloud", "ongoing.cloud", "ongoing.storage"]),
        (lambda: {"service_extensions": "(vo=atlas)"}, ["ongoing.storage"]),
        (lambda: {"service_extensions": "NOT(vo=)"}, ["future.ce", "closed.gone"]),
        (lambda: {"severity": "WARNING"}, ["past.cloud"]),
        (lambda: {"severity": "warning"}, []),
        (lambda: {"classification": "UNSCHEDULED"}, ["ongoing.cloud", "ongoing.storage"]),
        (lambda: {"production": "0"}, ["ongoing.storage"]),
        (lambda: {"production": "1"}, ["past.cloud", "ongoing.cloud", "future.ce", "closed.gone"]),
        (lambda: {"monitored": "0"}, ["ongoing.storage"]),
        (lambda: {"certification_status": "Susp%"}, ["future.ce"]),
        (lambda: {"certification_status": "Closed"}, ["closed.gone"]),
        (lambda: {"sitelist": "NL-AMS,DE-BER"}, ["past.cloud", "ongoing.cloud", "ongoing.storage", "future.ce"]),
        (lambda: {"ngilist": "NGI_DE"}, ["future.ce"]),
        (lambda: {"service_type_list": "webdav,ARC-CE"}, ["ongoing.storage", "future.ce"]),
        (lambda: {"servicelist": "anything"}, list(ALL_DOWNTIMES)),  # accepted and ignored, as by GOCDB
        (lambda: {"apikey": "k", "output": "xml"}, list(ALL_DOWNTIMES)),
    ],
)
def test_get_downtime_filters(client, world, params, expected):
    assert shown(client, **params()) == pairs(world, *expected)


def test_get_downtime_id_and_all_lastmonth(client, world):
    assert shown(client, id=str(world.future.pk)) == pairs(world, "future.ce")
    assert shown(client, id="99999999999999999") == []
    ancient = downtime([world.cloud], timezone.now() - 60 * D, timezone.now() - 59 * D)
    assert (ancient.pk, world.cloud.pk) in shown(client)
    assert shown(client, all_lastmonth="1") == pairs(world, *ALL_DOWNTIMES)
    assert shown(client, all_lastmonth="", topentity="DE-BER", scope="Local") == pairs(world, "future.ce")
    assert month_before(datetime(2024, 3, 31, 12, tzinfo=UTC)) == datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert month_before(datetime(2024, 1, 15, tzinfo=UTC)) == datetime(2023, 12, 15, tzinfo=UTC)


def test_get_downtime_lists_a_downtime_only_with_matching_services(client, world):
    assert shown(client, topentity="se.ams.example.org") == pairs(world, "ongoing.storage")
    nested = parse(client, "get_downtime_nested_services", topentity="%.example.org", scope="Local")
    assert [int(el.get("ID")) for el in nested] == pks(world.future)
    # A downtime left without services (the services never do that) shows no service.
    world.future.services.clear()
    assert shown(client) == pairs(world, "past.cloud", "ongoing.cloud", "ongoing.storage", "closed.gone")
    (future,) = parse(client, "get_downtime_nested_services", id=str(world.future.pk))
    assert empty(future.find("SERVICES"))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"ongoing_only": "maybe"}, "Invalid ongoing_only value - must be 'yes' or 'no'"),
        ({"ongoing_only": "YES"}, "Invalid ongoing_only value - must be 'yes' or 'no'"),
        (
            {"ongoing_only": "yes", "startdate": "2024-01-01"},
            "Invalid parameter combination - do not specify startdate or enddate with ongoing_only",
        ),
        (
            {"ongoing_only": "yes", "enddate": "2024-01-01"},
            "Invalid parameter combination - do not specify startdate or enddate with ongoing_only",
        ),
        *(
            (
                {"all_lastmonth": "1", name: "2024-01-01" if name != "ongoing_only" else "no"},
                "Invalid parameters - only scope, scope_match, topentity params allowed when specifying all_lastmonth",
            )
            for name in ("ongoing_only", "startdate", "enddate", "windowstart", "windowend")
        ),
        ({"startdate": "yesterday-ish"}, "Invalid startdate value - must be a date as YYYY-MM-DD: yesterday-ish"),
        ({"enddate": "2024-13-45"}, "Invalid enddate value - must be a date as YYYY-MM-DD: 2024-13-45"),
        ({"windowstart": "@999999999999"}, "Invalid windowstart value - must be a date as YYYY-MM-DD: @999999999999"),
        ({"windowend": ""}, "Invalid windowend value - must be a date as YYYY-MM-DD: "),
        ({"id": "abc"}, "Invalid 'id' parameter - must be a whole number greater than or equal to zero"),
        ({"id": "-1"}, "Invalid 'id' parameter - must be a whole number greater than or equal to zero"),
        ({"id": "1" * 19}, "Invalid 'id' parameter - must be a whole number greater than or equal to zero"),
        ({"production": "maybe"}, "Invalid production value - must be 1 or 0"),
        ({"monitored": ""}, "Invalid monitored value - must be 1 or 0"),
    ],
)
def test_get_downtime_bad_values(client, world, params, message):
    for method in ("get_downtime", "get_downtime_nested_services"):
        assert error(client, method, **params) == message


# ---------------------------------------------------------------- get_downtime_to_broadcast


def test_get_downtime_to_broadcast_lists_recently_declared_downtimes(client, world):
    assert shown(client, "get_downtime_to_broadcast") == pairs(world, "ongoing.cloud", "ongoing.storage")
    assert shown(client, "get_downtime_to_broadcast", interval="4") == pairs(
        world, "ongoing.cloud", "ongoing.storage", "future.ce", "closed.gone"
    )
    assert shown(client, "get_downtime_to_broadcast", interval="30", scope="wlcg") == pairs(world, "ongoing.storage")
    assert shown(client, "get_downtime_to_broadcast", interval="30", id=str(world.past.pk)) == pairs(
        world, "past.cloud"
    )
    assert shown(client, "get_downtime_to_broadcast", interval="0") == []
    assert shown(client, "get_downtime_to_broadcast", interval="999999") == pairs(world, *ALL_DOWNTIMES)


def test_get_downtime_to_broadcast_renders_reminders(client, world):
    cloud, storage, ce, _ = parse(client, "get_downtime_to_broadcast", interval="30", scope="")[1:]
    assert [child.tag for child in cloud] == [
        "PRIMARY_KEY",
        "SITENAME",
        "HOSTNAME",
        "SERVICE_TYPE",
        "HOSTED_BY",
        "GOCDB_PORTAL_URL",
        "AFFECTED_ENDPOINTS",
        "SEVERITY",
        "DESCRIPTION",
        "INSERT_DATE",
        "START_DATE",
        "END_DATE",
        "REMINDER_START_DOWNTIME",
        "BROADCASTING_START_DOWNTIME",
    ]
    assert cloud.findtext("SITENAME") == cloud.findtext("HOSTED_BY") == "NL-AMS"
    # Every endpoint of the downtime, whichever service the element is about (as GOCDB does).
    assert [e.findtext("ID") for e in cloud.find("AFFECTED_ENDPOINTS")] == [str(world.se_ep2.pk)]
    # The announce date: when declared if unscheduled, a day before the start if scheduled.
    assert storage.findtext("REMINDER_START_DOWNTIME") == str(int(world.ongoing.created.timestamp()))
    assert ce.findtext("REMINDER_START_DOWNTIME") == str(int((world.future.start - D).timestamp()))
    assert empty(ce.find("BROADCASTING_START_DOWNTIME"))


@pytest.mark.parametrize("interval", ["abc", "1.5", "-1", "", " ", "1e3", "1234567"])
def test_get_downtime_to_broadcast_bad_interval(client, world, interval):
    assert error(client, "get_downtime_to_broadcast", interval=interval) == "interval is not a number"


# ---------------------------------------------------------------- get_service_group, get_service_group_role


@pytest.fixture
def groups(world):
    """Two service groups: one of EGI with members, properties and roles, one of wlcg, empty."""
    w = world
    w.monitoring = ServiceGroupFactory(name="monitoring_tools", monitored=True, email="sg@example.org")
    w.monitoring.scopes.set([scope("EGI")])
    w.monitoring.services.set([w.storage, w.ce])
    w.monitoring.properties.create(key="owner", value="ops")
    w.empty_group = ServiceGroupFactory(name="empty_group", description="Nothing <yet>")
    w.empty_group.scopes.set([scope("wlcg")])
    w.alice = UserFactory(first_name="Alice", last_name="Admin")
    Identity.objects.create(user=w.alice, realm=Identity.Realm.CHECKIN, value="alice@egi.eu")
    Identity.objects.create(user=w.alice, realm=Identity.Realm.X509, value="/DC=org/CN=Alice Admin")
    w.bob = UserFactory(first_name="Bob", last_name="Pending")
    grant(w.alice, "SERVICE_GROUP_ADMIN", w.monitoring)
    grant(w.bob, "SERVICE_GROUP_ADMIN", w.monitoring, status=RoleStatus.PENDING)
    w.bearer = bearer(w.ams)
    return w


def test_get_service_group_renders_members(client, groups):
    monitoring, empty_group = parse(client, "get_service_group", headers=groups.bearer)
    g = groups.monitoring
    assert dict(monitoring.attrib) == {"ID": str(g.pk), "PRIMARY_KEY": f"{g.pk}G0"}
    assert [child.tag for child in monitoring] == [
        "NAME",
        "DESCRIPTION",
        "MONITORED",
        "CONTACT_EMAIL",
        "GOCDB_PORTAL_URL",
        "SERVICE_ENDPOINT",
        "SERVICE_ENDPOINT",
        "SCOPES",
        "EXTENSIONS",
    ]
    assert (monitoring.findtext("NAME"), monitoring.findtext("MONITORED")) == ("monitoring_tools", "Y")
    assert monitoring.findtext("GOCDB_PORTAL_URL") == f"{settings.PORTAL_URL}/service-groups/{g.pk}/"
    storage, ce = monitoring.findall("SERVICE_ENDPOINT")
    assert storage.get("PRIMARY_KEY") == f"{groups.storage.pk}G0"
    assert [child.tag for child in storage] == [
        "HOSTNAME",
        "GOCDB_PORTAL_URL",
        "SERVICE_TYPE",
        "HOST_IP",
        "HOST_IPV6",
        "HOSTDN",
        "IN_PRODUCTION",
        "NODE_MONITORED",
        "ENDPOINTS",
        "SCOPES",
        "EXTENSIONS",
    ]
    assert storage.findtext("HOSTDN") == "/DC=org/CN=se.ams.example.org" and empty(ce.find("HOSTDN"))
    first = storage.find("ENDPOINTS")[0]
    assert [child.tag for child in first] == [
        "ID",
        "NAME",
        "EXTENSIONS",
        "URL",
        "INTERFACENAME",
        "ENDPOINT_MONITORED",
        "CONTACT_EMAIL",
    ]
    assert [s.text for s in storage.find("SCOPES")] == ["EGI", "wlcg"]
    assert [s.text for s in monitoring.find("SCOPES")] == ["EGI"]
    assert [(x.findtext("KEY"), x.findtext("VALUE")) for x in monitoring.find("EXTENSIONS")] == [("owner", "ops")]
    assert empty_group.findtext("DESCRIPTION") == "Nothing <yet>" and empty(empty_group.find("CONTACT_EMAIL"))
    assert empty(empty_group.find("EXTENSIONS")) and empty_group.find("SERVICE_ENDPOINT") is None


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"service_group_name": "monitoring_tools"}, ["monitoring"]),
        ({"service_group_name": "%group"}, ["empty_group"]),
        ({"scope": "wlcg"}, ["empty_group"]),
        ({"scope": "EGI,wlcg", "scope_match": "any"}, ["monitoring", "empty_group"]),
        ({"scope": "EGI,wlcg"}, []),
        ({"extensions": "(owner=ops)"}, ["monitoring"]),
        ({"extensions": "NOT(owner=)"}, ["empty_group"]),
    ],
)
def test_get_service_group_filters(client, groups, params, expected):
    found = ids(client, "get_service_group", tag="SERVICE_GROUP", attr="ID", headers=groups.bearer, **params)
    assert found == pks(*(getattr(groups, name) for name in expected))
    if "extensions" not in params:
        roles = ids(client, "get_service_group_role", tag="SERVICE_GROUP", attr="ID", headers=groups.bearer, **params)
        assert roles == found


def test_get_service_group_role_lists_every_role(client, groups):
    monitoring, empty_group = parse(client, "get_service_group_role", headers=groups.bearer)
    assert [child.tag for child in monitoring] == [
        "NAME",
        "DESCRIPTION",
        "MONITORED",
        "CONTACT_EMAIL",
        "GOCDB_PORTAL_URL",
        "USER",
        "USER",
    ]
    alice, bob = monitoring.findall("USER")
    assert [(child.tag, child.text) for child in alice] == [
        ("FORENAME", "Alice"),
        ("SURNAME", "Admin"),
        ("CERTDN", "/DC=org/CN=Alice Admin"),  # the default identity: the X.509 DN first
        ("GOCDB_PORTAL_URL", None),
        ("ROLE", "Service Group Administrator"),
    ]
    # Pending requests are listed too (GOCDB quirk, §13.7); a user without identities has no CERTDN.
    assert (bob.findtext("SURNAME"), bob.findtext("ROLE")) == ("Pending", "Service Group Administrator")
    assert empty(bob.find("CERTDN"))
    assert empty_group.find("USER") is None


# ---------------------------------------------------------------- who may call


@pytest.mark.parametrize("method", PRIVATE_METHODS)
def test_private_methods_refuse_anonymous_callers(client, groups, method):
    assert call(client, method).decode() == NO_IDENTIFIER
    basic = {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}  # placeholder credentials some clients send
    assert call(client, method, headers=basic).decode() == NO_IDENTIFIER
    unknown = client.get(URL, {"method": method}, headers={"Authorization": "Bearer egip_not-a-registered-token"})
    assert unknown.status_code == 401 and unknown.content.decode() == "Unknown or revoked token."
    assert parse(client, method, headers=groups.bearer).find("SERVICE_GROUP") is not None


@pytest.mark.parametrize("method", sorted(set(METHODS) - set(PRIVATE_METHODS)))
def test_public_methods_ignore_basic_authorization(client, groups, method):
    basic = {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}
    assert call(client, method, headers=basic) == call(client, method)
    assert call(client, method, headers=groups.bearer) == call(client, method)


# ---------------------------------------------------------------- hostile and malformed input (every method)


def headers_for(method, site):
    return bearer(site) if method in PRIVATE_METHODS else {}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_rejects_hostile_values(client, world, method):
    h = headers_for(method, world.ams)
    first = min(METHODS[method].params, default="apikey")  # get_service_types takes only apikey/output
    assert error(client, method, headers=h, nosuch="1") == "Unsupported parameter: nosuch"
    assert error(client, method, headers=h, page="2") == "Unsupported parameter: page"  # no longer accepted
    for value in ("x'", 'x"', "x`1", "1 OR 1=1'--"):
        assert error(client, method, headers=h, **{first: value}) == f"Unsuported chracter in value: {value}"
    assert error(client, method, headers=h, **{first: "a" * 1001}).startswith(f"Value of parameter {first} is longer")
    assert call(client, method, headers=h, apikey="secret", output="xml") == call(client, method, headers=h)


@pytest.mark.parametrize("method", PAGEABLE)
@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", "1" * 19, "٣"])
def test_bad_cursors(client, world, method, value):
    h = headers_for(method, world.ams)
    for name in ("next_cursor", "prev_cursor"):
        message = f"Invalid '{name}' parameter - must be a whole number greater than or equal to zero"
        assert error(client, method, headers=h, **{name: value}) == message
    both = "It is invalid to specify both 'next_cursor' and 'prev_cursor' parameters in the same query"
    assert error(client, method, headers=h, next_cursor="1", prev_cursor="5") == both


def test_unknown_method(client):
    assert call(client, "get_service_endpoints").decode() == "Unable to find method: get_service_endpoints"


# ---------------------------------------------------------------- cursor paging


def page(client, url, headers):
    """(records as bytes, meta) of one page at an absolute `url` from a link."""
    assert url.startswith("http://testserver" + URL)  # absolute, back to the server called (§17.5)
    root = etree.fromstring(body(client.get(url.removeprefix("http://testserver"), headers=headers)))
    meta = root[0]
    assert meta.tag == "meta" and all(link.get("rel") for link in meta.iter("link"))
    assert meta.findtext("max_page_size") == str(settings.PI_PAGE_SIZE)
    return [etree.tostring(el, with_tail=False) for el in root[1:]], meta


def link(meta, rel):
    found = meta.find(f"link[@rel='{rel}']")
    return None if found is None else found.get("href")


def cursor_of(href, name):
    return int(parse_qs(urlsplit(href).query)[name][0])


@pytest.fixture
def many(groups):
    """More rows than a page of 2 holds, for every method: 7 services, 7 downtimes (one of two services)
    and 5 service groups in all."""
    w = groups
    for n in range(3):
        service = ServiceFactory(site=w.ams, hostname=f"extra{n}.ams.example.org", scopes=[scope("EGI")])
        EndpointFactory(service=service)
        pair = [service, w.cloud] if n == 1 else [service]
        downtime(pair, timezone.now() - n * H, timezone.now() + D, endpoints=list(service.endpoints.all()))
        ServiceGroupFactory(name=f"group_{n}").services.set([service])
    return w


@pytest.mark.parametrize("method", PAGEABLE)
def test_walking_next_links_gives_the_unpaged_records(client, many, settings, method):
    settings.PI_PAGE_SIZE = 2
    h = headers_for(method, many.ams)
    params = {"interval": "30"} if method == "get_downtime_to_broadcast" else {}
    unpaged = [etree.tostring(el, with_tail=False) for el in parse(client, method, headers=h, **params)]
    query = "&".join(f"{k}={v}" for k, v in {"method": method, **params}.items())
    url, records, pages = f"http://testserver{URL}?{query}&next_cursor=0", [], []
    while url:
        found, meta = page(client, url, h)
        records += found
        pages.append(meta)
        assert link(meta, "self") == url and cursor_of(link(meta, "start"), "next_cursor") == 0
        url = link(meta, "next")
    assert records == unpaged and len(pages) >= 3
    roots = [int(meta.findtext("count")) for meta in pages]
    assert roots[-1] == 0 and all(count == 2 for count in roots[:-2]) and 0 < roots[-2] <= 2
    last = pages[-1]
    assert link(last, "next") is None and link(last, "prev") is not None  # the empty last page
    assert cursor_of(link(last, "prev"), "prev_cursor") == cursor_of(link(pages[-2], "next"), "next_cursor") + 1
    # Walking back with the prev links from the empty last page gives the same records, page by page.
    url, back = link(last, "prev"), []
    while url:
        found, meta = page(client, url, h)
        back = found + back
        assert link(meta, "next") is not None
        url = link(meta, "prev")
        assert (url is None) == (not found)  # until the empty page before the first record
    assert back == unpaged


def test_page_meta_of_gocdb(client, world, settings):
    settings.PI_PAGE_SIZE = 2
    root = parse(client, "get_service_endpoint", next_cursor="0")
    meta = root[0]
    assert [(el.tag, el.get("rel")) for el in meta] == [
        ("link", "self"),
        ("link", "next"),
        ("link", "prev"),
        ("link", "start"),
        ("count", None),
        ("max_page_size", None),
    ]
    assert meta.findtext("count") == "2" and meta.findtext("max_page_size") == "2"
    assert cursor_of(link(meta, "next"), "next_cursor") == world.storage.pk
    assert cursor_of(link(meta, "prev"), "prev_cursor") == world.cloud.pk  # GOCDB links back on page 1 too
    back = parse(client, "get_service_endpoint", prev_cursor=str(world.ce.pk))
    assert [int(el.get("PRIMARY_KEY")[:-2]) for el in back[1:]] == pks(world.cloud, world.storage)
    before_first = parse(client, "get_service_endpoint", prev_cursor=str(world.cloud.pk))[0]
    assert before_first.findtext("count") == "0" and link(before_first, "prev") is None
    assert cursor_of(link(before_first, "next"), "next_cursor") == world.cloud.pk - 1
    # Paging counts downtimes, not the DOWNTIME elements repeated per service.
    downtimes = parse(client, "get_downtime", next_cursor=str(world.past.pk))
    assert downtimes[0].findtext("count") == "2" and len(downtimes) == 1 + 3


# ---------------------------------------------------------------- query counts


def queries(client, method, headers, **params):
    """Queries of one call, read to the end (after a first call, which may record a credential's use)."""
    body(client.get(URL, {"method": method, **params}, headers=headers))
    with CaptureQueriesContext(connection) as captured:
        body(client.get(URL, {"method": method, **params}, headers=headers))
    return len(captured)


def grow(w, n):
    """n more of everything: services with endpoints, properties and scopes; downtimes of two services
    with endpoints; service groups with members, properties, scopes and roles."""
    for i in range(n):
        site = SiteFactory(ngi=w.ams.ngi, country=w.ams.country)
        services = [ServiceFactory(site=site, scopes=[scope("EGI"), scope("wlcg")]) for _ in range(2)]
        for service in services:
            service.properties.create(key="vo", value=f"vo{i}")
            EndpointFactory(service=service).properties.create(key="k", value="v")
        downtime(services, timezone.now() - H, timezone.now() + D, endpoints=list(services[0].endpoints.all()))
        group = ServiceGroupFactory()
        group.services.set(services)
        group.scopes.set([scope("EGI")])
        group.properties.create(key="k", value="v")
        user = UserFactory()
        Identity.objects.create(user=user, realm=Identity.Realm.X509, value=f"/CN=user {i} {user.pk}")
        grant(user, "SERVICE_GROUP_ADMIN", group)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_query_counts_do_not_grow_with_rows(client, groups, settings, method):
    settings.PI_PAGE_SIZE = 5
    h = headers_for(method, groups.ams)
    variants = [{}] + ([{"next_cursor": "0"}, {"prev_cursor": "999999999"}] if method in PAGEABLE else [])
    variants += [{"scope": "EGI", "next_cursor": "0"}] if "scope" in METHODS[method].params else []
    if method == "get_downtime_to_broadcast":
        variants = [{"interval": "30", **v} for v in variants]
    few = [queries(client, method, h, **v) for v in variants]
    grow(groups, 12)
    assert [queries(client, method, h, **v) for v in variants] == few
    assert max(few) <= 12, few
