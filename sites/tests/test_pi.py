"""The sites-side GOCDB PI methods (specs/gocdb.md §11, §17): output against GOCDB's own sample,
protection of personal data, every parameter, hostile input, cursor paging and query counts."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import etree

from egiportal.models import Identity
from egiportal.pi import PRIVATE, PROTECTED, PUBLIC, url_template
from egiportal.tests.factories import UserFactory
from egiportal.urls import PI_METHODS
from endpoints.tests.factories import ServiceGroupFactory
from sites.choices import RoleStatus, RoleType
from sites.models import APICredential, CertificationStatusLog, Country, Scope, Site, SiteProperty
from sites.pi import METHODS, number
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

URL = "/gocdbpi/public/"
NO_IDENTIFIER = "No valid identifier found. Try accessing the resource through the private interface."
ROLE_REQUIRED = "Authorisation required to read personal data (PROTECTED - Role required). "
REGISTRATION_REQUIRED = "Authorisation required to read personal data (PROTECTED - Registration required). "
LEVEL3 = sorted(name for name, method in METHODS.items() if method.level == PRIVATE)
ALL_LEVEL3 = sorted(name for name, method in PI_METHODS.items() if method.level == PRIVATE)
DN_HEADER = "X-SSL-Client-S-DN"

# GOCDB 5.12.4's own reply (specs/gocdb-samples/get_site_one.xml), the oracle of the golden test.
GET_SITE_ONE = (
    Path(__file__).resolve().parents[2] / "egiportal" / "tests" / "gocdb_samples" / "get_site_one.xml"
).read_text()


# ---------------------------------------------------------------- helpers


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def call(client, method, headers=None, **params):
    """The raw body of a PI call (always HTTP 200, as GOCDB answers even errors)."""
    response = client.get(URL, {"method": method, **params}, headers=headers or {})
    assert response.status_code == 200, response.status_code
    return body(response)


def results(client, method, headers=None, **params):
    """The parsed `<results>` of a successful PI call."""
    data = call(client, method, headers, **params)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<results'), data[:300]
    root = etree.fromstring(data)
    assert root.tag == "results"
    return root


def records(root):
    """The children of <results> without the paging <meta>."""
    return [el for el in root if el.tag != "meta"]


def texts(root, path):
    return [el.text or "" for el in root.iterfind(path)]


def names(client, method, path, **params):
    """The texts (or attribute values, for a path ending in /@ATTR) found in the reply."""
    root = results(client, method, **params)
    if "/@" in path:
        element_path, attr = path.split("/@")
        return [el.get(attr) for el in root.iterfind(element_path)]
    return texts(root, path)


def tree(el):
    """An element as comparable nested tuples: (tag, attributes, text, children)."""
    return (el.tag, dict(el.attrib), (el.text or "").strip(), [tree(child) for child in el])


def contact_tuple(user, role_name, working_hours=False, certdn=""):
    children = [
        ("FORENAME", {}, user.first_name, []),
        ("SURNAME", {}, user.last_name, []),
        ("TITLE", {}, "", []),
        ("EMAIL", {}, user.email, []),
        ("TEL", {}, user.telephone, []),
    ]
    if working_hours:
        children += [("WORKING_HOURS_START", {}, "", []), ("WORKING_HOURS_END", {}, "", [])]
    children += [("CERTDN", {}, certdn, []), ("ROLE_NAME", {}, role_name, [])]
    return ("CONTACT", {"USER_ID": f"{user.pk}G0", "PRIMARY_KEY": f"{user.pk}G0"}, "", children)


def scope(name):
    return Scope.objects.get_or_create(name=name, defaults={"description": f"{name} resources"})[0]


# ---------------------------------------------------------------- a small federation


@dataclass
class World:
    project: object
    ngi: object
    other_ngi: object
    site: object
    closed: object
    test_site: object
    group: object
    ada: object
    bob: object
    carol: object
    reader: object


@pytest.fixture
def world():
    """Project EGI-T over NGI_ALPHA (sites ALPHA-ONE, alpha-closed) and NGI_BETA (BETA-TEST).

    Ada holds granted roles on the site, its NGI, the project and a service group; Bob only a
    pending one; Carol is a site security officer; the reader holds a role on NGI_BETA only.
    """
    egi, wlcg = scope("EGI"), scope("wlcg")
    project = ProjectFactory(name="EGI-T")
    ngi = NGIFactory(name="NGI_ALPHA", scopes=[wlcg, egi], description="The alpha NGI", ggus_su="Alpha SU")
    other_ngi = NGIFactory(name="NGI_BETA", scopes=[egi], email="beta@example.org")
    project.ngis.add(ngi, other_ngi)
    germany = Country.objects.get(code="DE")
    site = SiteFactory(short_name="ALPHA-ONE", ngi=ngi, scopes=[egi, wlcg], csirt_email="csirt@alpha.example.org")
    site.csirt_tel = "+49 1 111"
    site.certification_status_changed = datetime(2013, 1, 29, 17, 13, 8, tzinfo=UTC)
    site.save()
    closed = SiteFactory(short_name="alpha-closed", ngi=ngi, certification_status="Closed", country=germany)
    test_site = SiteFactory(short_name="BETA-TEST", ngi=other_ngi, infrastructure="Test", scopes=[wlcg])
    SiteProperty.objects.create(parent=site, key="wlcg.tier", value="2")
    SiteProperty.objects.create(parent=closed, key="wlcg.tier", value="3")
    group = ServiceGroupFactory(name="group_alpha")

    ada = UserFactory(first_name="Ada", last_name="Lovelace", email="ada@example.org", telephone="+44 1 2345")
    Identity.objects.create(user=ada, realm=Identity.Realm.CHECKIN, value="ada-subject@egi.eu")
    Identity.objects.create(user=ada, realm=Identity.Realm.X509, value="/DC=org/DC=example/CN=Ada Lovelace")
    for role_type, entity in (
        (RoleType.SITE_ADMIN, site),
        (RoleType.NGI_OPS_MAN, ngi),
        (RoleType.COD_STAFF, project),
        (RoleType.SERVICE_GROUP_ADMIN, group),
    ):
        grant(ada, role_type, entity)
    bob = UserFactory(first_name="Bob", last_name="Pending", email="bob@example.org")
    grant(bob, RoleType.SITE_OPS_MAN, site, status=RoleStatus.PENDING)
    carol = UserFactory(first_name="Carol", last_name="Secure", email="carol@example.org")
    Identity.objects.create(user=carol, realm=Identity.Realm.CHECKIN, value="carol-subject@egi.eu")
    grant(carol, RoleType.SITE_SECOFFICER, site)
    reader = UserFactory(first_name="Rita", last_name="Reader")
    grant(reader, RoleType.REG_FIRST_LINE_SUPPORT, other_ngi)
    return World(project, ngi, other_ngi, site, closed, test_site, group, ada, bob, carol, reader)


@pytest.fixture
def reader(client, world):
    """A client logged in as a user whose role enables READ_PERSONAL_DATA."""
    client.force_login(world.reader)
    return client


PERSONAL = ("ada@example.org", "+44 1 2345", "Ada Lovelace", "ada-subject@egi.eu", "Lovelace")


# ---------------------------------------------------------------- golden sample


def build_from_sample(sample):
    """Create the country, NGI, site, scopes and properties that GOCDB's sample describes."""
    root = etree.fromstring(sample.encode())
    el = root.find("SITE")

    def value(tag):
        return el.findtext(tag) or ""

    country = Country.objects.get(code=value("COUNTRY_CODE"))
    assert country.name == value("COUNTRY")
    ngi = NGIFactory(pk=10_000_032, name=value("ROC"))
    site = Site.objects.create(
        pk=int(el.get("ID")),
        primary_key=value("PRIMARY_KEY"),
        short_name=value("SHORT_NAME"),
        official_name=value("OFFICIAL_NAME"),
        description=value("SITE_DESCRIPTION"),
        home_url=value("HOME_URL"),
        email=value("CONTACT_EMAIL"),
        telephone=value("CONTACT_TEL"),
        alarm_email=value("ALARM_EMAIL"),
        giis_url=value("GIIS_URL"),
        country=country,
        ngi=ngi,
        infrastructure=value("PRODUCTION_INFRASTRUCTURE"),
        certification_status=value("CERTIFICATION_STATUS"),
        timezone=value("TIMEZONE"),
        latitude=float(value("LATITUDE")),
        longitude=float(value("LONGITUDE")),
        csirt_email=value("CSIRT_EMAIL"),
        notify=value("NOTIFICATIONS") == "TRUE",
        domain=el.findtext("DOMAIN/DOMAIN_NAME"),
        ip_range=value("SITE_IP"),
        ipv6_range=value("SITE_IPV6"),
    )
    site.scopes.set([scope(name) for name in texts(el, "SCOPES/SCOPE")])
    for ext in el.iterfind("EXTENSIONS/EXTENSION"):
        SiteProperty.objects.create(
            pk=int(ext.findtext("LOCAL_ID")), parent=site, key=ext.findtext("KEY"), value=ext.findtext("VALUE")
        )
    return site


def normalised(data, portal_url):
    """The document with the instance-specific portal URL replaced and trailing blanks dropped."""
    text = data.decode() if isinstance(data, bytes) else data
    text = text.replace(portal_url, "{PORTAL_URL}")
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def test_get_site_matches_gocdb_sample(client):
    site = build_from_sample(GET_SITE_ONE)
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    data = call(client, "get_site", {"Authorization": f"Bearer {secret}"}, sitename="AD-TUBITAK-0001")
    ours = url_template("sites:site").format(32).replace("&", "&amp;")
    gocdb = "https://localhost/portal/index.php?Page_Type=Site&amp;id=32"
    assert f"<GOCDB_PORTAL_URL>{ours}</GOCDB_PORTAL_URL>".encode() in data
    assert normalised(data, ours) == normalised(GET_SITE_ONE, gocdb)
    # Byte for byte too, apart from the URL: declaration, indentation and final newline included.
    assert data.decode().replace(ours, gocdb) == GET_SITE_ONE


# ---------------------------------------------------------------- protection of personal data (§11.2)


@pytest.mark.parametrize("method", ALL_LEVEL3)
def test_anonymous_caller_gets_no_personal_data(client, world, method):
    response = client.get(URL, {"method": method})
    assert response["Content-Type"].startswith("text/plain")
    data = body(response).decode()
    assert data == NO_IDENTIFIER
    assert not any(value in data for value in PERSONAL)


@pytest.mark.parametrize("method", ALL_LEVEL3)
def test_logged_in_user_without_role_is_refused(client, world, method):
    nobody = UserFactory()
    client.force_login(nobody)
    assert call(client, method).decode() == ROLE_REQUIRED
    # Neither a pending role nor a role that does not enable READ_PERSONAL_DATA is enough.
    grant(nobody, RoleType.SITE_OPS_MAN, world.test_site, status=RoleStatus.PENDING)
    grant(nobody, RoleType.SERVICE_GROUP_ADMIN, world.group)
    data = call(client, method).decode()
    assert data == ROLE_REQUIRED
    assert not any(value in data for value in PERSONAL)


def authorised_headers(kind, client, world):
    """Log `client` in or build headers for one kind of authorised caller."""
    if kind == "role":
        client.force_login(world.reader)
    elif kind == "superuser":
        client.force_login(UserFactory(is_superuser=True))
    else:
        _, secret = api_credential(world.test_site, kind=APICredential.Kind.TOKEN)
        return {"Authorization": f"Bearer {secret}"}
    return {}


# A parameter per method that makes the reply carry personal or protected data from the world.
DATA_PARAMS = {
    "get_site": ({"sitename": "ALPHA-ONE"}, "ALPHA-ONE"),
    "get_site_contacts": ({"sitename": "ALPHA-ONE"}, "ada@example.org"),
    "get_site_security_info": ({"sitename": "ALPHA-ONE"}, "csirt@alpha.example.org"),
    "get_ngi": ({"roc": "NGI_ALPHA"}, "The alpha NGI"),
    "get_roc_contacts": ({"roc": "NGI_ALPHA"}, "ada@example.org"),
    "get_project_contacts": ({"project": "EGI-T"}, "ada@example.org"),
    "get_user": ({"surname": "Lovelace"}, "/DC=org/DC=example/CN=Ada Lovelace"),
    "get_cert_status_changes": ({"site": "ALPHA-ONE"}, "Certified"),
    "access_test": ({}, "<authorized>true</authorized>"),
}


@pytest.mark.parametrize("kind", ["role", "superuser", "credential"])
@pytest.mark.parametrize("method", LEVEL3)
def test_authorised_callers_get_the_data(client, world, method, kind):
    CertificationStatusLog.objects.create(
        site=world.site, old_status="Candidate", new_status="Certified", added_by="x", reason="ok"
    )
    headers = authorised_headers(kind, client, world)
    params, expected = DATA_PARAMS[method]
    root = results(client, method, headers, **params)
    assert len(root) >= 1
    assert expected in etree.tostring(root).decode()


def test_every_level3_method_of_sites_is_tested():
    assert set(DATA_PARAMS) == set(LEVEL3)


def test_credential_use_is_recorded(client, world):
    credential, secret = api_credential(world.site, kind=APICredential.Kind.TOKEN)
    assert credential.last_used is None
    results(client, "get_site_contacts", {"Authorization": f"Bearer {secret}"})
    credential.refresh_from_db()
    assert credential.last_used is not None
    assert credential.last_used > datetime.now(UTC) - timedelta(minutes=1)


def test_unknown_or_expired_token_is_refused_saying_why(client, world, settings):
    def refusal(headers):
        response = client.get(URL, {"method": "get_site"}, headers=headers)
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
        return response.content.decode()

    assert refusal({"Authorization": "Bearer egip_not-a-token"}) == "Unknown or revoked token."
    credential, secret = api_credential(world.site, kind=APICredential.Kind.TOKEN)
    credential.last_renewed = datetime.now(UTC) - timedelta(days=settings.API_CREDENTIAL_MAX_AGE_DAYS + 1)
    credential.save()
    assert refusal({"Authorization": f"Bearer {secret}"}).startswith("Expired token")
    # Some clients always send a placeholder Basic header: it is neither a credential nor refused.
    assert call(client, "get_site_list", {"Authorization": "Basic dXNlcjpwYXNz"}).startswith(b"<?xml")


def test_x509_dn_from_front_proxy_header(client, world, settings):
    dn = "/DC=org/DC=example/CN=robot.example.org"
    credential = api_credential(world.site, identifier=dn)
    # Off by default: a client could forge the header, so it is ignored.
    assert call(client, "get_site_contacts", {DN_HEADER: dn}).decode() == NO_IDENTIFIER
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    assert b"ada@example.org" in call(client, "get_site_contacts", {DN_HEADER: dn})
    credential.refresh_from_db()
    assert credential.last_used is not None
    # The RFC 2253 form that proxies pass is converted to GOCDB's slash form.
    assert b"ada@example.org" in call(
        client, "get_site_contacts", {DN_HEADER: "CN=robot.example.org,DC=example,DC=org"}
    )
    root = results(client, "access_test", {DN_HEADER: "CN=robot.example.org,DC=example,DC=org"})
    assert root.get("identifier") == dn
    # A DN that is neither a credential nor a user's identity is refused while personal data is restricted.
    assert call(client, "get_site_contacts", {DN_HEADER: "/CN=stranger"}).decode() == ROLE_REQUIRED
    # A registered user's DN is judged by that user's roles.
    Identity.objects.create(user=world.reader, realm=Identity.Realm.X509, value="/CN=Rita Reader")
    assert b"ada@example.org" in call(client, "get_site_contacts", {DN_HEADER: "/CN=Rita Reader"})
    Identity.objects.create(user=world.bob, realm=Identity.Realm.X509, value="/CN=Bob Pending")
    assert call(client, "get_site_contacts", {DN_HEADER: "/CN=Bob Pending"}).decode() == ROLE_REQUIRED


@pytest.mark.parametrize("method", LEVEL3)
def test_unrestricted_instance_accepts_any_identifier_except_for_access_test(client, world, settings, method):
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    settings.RESTRICT_PERSONAL_DATA = False
    headers = {DN_HEADER: "/CN=unknown"}
    if method == "access_test":
        assert call(client, method, headers).decode() == REGISTRATION_REQUIRED
    else:
        params, expected = DATA_PARAMS[method]
        CertificationStatusLog.objects.create(site=world.site, new_status="Certified", added_by="x", reason="ok")
        assert expected in call(client, method, headers, **params).decode()
    # A registered user without any role is accepted too, when personal data is not restricted.
    client.force_login(UserFactory())
    assert results(client, method) is not None


def test_access_test_reply(client, world):
    credential, secret = api_credential(world.site, kind=APICredential.Kind.TOKEN)
    data = call(client, "access_test", {"Authorization": f"Bearer {secret}"})
    assert etree.fromstring(data).get("identifier") == credential.identifier
    expected = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<results identifier="{credential.identifier}">\n'
        "  <authorized>true</authorized>\n"
        "</results>\n"
    )
    assert data.decode() == expected
    assert call(client, "access_test", {"Authorization": f"Bearer {secret}"}, x="1") == (
        b"<error>Unsupported parameter: x</error>"
    )


def test_cert_status_date_needs_any_identifier(client, world, settings):
    assert METHODS["get_cert_status_date"].level == PROTECTED
    assert call(client, "get_cert_status_date").decode() == NO_IDENTIFIER
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    assert names(client, "get_cert_status_date", "site/name", headers={DN_HEADER: "/CN=anyone"}) == [
        "ALPHA-ONE",
        "alpha-closed",
    ]


@pytest.mark.parametrize("method", sorted(name for name, m in METHODS.items() if m.level == PUBLIC))
def test_public_methods_need_no_identifier(client, world, method):
    assert results(client, method) is not None


# ---------------------------------------------------------------- get_site and get_site_list filters


SITE_FILTERS = [
    ({}, ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]),
    ({"sitename": "ALPHA-ONE"}, ["ALPHA-ONE"]),
    ({"sitename": "alpha-one"}, []),  # case-sensitive, as on GOCDB's binary collation
    ({"sitename": "ALPHA%"}, ["ALPHA-ONE"]),
    ({"sitename": "%-%"}, ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]),
    ({"sitename": "ALPHA_ONE"}, ["ALPHA-ONE"]),  # _ is a one-character wildcard
    ({"sitename": "ALPHA_"}, []),
    ({"sitename": ""}, []),
    ({"roc": "NGI_ALPHA"}, ["ALPHA-ONE", "alpha-closed"]),
    ({"roc": "NGI\\_B%"}, ["BETA-TEST"]),  # an escaped wildcard is literal
    ({"roc": "ngi_alpha"}, []),
    ({"country": "Germany"}, ["alpha-closed"]),
    ({"country": "Nether%"}, ["ALPHA-ONE", "BETA-TEST"]),
    ({"country": "DE"}, []),  # country filters on the name, not the code
    ({"certification_status": "Closed"}, ["alpha-closed"]),
    ({"certification_status": "C%"}, ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]),
    ({"exclude_certification_status": "Closed"}, ["ALPHA-ONE", "BETA-TEST"]),
    ({"exclude_certification_status": "%ed"}, []),
    ({"production_status": "Test"}, ["BETA-TEST"]),
    ({"production_status": "Prod%"}, ["ALPHA-ONE", "alpha-closed"]),
    ({"scope": "wlcg"}, ["ALPHA-ONE", "BETA-TEST"]),
    ({"scope": "wlc%"}, []),  # scope names match exactly
    ({"scope": "EGI,wlcg"}, ["ALPHA-ONE"]),  # default scope_match is "all"
    ({"scope": "EGI,wlcg", "scope_match": "all"}, ["ALPHA-ONE"]),
    ({"scope": "EGI,wlcg", "scope_match": "any"}, ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]),
    ({"scope": ",wlcg,", "scope_match": "whatever"}, ["ALPHA-ONE", "BETA-TEST"]),
    ({"scope": ""}, ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]),
    ({"extensions": "(wlcg.tier=2)"}, ["ALPHA-ONE"]),
    ({"extensions": "(wlcg.tier=)"}, ["ALPHA-ONE", "alpha-closed"]),
    ({"extensions": "(wlcg.tier=)NOT(wlcg.tier=3)"}, ["ALPHA-ONE"]),
    ({"extensions": "(wlcg.tier=2)OR(wlcg.tier=3)"}, ["ALPHA-ONE", "alpha-closed"]),
    ({"extensions": "(wlcg.tier=2)OR(wlcg.tier=3)", "roc": "NGI_BETA"}, []),  # OR cannot lift other filters
    ({"sitename": "%A%", "roc": "NGI_ALPHA", "certification_status": "Certified"}, ["ALPHA-ONE"]),
]


@pytest.mark.parametrize(("params", "expected"), SITE_FILTERS)
def test_site_filters(reader, world, params, expected):
    in_id_order = [s.short_name for s in Site.objects.filter(short_name__in=expected).order_by("pk")]
    assert names(reader, "get_site", "SITE/@NAME", **params) == in_id_order
    assert names(reader, "get_site_list", "SITE/@NAME", **params) == in_id_order


def test_site_security_info_filters(reader, world):
    for params, expected in SITE_FILTERS:
        if "extensions" in params:
            continue
        in_id_order = [s.short_name for s in Site.objects.filter(short_name__in=expected).order_by("pk")]
        assert names(reader, "get_site_security_info", "SITE/@NAME", **params) == in_id_order, params
    reply = call(reader, "get_site_security_info", extensions="(wlcg.tier=2)")
    assert reply == b"<error>Unsupported parameter: extensions</error>"


def test_default_scope_filter(reader, world, settings):
    settings.PI_DEFAULT_FILTER_BY_SCOPE = True
    assert names(reader, "get_site", "SITE/@NAME") == ["ALPHA-ONE", "alpha-closed"]
    assert names(reader, "get_site", "SITE/@NAME", scope="") == ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]
    assert names(reader, "get_ngi", "NGI/@NAME") == ["NGI_ALPHA", "NGI_BETA"]


def test_get_site_orders_scopes_by_id_and_omits_empty_values(reader, world):
    site = world.test_site
    site.scopes.set([scope("zzz-first"), scope("aaa-second")])
    site.latitude, site.longitude = 0.0, 7.0
    site.save()
    el = results(reader, "get_site", sitename="BETA-TEST")[0]
    assert texts(el, "SCOPES/SCOPE") == ["zzz-first", "aaa-second"]  # GOCDB sorts scopes by id
    assert el.find("LATITUDE") is None  # PHP's addIfNotEmpty drops 0.0
    assert el.findtext("LONGITUDE") == "7"
    assert el.find("HOME_URL") is None
    assert el.find("EXTENSIONS") is not None and len(el.find("EXTENSIONS")) == 0
    assert el.findtext("NOTIFICATIONS") == "FALSE"
    assert el.findtext("ROC") == "NGI_BETA"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, None), (None, None), (7.0, "7"), (45.5, "45.5"), (13.662742, "13.662742"), (-0.5, "-0.5")]
    + [(0.1 + 0.2, "0.3"), (1e-05, "1.0E-5"), (52.1625, "52.1625")],
)
def test_numbers_print_as_php_does(value, text):
    assert number(value) == text


def test_get_site_list_attributes(client, world):
    el = results(client, "get_site_list", sitename="ALPHA-ONE")[0]
    assert dict(el.attrib) == {
        "ID": str(world.site.pk),
        "PRIMARY_KEY": world.site.primary_key,
        "NAME": "ALPHA-ONE",
        "COUNTRY": "Netherlands",
        "COUNTRY_CODE": "NL",
        "ROC": "NGI_ALPHA",
        "SUBGRID": "",
        "GIIS_URL": "",
    }
    assert len(el) == 0


# ---------------------------------------------------------------- contacts


def test_site_contacts_output(reader, world):
    root = results(reader, "get_site_contacts", sitename="ALPHA-ONE")
    site = world.site
    assert [tree(el) for el in root] == [
        (
            "SITE",
            {"ID": f"{site.pk}G0", "PRIMARY_KEY": site.primary_key, "NAME": "ALPHA-ONE"},
            "",
            [
                ("PRIMARY_KEY", {}, site.primary_key, []),
                ("SHORT_NAME", {}, "ALPHA-ONE", []),
                # Granted roles only (Bob's pending one is left out), in role id order; CERTDN is the
                # X.509 DN when there is one, else the first identity.
                contact_tuple(world.ada, "Site Administrator", certdn="/DC=org/DC=example/CN=Ada Lovelace"),
                contact_tuple(world.carol, "Site Security Officer", certdn="carol-subject@egi.eu"),
            ],
        )
    ]
    assert b"Pending" not in call(reader, "get_site_contacts")


def test_site_contacts_filters(reader, world):
    assert names(reader, "get_site_contacts", "SITE/@NAME") == ["ALPHA-ONE", "alpha-closed", "BETA-TEST"]
    assert names(reader, "get_site_contacts", "SITE/@NAME", roc="NGI_BETA") == ["BETA-TEST"]
    assert names(reader, "get_site_contacts", "SITE/@NAME", country="Germ%") == ["alpha-closed"]
    assert names(reader, "get_site_contacts", "SITE/@NAME", sitename="alpha%") == ["alpha-closed"]
    assert names(reader, "get_site_contacts", "SITE/@NAME", scope="wlcg") == ["ALPHA-ONE", "BETA-TEST"]
    assert names(reader, "get_site_contacts", "SITE/@NAME", scope="EGI,wlcg", scope_match="any") == [
        "ALPHA-ONE",
        "alpha-closed",
        "BETA-TEST",
    ]
    # roletype is an exact role name; sites without a matching contact are still listed.
    roles = names(reader, "get_site_contacts", "SITE/CONTACT/ROLE_NAME", roletype="Site Security Officer")
    assert roles == ["Site Security Officer"]
    assert names(reader, "get_site_contacts", "SITE/@NAME", roletype="Site Security Officer") == [
        "ALPHA-ONE",
        "alpha-closed",
        "BETA-TEST",
    ]
    for roletype in ("site security officer", "Site%", "SITE_SECOFFICER", "nonsense", ""):
        assert names(reader, "get_site_contacts", "SITE/CONTACT", roletype=roletype) == [], roletype
    assert len(names(reader, "get_site_contacts", "SITE/CONTACT", roletype="%%")) == 2
    assert call(reader, "get_site_contacts", certification_status="Certified") == (
        b"<error>Unsupported parameter: certification_status</error>"
    )


def test_site_security_info_output(reader, world):
    site = world.site
    assert [tree(el) for el in results(reader, "get_site_security_info", sitename="ALPHA-ONE")] == [
        (
            "SITE",
            {"ID": f"{site.pk}G0", "PRIMARY_KEY": site.primary_key, "NAME": "ALPHA-ONE"},
            "",
            [
                ("PRIMARY_KEY", {}, site.primary_key, []),
                ("SHORT_NAME", {}, "ALPHA-ONE", []),
                ("CSIRT_EMAIL", {}, "csirt@alpha.example.org", []),
                ("CSIRT_TEL", {}, "+49 1 111", []),
            ],
        )
    ]
    # Empty CSIRT values are still present, as empty elements.
    el = results(reader, "get_site_security_info", sitename="BETA-TEST")[0]
    assert [(child.tag, child.text) for child in el][2:] == [("CSIRT_EMAIL", None), ("CSIRT_TEL", None)]


def test_roc_contacts_output_and_filters(reader, world):
    ngi = world.ngi
    root = results(reader, "get_roc_contacts", roc="NGI_ALPHA")
    assert [tree(el) for el in root] == [
        (
            "ROC",
            {"ID": str(ngi.pk), "ROC_NAME": "NGI_ALPHA"},
            "",
            [
                ("ROCNAME", {}, "NGI_ALPHA", []),
                ("MAIL_CONTACT", {}, ngi.email, []),
                ("GOCDB_PORTAL_URL", {}, url_template("sites:ngi").format(ngi.pk), []),
                contact_tuple(world.ada, "NGI Operations Manager", certdn="/DC=org/DC=example/CN=Ada Lovelace"),
            ],
        )
    ]
    assert names(reader, "get_roc_contacts", "ROC/@ROC_NAME") == ["NGI_ALPHA", "NGI_BETA"]
    assert names(reader, "get_roc_contacts", "ROC/@ROC_NAME", roc="NGI%") == ["NGI_ALPHA", "NGI_BETA"]
    assert names(reader, "get_roc_contacts", "ROC/@ROC_NAME", roc="ngi%") == []
    assert names(reader, "get_roc_contacts", "ROC/CONTACT/ROLE_NAME", roletype="Regional First Line Support") == [
        "Regional First Line Support"
    ]
    assert names(reader, "get_roc_contacts", "ROC/CONTACT", roletype="Regional%") == []
    assert call(reader, "get_roc_contacts", scope="EGI") == b"<error>Unsupported parameter: scope</error>"


def test_project_contacts_output_and_filters(reader, world):
    project = world.project
    root = results(reader, "get_project_contacts", project="EGI-T")
    assert [tree(el) for el in root] == [
        (
            "Project",
            {"ID": str(project.pk), "NAME": "EGI-T"},
            "",
            [contact_tuple(world.ada, "COD Staff", working_hours=True, certdn="/DC=org/DC=example/CN=Ada Lovelace")],
        )
    ]
    other = ProjectFactory(name="Other")
    assert names(reader, "get_project_contacts", "Project/@NAME", project="%") == ["EGI-T", "Other"]
    assert names(reader, "get_project_contacts", "Project/@NAME", project="egi%") == []
    assert names(reader, "get_project_contacts", "Project/@NAME", project="EGI_T") == ["EGI-T"]
    # Unlike GOCDB (§13.8), `project` keeps the cursor: paging past EGI-T leaves only Other.
    page = results(reader, "get_project_contacts", project="%", next_cursor=str(project.pk))
    assert [el.get("NAME") for el in records(page)] == ["Other"]
    assert page.findtext("meta/count") == "1"
    page = results(reader, "get_project_contacts", project="%", prev_cursor=str(other.pk))
    assert [el.get("NAME") for el in records(page)] == ["EGI-T"]


# ---------------------------------------------------------------- NGIs and subgrids


def test_get_ngi_output_and_filters(reader, world):
    ngi = world.ngi
    root = results(reader, "get_ngi", roc="NGI_ALPHA")
    assert [tree(el) for el in root] == [
        (
            "NGI",
            {"ID": str(ngi.pk), "NAME": "NGI_ALPHA"},
            "",
            [
                ("PRIMARY_KEY", {}, str(ngi.pk), []),
                ("NAME", {}, "NGI_ALPHA", []),
                ("OBJECT_ID", {}, str(ngi.pk), []),
                ("DESCRIPTION", {}, "The alpha NGI", []),
                ("EMAIL", {}, ngi.email, []),
                ("GGUS_SU", {}, "Alpha SU", []),
                ("ROD_EMAIL", {}, "", []),
                ("HELPDESK_EMAIL", {}, "", []),
                ("SECURITY_EMAIL", {}, "", []),
                ("SITE_COUNT", {}, "2", []),
                # Ordered by scope id: EGI (seeded) before wlcg.
                ("SCOPES", {}, "", [("SCOPE", {}, "EGI", []), ("SCOPE", {}, "wlcg", [])]),
            ],
        )
    ]
    assert names(reader, "get_ngi", "NGI/@NAME") == ["NGI_ALPHA", "NGI_BETA"]
    assert names(reader, "get_ngi", "NGI/@NAME", roc="%BETA") == ["NGI_BETA"]
    assert names(reader, "get_ngi", "NGI/@NAME", roc="NGI_ALPH_") == ["NGI_ALPHA"]
    assert names(reader, "get_ngi", "NGI/@NAME", roc="ngi_beta") == []
    assert names(reader, "get_ngi", "NGI/@NAME", scope="wlcg") == ["NGI_ALPHA"]
    assert names(reader, "get_ngi", "NGI/@NAME", scope="EGI,wlcg") == ["NGI_ALPHA"]
    assert names(reader, "get_ngi", "NGI/@NAME", scope="EGI,wlcg", scope_match="any") == ["NGI_ALPHA", "NGI_BETA"]
    assert names(reader, "get_ngi", "NGI/SITE_COUNT", roc="NGI_BETA") == ["1"]


def test_roc_list(client, world):
    root = results(client, "get_roc_list")
    assert [tree(el) for el in root] == [
        ("ROC", {"PRIMARY_KEY": f"{world.ngi.pk}G0", "ROC_NAME": "NGI_ALPHA"}, "", []),
        ("ROC", {"PRIMARY_KEY": f"{world.other_ngi.pk}G0", "ROC_NAME": "NGI_BETA"}, "", []),
    ]
    assert names(client, "get_roc_list", "ROC/@ROC_NAME", roc="%ETA") == ["NGI_BETA"]
    assert names(client, "get_roc_list", "ROC/@ROC_NAME", roc="%eta") == []
    assert call(client, "get_roc_list", next_cursor="0") == b"<error>Unsupported parameter: next_cursor</error>"


def test_subgrid_list_is_empty(client, world):
    empty = b'<?xml version="1.0" encoding="UTF-8"?>\n<results>\n</results>\n'
    assert call(client, "get_subgrid_list") == empty
    assert call(client, "get_subgrid_list", subgrid="%") == empty
    assert call(client, "get_subgrid_list", roc="x") == b"<error>Unsupported parameter: roc</error>"


# ---------------------------------------------------------------- users


def user_role(role, on, kind, key, projects):
    children = [("USER_ROLE", {}, role, []), ("ON_ENTITY", {}, on, []), ("ENTITY_TYPE", {}, kind, [])]
    if key:
        children.append(("PRIMARY_KEY", {}, str(key), []))
    children.append(("RECOGNISED_IN_PROJECTS", {}, "", [("PROJECT", {"ID": str(p.pk)}, p.name, []) for p in projects]))
    return ("USER_ROLE", {}, "", children)


def test_get_user_output(reader, world):
    ada, project, group = world.ada, world.project, world.group
    second = ProjectFactory(name="Second")
    second.ngis.add(world.ngi)
    root = results(reader, "get_user", dn="/DC=org/DC=example/CN=Ada Lovelace")
    empty = [(tag, {}, "", []) for tag in ("TITLE", "DESCRIPTION", "GOCDB_PORTAL_URL")]
    both = [project, second]
    assert [tree(el) for el in root] == [
        (
            "EGEE_USER",
            {"ID": f"{ada.pk}G0", "PRIMARY_KEY": f"{ada.pk}G0"},
            "",
            [("FORENAME", {}, "Ada", []), ("SURNAME", {}, "Lovelace", []), *empty]
            + [("EMAIL", {}, "ada@example.org", []), ("TEL", {}, "+44 1 2345", [])]
            + [("WORKING_HOURS_START", {}, "", []), ("WORKING_HOURS_END", {}, "", [])]
            + [("CERTDN", {}, "/DC=org/DC=example/CN=Ada Lovelace", [])]
            + [(tag, {}, "", []) for tag in ("SSOUSERNAME", "APPROVED", "ACTIVE", "HOMESITE")]
            + [
                user_role("Site Administrator", "ALPHA-ONE", "site", world.site.primary_key, both),
                user_role("NGI Operations Manager", "NGI_ALPHA", "ngi", world.ngi.pk, both),
                user_role("COD Staff", "EGI-T", "project", project.pk, [project]),
                user_role("Service Group Administrator", "group_alpha", "servicegroup", f"{group.pk}G0", []),
            ],
        )
    ]


def test_get_user_filters(reader, world):
    def users(**params):
        return names(reader, "get_user", "EGEE_USER/FORENAME", **params)

    assert users(dn="/DC=org/DC=example/CN=Ada Lovelace") == ["Ada"]
    assert users(dn="/dc=org/DC=example/CN=Ada Lovelace") == []  # case-sensitive
    assert users(dn="ada-subject@egi.eu") == ["Ada"]  # any linked identity
    assert users(dnlike="%-subject@egi.eu") == ["Ada", "Carol"]
    assert users(dnlike="%CN=Ada_Lovelace") == ["Ada"]
    assert users(dnlike="%CN=Ada", dn="ada-subject@egi.eu") == []
    assert users(dn="%") == ["Ada", "Carol"]  # users without identities never match a DN
    assert users(forename="Ada") == ["Ada"]
    assert users(forename="a%") == []
    assert users(forename="_ob") == ["Bob"]
    assert users(surname="%e%", forename="C%") == ["Carol"]
    assert users(surname="LOVELACE") == []
    assert users(roletype="Site Administrator") == ["Ada"]
    assert users(roletype="Site Security Officer,Regional First Line Support") == ["Carol", "Rita"]
    assert users(roletype="Site Operations Manager") == []  # Bob's role is only pending
    assert users(roletype="site administrator") == []
    assert users(roletype="Site%") == []
    assert users(roletype="") == []
    # With roletype, only the roles of those types are listed (as GOCDB's filtered fetch-join does).
    listed = names(reader, "get_user", "EGEE_USER/USER_ROLE/USER_ROLE", roletype="COD Staff,Site Administrator")
    assert listed == ["Site Administrator", "COD Staff"]
    assert names(reader, "get_user", "EGEE_USER/USER_ROLE/USER_ROLE", forename="Bob") == []


# ---------------------------------------------------------------- certification


def test_cert_status_date(reader, world):
    world.closed.certification_status_changed = datetime(2020, 6, 5, 9, 4, 3, tzinfo=UTC)
    world.closed.save()
    root = results(reader, "get_cert_status_date")
    # Only Production sites; the date is PHP 'd-M-y H.i.s A' in UTC (24-hour clock plus AM/PM).
    assert [tree(el) for el in root] == [
        (
            "site",
            {"ID": str(world.site.pk)},
            "",
            [
                ("name", {}, "ALPHA-ONE", []),
                ("cert_status", {}, "Certified", []),
                ("cert_date", {}, "29-Jan-13 17.13.08 PM", []),
            ],
        ),
        (
            "site",
            {"ID": str(world.closed.pk)},
            "",
            [
                ("name", {}, "alpha-closed", []),
                ("cert_status", {}, "Closed", []),
                ("cert_date", {}, "05-Jun-20 09.04.03 AM", []),
            ],
        ),
    ]
    world.closed.certification_status_changed = None
    world.closed.save()
    el = results(reader, "get_cert_status_date", certification_status="Clo%")[0]
    assert [child.tag for child in el] == ["name", "cert_status"]  # no date, no element
    assert names(reader, "get_cert_status_date", "site/name", certification_status="closed") == []
    assert names(reader, "get_cert_status_date", "site/name", roc="NGI_BETA") == []  # BETA-TEST is a Test site
    world.test_site.infrastructure = "Production"
    world.test_site.save()
    assert names(reader, "get_cert_status_date", "site/name", roc="%BETA") == ["BETA-TEST"]


def log(site, when, old, new, by="Ada Lovelace", reason="checked"):
    entry = CertificationStatusLog.objects.create(site=site, old_status=old, new_status=new, added_by=by, reason=reason)
    CertificationStatusLog.objects.filter(pk=entry.pk).update(added_date=when)
    return entry


def test_cert_status_changes(reader, world):
    first = log(world.site, datetime(2022, 9, 13, 9, 21, 26, tzinfo=UTC), "", "Candidate", reason="Initial creation")
    log(world.site, datetime(2022, 10, 1, tzinfo=UTC), "Candidate", "Certified", reason="Tests <passed> & ok")
    log(world.closed, datetime(2023, 1, 1, tzinfo=UTC), "Certified", "Closed")
    root = results(reader, "get_cert_status_changes", site="ALPHA-ONE")
    assert tree(root[0]) == (
        "result",
        {"ID": str(first.pk)},
        "",
        [
            ("TIME", {}, "13-Sep-2022 09.21.26", []),
            ("UNIX_TIME", {}, "1663060886", []),
            ("SITE", {}, "ALPHA-ONE", []),
            ("OLD_STATUS", {}, "", []),
            ("NEW_STATUS", {}, "Candidate", []),
            ("CHANGED_BY", {}, "Ada Lovelace", []),
            ("COMMENT", {}, "Initial creation", []),
        ],
    )
    assert b"<COMMENT>Tests &lt;passed&gt; &amp; ok</COMMENT>" in call(reader, "get_cert_status_changes")

    def statuses(**params):
        return names(reader, "get_cert_status_changes", "result/NEW_STATUS", **params)

    assert statuses() == ["Candidate", "Certified", "Closed"]
    assert statuses(site="alpha%") == ["Closed"]
    assert statuses(site="ALPHA_ONE") == ["Candidate", "Certified"]
    # Documented meaning (not GOCDB's inverted code): startdate is the lower bound, enddate the upper.
    assert statuses(startdate="2022-09-14") == ["Certified", "Closed"]
    assert statuses(enddate="2022-12-31") == ["Candidate", "Certified"]
    assert statuses(startdate="2022-09-14", enddate="2022-12-31") == ["Certified"]
    assert statuses(startdate="2022-09-13 09:21:26") == ["Certified", "Closed"]  # bounds are exclusive
    assert statuses(startdate="2022-12-31", enddate="2022-09-14") == []
    assert statuses(startdate="@1663060885") == ["Candidate", "Certified", "Closed"]


# ---------------------------------------------------------------- site count per country


def counts(client, **params):
    root = results(client, "get_site_count_per_country", **params)
    return [(el.findtext("COUNTRY"), int(el.findtext("COUNT"))) for el in root]


def test_site_count_per_country(client, world):
    Country.objects.create(code="X1", name="aardvark Isles")  # lower case sorts case-insensitively
    listed = counts(client)
    assert [name for name, _ in listed] == sorted(Country.objects.values_list("name", flat=True), key=str.lower)
    assert listed[0] == ("aardvark Isles", 0)
    assert len(listed) == Country.objects.count() > 200
    table = dict(listed)
    assert (table["Netherlands"], table["Germany"], table["Andorra"]) == (2, 1, 0)
    assert dict(counts(client, certification_status="Closed"))["Germany"] == 1
    assert dict(counts(client, certification_status="Closed"))["Netherlands"] == 0
    assert dict(counts(client, certification_status="closed"))["Germany"] == 0
    assert dict(counts(client, production_status="T%"))["Netherlands"] == 1
    # A scope applies to the site and its NGI: BETA-TEST is wlcg but NGI_BETA is not.
    assert dict(counts(client, scope="wlcg"))["Netherlands"] == 1
    assert dict(counts(client, scope="EGI"))["Germany"] == 1
    assert dict(counts(client, scope=""))["Netherlands"] == 2
    assert sum(dict(counts(client, scope="EGI,wlcg")).values()) == 0  # a single scope name only
    # A site with several scopes is counted once.
    assert dict(counts(client))["Netherlands"] == 2
    assert call(client, "get_site_count_per_country", scope_match="any") == (
        b"<error>Unsupported parameter: scope_match</error>"
    )


# ---------------------------------------------------------------- hostile input (§11.3)


HOSTILE_ERRORS = [
    ("it's", "<error>Unsuported chracter in value: it's</error>"),
    ('a"b', '<error>Unsuported chracter in value: a"b</error>'),
    ("`id`", "<error>Unsuported chracter in value: `id`</error>"),
]
# Values that are allowed through to the filters: each must give a reply, never a server error.
ODD_VALUES = ["%", "_", "%%", "\\", "\\%", "[", "[a-z]*", "*", "?", "<x>&amp;", "é€😀", " ", "a" * 1000, "0", "-1"]
ODD_VALUES += ["(a=b)", "OR(a=b)", "1; DROP TABLE sites_site", "%00", "\x00", "a\x01\x1fb", "\t\n", "\u202e", "\x7f"]


def every_param():
    for name, method in sorted(METHODS.items()):
        for param in sorted(method.params):
            yield name, param


@pytest.mark.parametrize(("method", "param"), list(every_param()))
def test_hostile_values_get_gocdb_errors(reader, world, method, param):
    for value, error in HOSTILE_ERRORS:
        assert call(reader, method, **{param: value}).decode() == error
    too_long = "x" * 1001
    assert call(reader, method, **{param: too_long}) == (
        f"<error>Value of parameter {param} is longer than 1000 characters</error>".encode()
    )
    for value in ODD_VALUES:
        data = call(reader, method, **{param: value})
        if data.startswith(b"<?xml"):
            etree.fromstring(data)
        else:
            assert re.fullmatch(rb"<error>[^<]+</error>|[A-Z][^<>]+", data), (param, value, data[:200])


@pytest.mark.parametrize("method", sorted(METHODS))
def test_unknown_and_case_changed_parameters_are_errors(reader, world, method):
    assert call(reader, method, sitenme="x") == b"<error>Unsupported parameter: sitenme</error>"
    assert call(reader, method, SITENAME="x") == b"<error>Unsupported parameter: SITENAME</error>"
    assert call(reader, method, page="2") == b"<error>Unsupported parameter: page</error>"
    # apikey and output are accepted and ignored (§17.3).
    assert call(reader, method, apikey="k", output="xml").startswith(b'<?xml version="1.0"')


@pytest.mark.parametrize("method", sorted(name for name, m in METHODS.items() if m.pageable))
def test_bad_cursors_are_errors(reader, world, method):
    for value in ("-1", "abc", "1e3", "1.5", "", "9" * 30):
        assert call(reader, method, next_cursor=value) == (
            b"<error>Invalid 'next_cursor' parameter - must be a whole number greater than or equal to zero</error>"
        ), value
        assert call(reader, method, prev_cursor=value).startswith(b"<error>Invalid 'prev_cursor' parameter")
    assert call(reader, method, next_cursor="0", prev_cursor="5") == (
        b"<error>It is invalid to specify both 'next_cursor' and 'prev_cursor' parameters in the same query</error>"
    )


@pytest.mark.parametrize("param", ["startdate", "enddate"])
def test_bad_dates_are_errors(reader, world, param):
    for value in ("yesterday", "2022-13-01", "2022-02-30", "13/09/2022", "@abc", "%", "9" * 20):
        assert call(reader, "get_cert_status_changes", **{param: value}) == (
            f"<error>Invalid {param} value - must be a date as YYYY-MM-DD: {value}</error>".encode()
        ), value


def test_bad_extensions_are_plain_text_errors(reader, world):
    for value, message in [
        ("", "Query expression is null or empty"),
        ("(wlcg.tier)", "Invalid key=value pair, missing = char"),
        ("(bad key!=1)", "Invalid key=value pair, invalid key"),
        ("(a=(b))", "Invalid query expression"),
        ("(a=" + "v" * 300 + ")", "Invalid key=value pair, invalid value"),
    ]:
        response = reader.get(URL, {"method": "get_site", "extensions": value})
        assert body(response).decode() == message, value
        assert response["Content-Type"].startswith("text/plain")


# ---------------------------------------------------------------- paging (§11.4, §17.5)


def walk(client, method, **params):
    """Follow `next` cursors from 0 until an empty page, as clients do; returns all records."""
    found, cursor, pages = [], "0", 0
    while True:
        root = results(client, method, next_cursor=cursor, **params)
        meta = root.find("meta")
        count = int(meta.findtext("count"))
        assert count == len(records(root)) <= int(meta.findtext("max_page_size"))
        if count == 0:
            assert meta.find("link[@rel='next']") is None
            return found, pages
        found += records(root)
        pages += 1
        href = meta.find("link[@rel='next']").get("href")
        assert href.startswith("http")
        cursor = parse_qs(urlparse(href).query)["next_cursor"][0]


@pytest.mark.parametrize(
    ("method", "params"),
    [("get_site", {}), ("get_site", {"roc": "NGI_ALPHA"}), ("get_site_contacts", {}), ("get_user", {})],
)
def test_paging_walk_equals_unpaged_reply(reader, world, settings, method, params):
    settings.PI_PAGE_SIZE = 3
    for n in range(7):
        site = SiteFactory(ngi=world.ngi if n % 2 else world.other_ngi)
        grant(UserFactory(), RoleType.SITE_ADMIN, site)
    unpaged = records(results(reader, method, **params))
    paged, pages = walk(reader, method, **params)
    assert pages == -(-len(unpaged) // 3) >= 2
    assert [etree.tostring(el, with_tail=False) for el in paged] == [
        etree.tostring(el, with_tail=False) for el in unpaged
    ]


def test_prev_cursor_pages_backwards(reader, world, settings):
    settings.PI_PAGE_SIZE = 2
    sites = list(Site.objects.order_by("pk"))
    root = results(reader, "get_site_security_info", prev_cursor=str(sites[-1].pk))
    assert [el.get("NAME") for el in records(root)] == [s.short_name for s in sites[-3:-1]]
    assert root.findtext("meta/count") == "2"


# ---------------------------------------------------------------- query counts


def grow(world, n):
    """Add `n` of everything the methods read: sites with properties, NGIs in the project, users with
    identities and roles on every kind of entity, certification log rows, service groups."""
    for i in range(n):
        ngi = NGIFactory(scopes=[scope("EGI"), scope("wlcg")])
        world.project.ngis.add(ngi)
        ProjectFactory().ngis.add(ngi)
        site = SiteFactory(ngi=ngi, scopes=[scope("EGI"), scope("wlcg")])
        site.certification_status_changed = datetime(2021, 1, 1, tzinfo=UTC)
        site.save()
        SiteProperty.objects.create(parent=site, key="wlcg.tier", value=str(i))
        log(site, datetime(2022, 1, 1, tzinfo=UTC), "Candidate", "Certified")
        user = UserFactory()
        Identity.objects.create(user=user, realm=Identity.Realm.X509, value=f"/CN=grown {i}")
        Identity.objects.create(user=user, realm=Identity.Realm.CHECKIN, value=f"grown-{i}@egi.eu")
        grant(user, RoleType.SITE_ADMIN, site)
        grant(user, RoleType.NGI_OPS_DEP_MAN, ngi)
        grant(user, RoleType.COO, world.project)
        grant(user, RoleType.SERVICE_GROUP_ADMIN, ServiceGroupFactory())
        grant(world.ada, RoleType.SITE_OPS_MAN, site)


def query_count(client, method, params):
    with CaptureQueriesContext(connection) as ctx:
        root = results(client, method, **params)
    return len(ctx.captured_queries), len(records(root))


QUERY_CASES = [(name, {}) for name in sorted(METHODS)]
QUERY_CASES += [(name, {"next_cursor": "0"}) for name in sorted(n for n, m in METHODS.items() if m.pageable)]
QUERY_CASES += [
    ("get_site", {"scope": "EGI,wlcg", "extensions": "(wlcg.tier=)"}),
    ("get_user", {"roletype": "Site Administrator,COD Staff", "dnlike": "%"}),
    ("get_site_contacts", {"roletype": "Site Administrator"}),
]


@pytest.mark.parametrize(("method", "params"), QUERY_CASES)
def test_fixed_number_of_queries(client, world, method, params):
    client.force_login(UserFactory(is_superuser=True))
    few, few_rows = query_count(client, method, params)
    grow(world, 6)
    many, many_rows = query_count(client, method, params)
    assert many == few, f"{method}: {few} queries for {few_rows} rows, {many} for {many_rows}"
    if method not in ("access_test", "get_subgrid_list", "get_site_count_per_country"):
        assert many_rows > few_rows
