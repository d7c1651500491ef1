"""The PI framework (egiportal/pi/, specs/gocdb.md §11 and §17) on real models, through the Django
test client on /gocdbpi/public/ with the methods get_site_list, get_site and get_service_types.

Sections: extensions expressions, scope filter, LIKE, parameter handling, output format, cursor
paging, caller identification and protection levels, streaming, dates.
"""

import base64
import re
import string
from datetime import UTC, datetime, timedelta
from itertools import cycle
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree

from egiportal import identity, pi, pixml
from egiportal.models import Identity
from egiportal.tests.factories import UserFactory
from egiportal.urls import PI_METHODS
from endpoints.tests.factories import service_type
from sites.choices import RoleStatus, RoleType
from sites.models import APICredential, Country, Scope, Site, SiteProperty
from sites.tests.factories import NGIFactory, SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

URL = "/gocdbpi/public/"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
EMPTY_DOCUMENT = f"{DECLARATION}\n<results>\n</results>\n"
NO_IDENTIFIER = "No valid identifier found. Try accessing the resource through the private interface."
ROLE_REQUIRED = "Authorisation required to read personal data (PROTECTED - Role required). "
REGISTRATION_REQUIRED = "Authorisation required to read personal data (PROTECTED - Registration required). "
CURSOR_ERROR = "<error>Invalid '{}' parameter - must be a whole number greater than or equal to zero</error>"

# Few examples and no example database: each example is an HTTP request against real tables.
examples = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def fetch(client, params, headers=None, path=URL):
    """GET a PI URL; returns the response and its body as text (a streamed body is joined)."""
    response = client.get(path, params, headers=headers or {})
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response, content.decode()


def fetch_href(client, href, headers=None):
    """Follow an absolute `<link href>` verbatim: its host becomes the request's Host header."""
    parts = urlsplit(href)
    return fetch(client, None, {**(headers or {}), "Host": parts.netloc}, path=f"{parts.path}?{parts.query}")


def parse(body):
    return etree.fromstring(body.encode())


def ids(body):
    """The SITE@ID values of a reply, in document order."""
    return [int(el.get("ID")) for el in parse(body).iter("SITE")]


def site_list(client, **params):
    response, body = fetch(client, {"method": "get_site_list", **params})
    assert response.status_code == 200 and body.startswith(DECLARATION), body[:300]
    return ids(body)


def xml_error(message):
    """GOCDB's `<error>` reply for `message` (no declaration); XML-illegal characters become U+FFFD and a
    carriage return a character reference, so that it survives parsing."""
    message = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "\ufffd", message)
    escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return "<error>" + escaped + "</error>"


def assert_xml_error(response, body, message):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert body == xml_error(message)
    assert parse(body).tag == "error"  # well-formed even with hostile text inside


def assert_text_reply(response, body, message):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert body == message


# ================================================================ 1. extensions expressions (§11.6)

EXTENSION_ERRORS = {
    "Query expression is null or empty",
    "Invalid query expression",
    "Invalid key=value pair, no content",
    "Invalid key=value pair, missing = char",
    "Invalid key=value pair, invalid key",
    "Invalid key=value pair, invalid value",
}
KEY_ALPHABET = string.ascii_letters + string.digits + "@_-[]+."
REJECTED_CHARACTERS = "\"'`\x00"  # quotes and backtick (GOCDB), NUL (PostgreSQL cannot take it)


def is_extension_error(message):
    return message in EXTENSION_ERRORS or message.startswith("Illegal operator in expression: ")


def escape_value(value):
    """A value as a client writes it inside a group: backslash and parentheses escaped."""
    return re.sub(r"([\\()])", r"\\\1", value)


@st.composite
def expressions(draw, keys, values, max_terms=8):
    """A valid expression and the terms it means: (text, [(operator, key, value or None)]).

    Terms carry AND / OR / NOT or no operator (inheriting the previous one, AND at first), optional
    whitespace around operators and keys, and values with escaped parentheses and backslashes.
    """
    space = st.sampled_from(["", "", " ", "\t", "\n "])
    text, terms, operator = "", [], "AND"
    for _ in range(draw(st.integers(1, max_terms))):
        word = draw(st.sampled_from(["", "AND", "OR", "NOT"]))
        key, value = draw(keys), draw(values)
        pad = draw(st.sampled_from(["", " "]))
        text += f"{draw(space)}{word}{draw(space)}({pad}{key}{pad}={escape_value(value)}){draw(space)}"
        operator = word or operator
        terms.append((operator, key, value.strip() or None))
    return text, terms


any_keys = st.lists(st.text(KEY_ALPHABET, min_size=1, max_size=10), min_size=1, max_size=3).map(" ".join)
any_values = st.text(max_size=20)
hostile_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="()\\= ANDORNT\t\nkv%_*é\u00a0\"'`&<>", max_size=80),
    st.text(max_size=12).map(lambda s: s * 150),  # huge: up to 1,800 characters
    expressions(any_keys, any_values).map(lambda e: e[0]),
)


@pytest.mark.parametrize(
    "text, terms",
    [
        ("(VO=Alice)", [("AND", "VO", "Alice")]),
        # GOCDB's ExtensionsQueryNormaliser example: groups inherit the last operator.
        (
            "(VO=Alice)(VO=Atlas)NOT(VO=LHCB)(VO=AAA)OR(VO=\\(BBB\\))",
            [
                ("AND", "VO", "Alice"),
                ("AND", "VO", "Atlas"),
                ("NOT", "VO", "LHCB"),
                ("NOT", "VO", "AAA"),
                ("OR", "VO", "(BBB)"),
            ],
        ),
        (" AND ( k = v ) ", [("AND", "k", "v")]),
        ("NOT\n(k=)", [("NOT", "k", None)]),
        ("(k=   )", [("AND", "k", None)]),
        ("(k=a=b)", [("AND", "k", "a=b")]),
        ("(k=\\\\)", [("AND", "k", "\\")]),
        ("(k=\\x\\y)", [("AND", "k", "xy")]),  # stripslashes
        ("(a b@_-[]+.=*)", [("AND", "a b@_-[]+.", "*")]),
        ("OR(x=1)(y=2)AND(z=3)", [("OR", "x", "1"), ("OR", "y", "2"), ("AND", "z", "3")]),
        ("(k=" + "v" * 255 + ")", [("AND", "k", "v" * 255)]),
    ],
)
def test_parse_extensions(text, terms):
    assert pi.parse_extensions(text) == terms


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Query expression is null or empty"),
        (" \t\n", "Query expression is null or empty"),
        (None, "Query expression is null or empty"),
        ("k=v", "Illegal operator in expression: k=v"),
        ("(k=v)XOR(k=w)", "Illegal operator in expression: XOR(k=w)"),
        ("and(k=v)", "Illegal operator in expression: and(k=v)"),
        ("(k=v", "Invalid query expression"),
        ("(k=v))", "Invalid query expression"),
        ("()", "Invalid query expression"),
        ("AND", "Invalid query expression"),
        ("(k=v)AND", "Invalid query expression"),
        ("(k=(v))", "Invalid query expression"),
        ("(k=v\\)", "Invalid query expression"),
        ("( )", "Invalid key=value pair, no content"),
        ("(k)", "Invalid key=value pair, missing = char"),
        ("(=v)", "Invalid key=value pair, invalid key"),
        ("(k$=v)", "Invalid key=value pair, invalid key"),
        ("(" + "k" * 256 + "=v)", "Invalid key=value pair, invalid key"),
        ("(k=" + "v" * 256 + ")", "Invalid key=value pair, invalid value"),
    ],
)
def test_parse_extensions_errors(text, message):
    with pytest.raises(pi.PIDenied) as raised:
        pi.parse_extensions(text)
    assert str(raised.value) == message


@examples
@given(hostile_text)
def test_parse_extensions_any_text_gives_terms_or_gocdb_error(text):
    try:
        terms = pi.parse_extensions(text)
    except pi.PIDenied as exc:
        assert is_extension_error(str(exc)), str(exc)
        return
    assert terms
    for operator, key, value in terms:
        assert operator in pi.OPERATORS
        assert pi.EXTENSION_KEY.fullmatch(key)
        assert value is None or 0 < len(value) <= 255


@examples
@given(expressions(any_keys, any_values))
def test_parse_extensions_reads_generated_expressions(expression):
    text, terms = expression
    assert pi.parse_extensions(text) == terms


def test_extensions_any_text_through_the_view(client):
    """Whatever the text, the view answers 200 with a result, an `<error>` or GOCDB's plain text."""
    SiteFactory().properties.create(key="VO", value="atlas")

    @examples
    @given(hostile_text)
    def check(text):
        response, body = fetch(client, {"method": "get_site_list", "extensions": text})
        if any(ch in text for ch in REJECTED_CHARACTERS):
            assert_xml_error(response, body, f"Unsuported chracter in value: {text}")
        elif len(text) > pi.MAX_VALUE_LENGTH:
            assert_xml_error(response, body, "Value of parameter extensions is longer than 1000 characters")
        elif response["Content-Type"].startswith("text/plain"):
            assert is_extension_error(body), body
        else:
            pi.parse_extensions(text)  # it was valid
            assert body.startswith(DECLARATION) and parse(body).tag == "results"

    check()


# Sites with known properties (keys unique per site, as the model requires) and pools that hit them.
PROPERTY_SITES = {
    "P0": {},
    "P1": {"VO": "atlas"},
    "P2": {"VO": "cms", "tier": "1"},
    "P3": {"VO": "(x)", "vo": "atlas"},
    "P4": {"VO": "a\\b", "tier": "2", "x.y": "*"},
    "P5": {"tier": "1", "a b": "%"},
    "P6": {"VO": "ü", "tier": "_", "x.y": "a=b"},
}
KEY_POOL = st.sampled_from(["VO", "vo", "tier", "x.y", "a b", "none"])
VALUE_POOL = st.one_of(
    st.sampled_from(["atlas", "ATLAS", "cms", "(x)", "a\\b", "1", "2", "*", "%", "_", "ü", "a=b", ""]),
    st.text(alphabet="ab()\\*%_ ", max_size=4),
)


def make_property_sites():
    """The PROPERTY_SITES on the database; returns {site id: properties}."""
    found = {}
    for name, properties in PROPERTY_SITES.items():
        site = SiteFactory(short_name=name)
        for key, value in properties.items():
            site.properties.create(key=key, value=value)
        found[site.pk] = properties
    return found


def evaluate(terms, sites):
    """Reference evaluation of parsed terms: a left fold from the first term (AND x, AND NOT x, OR x).

    A leading OR term stands alone (GOCDB with no other filter: `OR(VO2=bar)(VO2=baz)` is bar or baz).
    """
    result = None
    for operator, key, value in terms:
        hits = {pk for pk, props in sites.items() if key in props and (value is None or props[key] == value)}
        if operator == "NOT":
            hits = set(sites) - hits
        if result is None:
            result = hits
        elif operator == "OR":
            result |= hits
        else:
            result &= hits
    return result


def test_extensions_filter_matches_reference_evaluation(client):
    sites = make_property_sites()

    @examples
    @given(expressions(KEY_POOL, VALUE_POOL))
    def check(expression):
        text, terms = expression
        assert pi.parse_extensions(text) == terms
        assert site_list(client, extensions=text) == sorted(evaluate(terms, sites))

    check()


# GOCDB's own oracle (tests/doctrine/ExtensionProps_IPIQuery_Test1.php, sampleFixtureData3.php). Its
# Site4 holds two VO and two VO2 values; keys are unique per site here, so Site4 keeps VO=bar and
# VO2=baz and only the cases whose expected result does not depend on the dropped values are kept.
ORACLE_SITES = {
    "Site0": {},
    "Site1": {"s1p1": "v1"},
    "Site2": {"s2p1": "v1", "s2p2": "v2"},
    "Site3": {"s3p1": "v1", "s3p2": "v2", "VO": "foo", "VO2": "bar"},
    "Site4": {"s4p1": "v1", "s4p2": "v2", "VO": "bar", "VO2": "baz"},
}


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("NOT(key=val)", {"Site0", "Site1", "Site2", "Site3", "Site4"}),
        ("(s1p1=v1)", {"Site1"}),
        ("(s1p1=)", {"Site1"}),
        ("(s2p1=)(s2p2=)", {"Site2"}),
        ("(s2p1=v1)(s2p2=v2)", {"Site2"}),
        ("(VO=)", {"Site3", "Site4"}),
        ("(VO=)(VO2=)", {"Site3", "Site4"}),
        ("(VO=)(VO2=)NOT(VO2=baz)", {"Site3"}),
        ("(VO=)(VO2=)NOT(VO2=)(VO=)", set()),
        ("OR(VO2=bar)(VO2=baz)", {"Site3", "Site4"}),
        ("(VO=food)OR(VO2=bar)(VO2=baz)", {"Site3", "Site4"}),
        ("(VO=food)OR(VO2=bar)OR(VO2=baz)", {"Site3", "Site4"}),
        ("(VO=food)OR(VO2=bar)OR(VO2=baz)AND(s4p1=v1)", {"Site4"}),
        ("(VO=food)(s4p1=v1)OR(VO2=bar)(VO2=baz)", {"Site3", "Site4"}),
        ("(VO=food)(s4p1=v1)OR(VO2=baz)AND(VO2=bling)", set()),
        ("(VO2=\\(bing\\))AND(VO2=baz&)", set()),
    ],
)
def test_extensions_gocdb_oracle(client, expression, expected):
    names = {}
    for name, properties in ORACLE_SITES.items():
        site = SiteFactory(short_name=name)
        names[site.pk] = name
        for key, value in properties.items():
            site.properties.create(key=key, value=value)
    assert {names[pk] for pk in site_list(client, extensions=expression)} == expected


def test_extensions_or_does_not_lift_other_filters(client):
    """A deliberate difference from GOCDB (§13.4): the terms are grouped, so OR stays inside them."""
    make_property_sites()
    p1, p2 = (Site.objects.get(short_name=name).pk for name in ("P1", "P2"))
    assert site_list(client, sitename="P2", extensions="(VO=cms)OR(VO=atlas)") == [p2]
    assert site_list(client, sitename="P1", extensions="(VO=cms)OR(VO=atlas)") == [p1]
    assert site_list(client, sitename="P1", extensions="OR(VO=cms)") == []
    assert site_list(client, sitename="P%", extensions="(VO=cms)OR(tier=1)NOT(VO=)") == [
        Site.objects.get(short_name="P5").pk
    ]


def test_extensions_error_is_plain_text(client):
    response, body = fetch(client, {"method": "get_site_list", "extensions": "(VO)"})
    assert_text_reply(response, body, "Invalid key=value pair, missing = char")


def test_extensions_long_alternating_expression_runs(client):
    """Over 100 alternating AND / OR / NOT terms within the 1000-character limit: no database limit hit."""
    sites = make_property_sites()
    text, terms = "", []
    for operator, (key, value) in zip(cycle(["AND", "OR", "NOT"]), cycle([("VO", ""), ("tier", "1")])):
        group = f"{operator}({key}={value})"
        if len(text) + len(group) > pi.MAX_VALUE_LENGTH:
            break
        text += group
        terms.append((operator, key, value or None))
    assert len(terms) > 100
    assert site_list(client, extensions=text) == sorted(evaluate(terms, sites))


# ================================================================ 2. scope filter (§11.5)

SCOPED_SITES = {
    "N0": [],
    "N1": ["Alpha"],
    "N2": ["Beta"],
    "N3": ["Alpha", "Beta"],
    "N4": ["Alpha", "Beta", "Gamma"],
    "N5": ["Gamma", "EGI"],
    "N6": ["EGI"],
}


def make_scoped_sites():
    """The SCOPED_SITES on the database; returns {site id: set of scope names}."""
    scopes = {name: Scope.objects.get_or_create(name=name)[0] for name in ("Alpha", "Beta", "Gamma", "EGI")}
    return {
        SiteFactory(short_name=name, scopes=[scopes[s] for s in names]).pk: set(names)
        for name, names in SCOPED_SITES.items()
    }


def scope_reference(sites, value, match, default_match="all"):
    """§11.5: absent or empty -> all; one name -> has it; several -> has all (`all`) or any (else)."""
    if value is None:
        return sorted(sites)
    names = value.strip(",").split(",")
    if names == [""]:
        return sorted(sites)
    if len(names) > 1 and (match or default_match) == "all":
        return sorted(pk for pk, have in sites.items() if set(names) <= have)
    return sorted(pk for pk, have in sites.items() if have & set(names))


scope_values = st.one_of(
    st.none(),
    st.builds(
        lambda lead, names, trail: lead + ",".join(names) + trail,
        st.sampled_from(["", ",", ",,"]),
        st.lists(st.sampled_from(["Alpha", "Beta", "Gamma", "EGI", "alpha", "Unknown", ""]), max_size=5),
        st.sampled_from(["", ",", ",,"]),
    ),
)
scope_matches = st.sampled_from([None, "all", "any", "ALL", "other", ""])


def test_scope_filter_matches_reference(client):
    sites = make_scoped_sites()

    @examples
    @given(scope_values, scope_matches)
    def check(value, match):
        params = {k: v for k, v in (("scope", value), ("scope_match", match)) if v is not None}
        assert site_list(client, **params) == scope_reference(sites, value, match)

    check()


@pytest.mark.parametrize(
    "value, match, expected",
    [
        ("Alpha", None, {"N1", "N3", "N4"}),
        ("Alpha,Beta", None, {"N3", "N4"}),  # default scope_match is all
        ("Alpha,Beta", "any", {"N1", "N2", "N3", "N4"}),
        ("Alpha,Gamma", "whatever", {"N1", "N3", "N4", "N5"}),
        (",Alpha,Beta,", "all", {"N3", "N4"}),
        ("Alpha,Alpha", "all", {"N1", "N3", "N4"}),
        ("Alpha,Unknown", "all", set()),
        ("alpha", None, set()),  # exact, case-sensitive
        ("", None, set(SCOPED_SITES)),
        (",", "all", set(SCOPED_SITES)),
    ],
)
def test_scope_filter_examples(client, value, match, expected):
    make_scoped_sites()
    names = dict(Site.objects.values_list("pk", "short_name"))
    params = {"scope": value} | ({"scope_match": match} if match is not None else {})
    assert {names[pk] for pk in site_list(client, **params)} == expected


def test_default_scope(client, settings):
    sites = make_scoped_sites()
    egi = scope_reference(sites, "EGI", None)
    settings.PI_DEFAULT_FILTER_BY_SCOPE = False
    assert site_list(client) == sorted(sites)
    settings.PI_DEFAULT_FILTER_BY_SCOPE = True
    assert site_list(client) == egi
    assert site_list(client, scope="") == sorted(sites)  # present and empty: no scope filter at all
    assert site_list(client, scope="Alpha") == scope_reference(sites, "Alpha", None)
    settings.PI_DEFAULT_SCOPE = ""
    assert site_list(client) == sorted(sites)  # filtering by a default needs a default


def test_default_scope_match_setting(client, settings):
    sites = make_scoped_sites()
    settings.PI_DEFAULT_SCOPE_MATCH = "any"
    assert site_list(client, scope="Alpha,Gamma") == scope_reference(sites, "Alpha,Gamma", "any")
    assert site_list(client, scope="Alpha,Gamma", scope_match="") == scope_reference(sites, "Alpha,Gamma", "any")
    assert site_list(client, scope="Alpha,Gamma", scope_match="all") == scope_reference(sites, "Alpha,Gamma", "all")


def query_shape(client, params):
    """The number of queries a PI request runs and of SELECTs (subqueries included) in them."""
    with CaptureQueriesContext(connection) as queries:
        response, body = fetch(client, params)
    assert response.status_code == 200 and "<error>" not in body, body[:300]
    return len(queries), sum(q["sql"].upper().count("SELECT") for q in queries)


def test_scope_match_all_is_one_subquery_whatever_the_number_of_names(client):
    """40 names made 40 subqueries, and PostgreSQL's planning took a minute: now one GROUP BY."""
    sites = make_scoped_sites()
    many = ["Alpha", "Beta"] + [f"x{i}" for i in range(38)]
    two = query_shape(client, {"method": "get_site_list", "scope": "Alpha,Beta", "scope_match": "all"})
    forty = query_shape(client, {"method": "get_site_list", "scope": ",".join(many), "scope_match": "all"})
    assert forty == two
    assert site_list(client, scope="Alpha,Beta,Gamma", scope_match="all") == scope_reference(
        sites, "Alpha,Beta,Gamma", "all"
    )


def test_extensions_are_one_subquery_whatever_the_number_of_terms(client):
    make_property_sites()
    base = query_shape(client, {"method": "get_site_list", "extensions": "(VO=atlas)"})
    repeated = query_shape(client, {"method": "get_site_list", "extensions": "(VO=atlas)" * 60})
    distinct = "".join(f"{op}(k{i}=v)" for i, op in zip(range(20), cycle(["AND", "OR", "NOT"])))
    assert repeated == base == query_shape(client, {"method": "get_site_list", "extensions": distinct})


def test_too_many_scope_names_is_an_error(client, settings):
    names = ",".join(f"s{i}" for i in range(settings.FILTER_MAX_SCOPES + 1))
    for match in ("all", "any"):
        response, body = fetch(client, {"method": "get_site_list", "scope": names, "scope_match": match})
        assert_xml_error(
            response, body, f"Too many scope names: 51 given, at most {settings.FILTER_MAX_SCOPES} allowed."
        )
    assert site_list(client, scope=",".join(f"s{i % 50}" for i in range(60))) == []  # repeats count once


def test_too_many_extension_terms_is_a_plain_text_error(client, settings):
    text = "".join(f"(k{i}=v)" for i in range(settings.FILTER_MAX_PROPERTY_TERMS + 1))
    response, body = fetch(client, {"method": "get_site_list", "extensions": text})
    assert_text_reply(response, body, "Too many extensions terms: 21 given, at most 20 allowed.")
    response, body = fetch(client, {"method": "get_downtime", "site_extensions": text})
    assert_text_reply(response, body, "Too many site_extensions terms: 21 given, at most 20 allowed.")


# ================================================================ 3. LIKE (§11.3): SQLite GLOB == PostgreSQL LIKE


@pytest.mark.parametrize(
    "pattern, glob",
    [
        ("abc", "abc"),
        ("UKI-%", "UKI-*"),
        ("a_c", "a?c"),
        ("\\%", "%"),
        ("\\_", "_"),
        ("\\\\", "\\"),
        ("\\a", "a"),
        ("a\\", "a\\"),
        ("*", "[*]"),
        ("?", "[?]"),
        ("[", "[[]"),
        ("]", "]"),
        ("\\*", "[*]"),
        ("\\[", "[[]"),
        ("%\\%%", "*%*"),
        ("ü_", "ü?"),
        ("", ""),
    ],
)
def test_like_to_glob(pattern, glob):
    assert pi.like_to_glob(pattern) == glob


LIKE_VALUES = ["A%B", "A_B", "AxB", "A*B", "A?B", "A[1]B", "A\\B", "A\\", "ab", "AB", "Ü-x", "ü-x", "x"]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("%", set(LIKE_VALUES)),
        ("", set()),
        ("A%B", {"A%B", "A_B", "AxB", "A*B", "A?B", "A[1]B", "A\\B", "AB"}),
        ("A_B", {"A%B", "A_B", "AxB", "A*B", "A?B", "A\\B"}),
        ("A\\%B", {"A%B"}),
        ("A\\_B", {"A_B"}),
        ("A*B", {"A*B"}),
        ("A?B", {"A?B"}),
        ("A[1]B", {"A[1]B"}),
        ("A[%", {"A[1]B"}),
        ("A\\\\B", {"A\\B"}),
        ("A\\B", {"AB"}),  # an escaped ordinary character is that character
        ("A\\", {"A\\"}),  # a trailing lone backslash is literal (MySQL), not a PostgreSQL error
        ("%\\", {"A\\"}),
        ("a%", {"ab"}),  # case-sensitive
        ("Ü%", {"Ü-x"}),
        ("_-x", {"Ü-x", "ü-x"}),  # one character, even when multi-byte
    ],
)
def test_like_lookup(pattern, expected):
    site = SiteFactory()
    for n, value in enumerate(LIKE_VALUES):
        SiteProperty.objects.create(parent=site, key=f"k{n}", value=value)
    assert set(SiteProperty.objects.filter(value__like=pattern).values_list("value", flat=True)) == expected


@pytest.fixture
def like_sites():
    """Sites whose names, NGIs, countries and statuses differ by case, `-` versus `_` and prefix (no two
    site names differ only in case: the portal refuses that)."""
    nl = Country.objects.get_or_create(code="NL", defaults={"name": "Netherlands"})[0]
    de = Country.objects.get_or_create(code="DE", defaults={"name": "Germany"})[0]
    ngi_a, ngi_b = NGIFactory(name="NGI_A"), NGIFactory(name="NGIxA")
    rows = [
        ("UKI-LT2", ngi_a, nl, "Certified", "Production"),
        ("UKI_LT2", ngi_a, de, "Candidate", "Test"),
        ("uki-lt3", ngi_b, nl, "Closed", "Production"),
        ("UKI-LT2.x", ngi_b, de, "Suspended", "PPS"),
    ]
    return {
        SiteFactory(
            short_name=name, ngi=ngi, country=country, certification_status=status, infrastructure=infra
        ).pk: name
        for name, ngi, country, status, infra in rows
    }


@pytest.mark.parametrize(
    "param, value, expected",
    [
        ("sitename", "UKI-%", {"UKI-LT2", "UKI-LT2.x"}),
        ("sitename", "UKI_LT2", {"UKI-LT2", "UKI_LT2"}),
        ("sitename", "UKI\\_LT2", {"UKI_LT2"}),
        ("sitename", "uki%", {"uki-lt3"}),
        ("sitename", "UKI-LT2", {"UKI-LT2"}),
        ("sitename", "UKI-LT_", {"UKI-LT2"}),
        ("sitename", "UKI*", set()),
        ("roc", "NGI_A", {"UKI-LT2", "UKI_LT2", "uki-lt3", "UKI-LT2.x"}),
        ("roc", "NGI\\_A", {"UKI-LT2", "UKI_LT2"}),
        ("roc", "ngi%", set()),
        ("country", "Nether%", {"UKI-LT2", "uki-lt3"}),
        ("country", "netherlands", set()),
        ("certification_status", "C%", {"UKI-LT2", "UKI_LT2", "uki-lt3"}),
        ("certification_status", "certified", set()),
        ("exclude_certification_status", "C%", {"UKI-LT2.x"}),
        ("exclude_certification_status", "Certified", {"UKI_LT2", "uki-lt3", "UKI-LT2.x"}),
        ("production_status", "P%", {"UKI-LT2", "uki-lt3", "UKI-LT2.x"}),
        ("production_status", "Test", {"UKI_LT2"}),
    ],
)
def test_like_filters_of_get_site_list(client, like_sites, param, value, expected):
    assert {like_sites[pk] for pk in site_list(client, **{param: value})} == expected


# ================================================================ 4. parameter handling (§11.3)

SITE_LIST_PARAMS = sorted(PI_METHODS["get_site_list"].params)


@pytest.mark.parametrize("key", ["foo", "SiteName", "SITENAME", "page", "sitename ", "<x>&", "", "métho"])
def test_unknown_parameter(client, key):
    response, body = fetch(client, {"method": "get_site_list", key: "x"})
    assert_xml_error(response, body, f"Unsupported parameter: {key}")
    assert not body.startswith("<?xml")


@pytest.mark.parametrize("value", ["-5", "0", "100000", "abc", "1e9", "99999999999999999999", "1\x00"])
def test_hostile_paging_values(client, value):
    """`page` is not a PI parameter (GOCDB dropped it); cursors take whole numbers of up to 18 digits."""
    response, body = fetch(client, {"method": "get_downtime", "page": value})
    assert_xml_error(response, body, "Unsupported parameter: page")
    response, body = fetch(client, {"method": "get_downtime", "next_cursor": value})
    if value.isdigit() and len(value) <= 18:
        assert body.startswith(DECLARATION) and parse(body)[0].tag == "meta"
    elif "\x00" in value:
        assert_xml_error(response, body, f"Unsuported chracter in value: {value}")
    else:
        assert body == CURSOR_ERROR.format("next_cursor")


def test_unknown_parameter_on_a_method_without_parameters(client):
    response, body = fetch(client, {"method": "get_service_types", "scope": "EGI"})
    assert_xml_error(response, body, "Unsupported parameter: scope")


@pytest.mark.parametrize("key", ["apikey", "output"])
def test_apikey_and_output_are_accepted_and_ignored(client, key):
    SiteFactory.create_batch(2)
    plain = fetch(client, {"method": "get_site_list"})[1]
    assert fetch(client, {"method": "get_site_list", key: "GLUE2"})[1] == plain


@pytest.mark.parametrize("key", ["sitename", "extensions", "scope", "apikey", "output"])
@pytest.mark.parametrize("value", ["it's", 'say "hi"', "back`tick", "nul\x00byte", "'"])
def test_quotes_backtick_and_nul_in_values(client, key, value):
    response, body = fetch(client, {"method": "get_site_list", key: value})
    assert_xml_error(response, body, f"Unsuported chracter in value: {value}")


def test_oversized_value(client):
    SiteFactory(short_name="S" * 10)
    assert site_list(client, sitename="S" * 10 + "%" * 990)  # 1000 characters: fine
    response, body = fetch(client, {"method": "get_site_list", "sitename": "S" * 1001})
    assert_xml_error(response, body, "Value of parameter sitename is longer than 1000 characters")


HOSTILE_VALUES = [
    "",
    " ",
    "%",
    "_",
    "\\",
    "%\\",
    "*?[",
    "x" * 1000,
    "é" * 1000,
    "\x01\x02\x1f",
    "\u202e\ufeff",
    "<script>&amp;",
    "; DROP TABLE sites_site; --",
    "(a=b)OR(c=)",
    ",,,",
    "\U0001f600",
    "\ufffe",
]


@pytest.mark.parametrize("key", SITE_LIST_PARAMS)
def test_hostile_values_never_fail(client, key):
    """Every parameter of get_site_list with hostile values gives a document or a GOCDB error, no 500."""
    SiteFactory()
    for value in HOSTILE_VALUES:
        response, body = fetch(client, {"method": "get_site_list", key: value})
        assert response.status_code == 200, value
        if body.startswith(DECLARATION):
            assert parse(body).tag == "results"
        elif body.startswith("<error>"):
            assert parse(body).tag == "error"
        else:
            assert response["Content-Type"].startswith("text/plain") and is_extension_error(body), (value, body)


@pytest.mark.parametrize("name", ["nope", "GET_SITE_LIST", "get_site_list ", "<b>&", "it's"])
def test_unknown_method(client, name):
    response, body = fetch(client, {"method": name})
    assert_text_reply(response, body, f"Unable to find method: {name}")


def test_missing_method(client):
    response, body = fetch(client, {"sitename": "x"})
    assert_text_reply(response, body, "Unable to find method: ")
    response, body = fetch(client, {"method": ""})
    assert_text_reply(response, body, "Unable to find method: ")


@pytest.mark.parametrize("method", ["get_site_list", "get_site"])
def test_both_cursors(client, method):
    site = SiteFactory()
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    response, body = fetch(
        client, {"method": method, "next_cursor": "0", "prev_cursor": "5"}, {"Authorization": f"Bearer {secret}"}
    )
    assert_xml_error(
        response, body, "It is invalid to specify both 'next_cursor' and 'prev_cursor' parameters in the same query"
    )


@pytest.mark.parametrize("name", ["next_cursor", "prev_cursor"])
@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", " ", "1e3", "+1", "0x10", "\u0663", "9" * 19, "1 2"])
def test_bad_cursor(client, name, value):
    site = SiteFactory()
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    response, body = fetch(client, {"method": "get_site", name: value}, {"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert body == CURSOR_ERROR.format(name)


def test_largest_cursor_is_accepted(client):
    site = SiteFactory()
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    _, body = fetch(client, {"method": "get_site", "next_cursor": "9" * 18}, {"Authorization": f"Bearer {secret}"})
    links, count, _, page = page_meta(body)
    assert (count, page, set(links)) == (0, [], {"self", "prev", "start"})


@pytest.mark.parametrize("verb", ["post", "put", "patch", "delete"])
def test_only_get_and_head(client, verb):
    assert getattr(client, verb)(URL + "?method=get_site_list").status_code == 405


def test_head_and_both_url_forms(client):
    SiteFactory()
    expected = fetch(client, {"method": "get_site_list"})[1]
    for path in ("/gocdbpi/public", "/gocdbpi/private/", "/gocdbpi/private"):
        assert fetch(client, {"method": "get_site_list"}, path=path)[1] == expected
    assert client.head(URL, {"method": "get_site_list"}).status_code == 200


def test_repeated_parameter_uses_the_last_value(client):
    first, second = SiteFactory(), SiteFactory()
    assert site_list(client, sitename=[first.short_name, second.short_name]) == [second.pk]


def test_method_params_add_cursors_when_pageable():
    assert pi.Method(len, frozenset({"a"}), pageable=True).params == {"a", "next_cursor", "prev_cursor"}
    assert pi.Method(len, frozenset({"a"})).params == {"a"}


# ================================================================ 5. output format (§11.1, §17.4, §11.10)


def assert_framed(body):
    """Declaration, `<results>` and `</results>` on their own lines; the document parses."""
    lines = body.split("\n")
    assert lines[0] == DECLARATION
    assert lines[1] == "<results>"
    assert lines[-2:] == ["</results>", ""]
    assert parse(body).tag == "results"
    return lines[2:-2]


def test_empty_result(client):
    response, body = fetch(client, {"method": "get_site_list", "sitename": "none"})
    assert response["Content-Type"] == "application/xml"
    assert body == EMPTY_DOCUMENT
    assert assert_framed(body) == []


def test_site_list_one_element_per_line_with_escaping(client):
    country = Country.objects.create(code="ZZ", name='Trinidad & "Tobago" <T>')
    hard = SiteFactory(country=country, giis_url="ldap://bdii.example.org:2170/mds-vo-name=X,o=grid?a=1&b=2")
    SiteFactory.create_batch(2)
    _, body = fetch(client, {"method": "get_site_list"})
    lines = assert_framed(body)
    assert len(lines) == 3
    assert all(re.fullmatch(r"  <SITE [^<>]*/>", line) for line in lines), lines
    assert 'COUNTRY="Trinidad &amp; &quot;Tobago&quot; &lt;T&gt;"' in body
    assert "?a=1&amp;b=2" in body
    element = parse(body).find(f"SITE[@ID='{hard.pk}']")
    assert element.get("COUNTRY") == country.name
    assert element.get("GIIS_URL") == hard.giis_url
    assert element.get("SUBGRID") == ""


def test_nested_elements_indent_two_spaces(client, settings):
    settings.PORTAL_URL = "https://portal.example.org"
    site = SiteFactory(description="R&D <lab>")
    site.properties.create(key="note", value="a<b & c>d")
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    _, body = fetch(client, {"method": "get_site"}, {"Authorization": f"Bearer {secret}"})
    lines = assert_framed(body)
    assert lines[0].startswith('  <SITE ID="') and lines[-1] == "  </SITE>"
    assert "    <SITE_DESCRIPTION>R&amp;D &lt;lab&gt;</SITE_DESCRIPTION>" in lines
    assert "        <VALUE>a&lt;b &amp; c&gt;d</VALUE>" in lines
    assert f"    <GOCDB_PORTAL_URL>https://portal.example.org{site.get_absolute_url()}</GOCDB_PORTAL_URL>" in lines
    assert "    <DOMAIN>" in lines and "      <DOMAIN_NAME>example.org</DOMAIN_NAME>" in lines
    assert all(re.match(r"( {2})+<", line) for line in lines), lines
    root = parse(body)
    assert root.findtext("SITE/SITE_DESCRIPTION") == "R&D <lab>"
    assert root.findtext("SITE/EXTENSIONS/EXTENSION/VALUE") == "a<b & c>d"


def test_small_list_reply_is_framed_too(client):
    service_type("org.example.odd")
    _, body = fetch(client, {"method": "get_service_types"})
    lines = assert_framed(body)
    assert lines[0].startswith("  <SERVICE_TYPE TYPE_ID=")
    assert "    <SERVICE_TYPE_NAME>org.example.odd</SERVICE_TYPE_NAME>" in lines
    assert "    <SERVICE_TYPE_DESC>org.example.odd service</SERVICE_TYPE_DESC>" in lines


def test_line_merging_client_loses_no_record(client, settings):
    """§17.4: concatenate pages, drop every line holding `<?xml`, `<results>` or `</results>`, re-wrap."""
    settings.PI_PAGE_SIZE = 2
    sites = [SiteFactory(description="mentions <results> and </results>") for _ in range(5)]
    _, secret = api_credential(sites[0], kind=APICredential.Kind.TOKEN)
    auth = {"Authorization": f"Bearer {secret}"}
    bodies, cursor = [], 0
    while True:
        _, body = fetch(client, {"method": "get_site", "next_cursor": cursor}, auth)
        bodies.append(body)
        _, count, _, page = page_meta(body)
        if count == 0:
            break
        cursor = page[-1]
    assert len(bodies) == 4
    kept = [
        line
        for line in "".join(bodies).splitlines()
        if not any(marker in line for marker in ("<?xml", "<results>", "</results>"))
    ]
    merged = "<results>\n" + "\n".join(kept) + "\n</results>"
    root = etree.fromstring(merged)
    assert [int(s.get("ID")) for s in root.findall("SITE")] == [s.pk for s in sites]
    assert {s.findtext("SITE_DESCRIPTION") for s in root.findall("SITE")} == {"mentions <results> and </results>"}


# ================================================================ 6. cursor paging (§11.4, §17.5)


def page_meta(body):
    """(links by rel, count, max_page_size, SITE ids) of a paged reply; <meta> must come first."""
    root = parse(body)
    meta = root[0]
    assert meta.tag == "meta"
    links = {}
    for link in meta.findall("link"):
        assert link.get("rel") and link.get("rel") not in links
        links[link.get("rel")] = link.get("href")
    return links, int(meta.findtext("count")), int(meta.findtext("max_page_size")), ids(body)


def query_of(href):
    return dict(parse_qsl(urlsplit(href).query, keep_blank_values=True))


@pytest.fixture
def pager(client, settings):
    """Seven sites, a page size of 3, an absolute portal URL and a token caller for get_site."""
    settings.PI_PAGE_SIZE = 3
    settings.PORTAL_URL = "https://portal.example.org:8443"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "portal.example.org"]
    sites = SiteFactory.create_batch(7)
    _, secret = api_credential(sites[0], kind=APICredential.Kind.TOKEN)
    auth = {"Authorization": f"Bearer {secret}", "Host": "portal.example.org:8443"}

    class Pager:
        pks = [s.pk for s in sites]
        base = settings.PORTAL_URL + URL

        @staticmethod
        def get(query):
            return fetch(client, None, auth, path=f"{URL}?{query}")[1]

        @staticmethod
        def follow(href):
            assert href.startswith(Pager.base + "?"), href
            return fetch_href(client, href, auth)[1]

        @staticmethod
        def walk(href, rel):
            """Follow `rel` links from `href` until a page has count 0; returns the pages' metas."""
            pages = []
            for _ in range(10):
                pages.append(page_meta(Pager.follow(href)))
                if pages[-1][1] == 0:
                    return pages
                href = pages[-1][0][rel]
            raise AssertionError("paging does not end")

    return Pager


def test_first_page_meta(pager):
    query = "method=get_site&sitename=SITE-%25&scope=&next_cursor=0"
    links, count, size, page = page_meta(pager.get(query))
    first = pager.pks[:3]
    assert (count, size, page) == (3, 3, first)
    assert set(links) == {"self", "next", "prev", "start"}
    assert links["self"] == f"{pager.base}?{query}"
    assert query_of(links["next"]) == {
        "method": "get_site",
        "sitename": "SITE-%",
        "scope": "",
        "next_cursor": str(first[-1]),
    }
    assert query_of(links["prev"]) == {
        "method": "get_site",
        "sitename": "SITE-%",
        "scope": "",
        "prev_cursor": str(first[0]),
    }
    assert query_of(links["start"]) == {"method": "get_site", "sitename": "SITE-%", "scope": "", "next_cursor": "0"}
    assert all(href.startswith(pager.base + "?") for href in links.values())


def test_walking_next_links_covers_the_unpaged_result(pager):
    unpaged = ids(pager.get("method=get_site"))
    assert unpaged == pager.pks
    pages = pager.walk(f"{pager.base}?method=get_site&next_cursor=0", "next")
    assert [count for _, count, _, _ in pages] == [3, 3, 1, 0]
    assert [pk for _, _, _, page in pages for pk in page] == unpaged
    assert "next" in pages[-2][0]  # a short page still links on; clients stop at count 0
    last_links = pages[-1][0]
    assert set(last_links) == {"self", "prev", "start"}  # no next link on the empty page
    assert query_of(last_links["prev"])["prev_cursor"] == str(pager.pks[-1] + 1)


def test_paging_links_stay_on_the_host_the_client_called(client, settings):
    """`PORT=18091 make demo` with a PORTAL_URL left at port 8000: a client following `rel="next"`
    verbatim stays on the server it called."""
    settings.PI_PAGE_SIZE = 2
    settings.PORTAL_URL = "http://127.0.0.1:8000"
    sites = SiteFactory.create_batch(5)
    _, secret = api_credential(sites[0], kind=APICredential.Kind.TOKEN)
    auth = {"Authorization": f"Bearer {secret}"}
    href, seen = "http://127.0.0.1:18091/gocdbpi/private/?method=get_site&next_cursor=0", []
    for _ in range(5):
        links, count, _, page = page_meta(fetch_href(client, href, auth)[1])
        assert all(link.startswith("http://127.0.0.1:18091/gocdbpi/private/?") for link in links.values()), links
        seen += page
        if count == 0:
            break
        href = links["next"]
    assert seen == [s.pk for s in sites]


def test_walking_prev_links_backwards_covers_everything(pager):
    after_end = pager.pks[-1] + 1
    pages = pager.walk(f"{pager.base}?method=get_site&prev_cursor={after_end}", "prev")
    assert [count for _, count, _, _ in pages] == [3, 3, 1, 0]
    assert [pk for _, _, _, page in reversed(pages) for pk in page] == pager.pks
    assert all(page == sorted(page) for _, _, _, page in pages)  # each page rendered ascending
    links = pages[-1][0]
    assert set(links) == {"self", "next", "start"}
    assert query_of(links["next"]) == {"method": "get_site", "next_cursor": str(pager.pks[0] - 1)}
    assert page_meta(pager.follow(links["next"]))[3] == pager.pks[:3]


def test_prev_links_drop_the_next_cursor_and_vice_versa(pager):
    links, *_ = page_meta(pager.get(f"method=get_site&prev_cursor={pager.pks[5]}&sitename=SITE%25"))
    assert query_of(links["next"]) == {"method": "get_site", "sitename": "SITE%", "next_cursor": str(pager.pks[4])}
    assert query_of(links["prev"]) == {"method": "get_site", "sitename": "SITE%", "prev_cursor": str(pager.pks[2])}
    assert query_of(links["start"]) == {"method": "get_site", "sitename": "SITE%", "next_cursor": "0"}


def test_empty_page_after_prev_cursor_zero_clamps(pager):
    links, count, _, page = page_meta(pager.get("method=get_site&prev_cursor=0"))
    assert (count, page, set(links)) == (0, [], {"self", "next", "start"})
    assert query_of(links["next"])["next_cursor"] == "0"


def test_site_list_accepts_cursors_but_does_not_page(client, settings):
    settings.PI_PAGE_SIZE = 2
    sites = SiteFactory.create_batch(5)
    _, body = fetch(client, {"method": "get_site_list", "next_cursor": "0"})
    assert parse(body).find("meta") is None
    assert ids(body) == [s.pk for s in sites]


def test_page_costs_the_same_queries_for_few_or_many_rows(client, settings):
    settings.PI_PAGE_SIZE = 10
    site = SiteFactory()
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    auth = {"Authorization": f"Bearer {secret}"}
    fetch(client, {"method": "get_site", "next_cursor": 0}, auth)  # records the credential's use once

    def queries():
        with CaptureQueriesContext(connection) as captured:
            fetch(client, {"method": "get_site", "next_cursor": 0}, auth)
        return len(captured)

    few = queries()
    for n in range(8):
        SiteFactory().properties.create(key="k", value=str(n))
    assert queries() == few


# ================================================================ 7. caller identification and levels (§10, §11.2)


@pytest.fixture
def token(db):
    site = SiteFactory()
    credential, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    return credential, secret


def test_identify_bearer_token(rf, token):
    credential, secret = token
    for scheme in ("Bearer", "bearer", "BEARER"):
        caller = identity.identify(rf.get(URL, headers={"Authorization": f"{scheme}  {secret} "}))
        assert caller == identity.Caller(credential.identifier, APICredential.Kind.TOKEN, credential, credential.user)
    assert caller.identifier.startswith(secret[:12])


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ",
        "Bearer",
        "Bearer " + "x" * 201,
        "Basic dXNlcjpwYXNzd29yZA==",
        "",
    ],
)
def test_identify_without_a_valid_credential_is_anonymous(rf, token, header):
    assert identity.identify(rf.get(URL, headers={"Authorization": header})) == identity.Caller()


@pytest.mark.parametrize(
    "header, reason",
    [
        ("Bearer egip_unknown", "Unknown or revoked token."),
        ("Token whatever", "Unknown or revoked token."),
        ("Token", "the token is missing"),
        ("Token egit_a b", "without spaces"),
        ("Bearer egip_a\tb", "without spaces"),
        ("Basic " + base64.b64encode(b"argo:egip_unknown").decode(), "Unknown or revoked token."),
        ("Basic " + base64.b64encode("x:egip_\u00e9t\u00e9".encode()).decode(), "printable ASCII"),
        ("Basic not base64!", "Invalid Basic authorization header"),
        ("Basic " + base64.b64encode(b"no colon").decode(), "Invalid Basic authorization header"),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "Invalid Basic authorization header"),
        ("Basic", "Invalid Basic authorization header"),
        ("Bearer egip_" + "A" * 500, "printable ASCII"),
    ],
)
def test_identify_refuses_portal_tokens_it_cannot_use_and_says_why(rf, token, header, reason):
    with pytest.raises(identity.TokenRefused) as refused:
        identity.identify(rf.get(URL, headers={"Authorization": header}))
    assert reason in refused.value.message


@pytest.mark.parametrize("user", ["", "argo", "any one"])
def test_identify_basic_with_the_token_as_password(rf, token, user):
    """ARGO's connectors (AuthenticationUsePlainHttpAuth): any user name, the token as the password."""
    credential, secret = token
    header = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    caller = identity.identify(rf.get(URL, headers={"Authorization": header}))
    assert caller == identity.Caller(credential.identifier, APICredential.Kind.TOKEN, credential, credential.user)


def test_identify_expired_token(rf, token, settings):
    credential, secret = token
    credential.last_renewed = timezone.now() - timedelta(days=settings.API_CREDENTIAL_MAX_AGE_DAYS, minutes=1)
    credential.save()
    with pytest.raises(identity.TokenRefused, match="Expired token: a site administrator must renew"):
        identity.identify(rf.get(URL, headers={"Authorization": f"Bearer {secret}"}))


def test_over_long_token_of_a_known_prefix_is_refused_with_a_reason(rf, token):
    _, secret = token
    with pytest.raises(identity.TokenRefused, match="Unknown or revoked token"):
        identity.identify(rf.get(URL, headers={"Authorization": f"Bearer {secret}{'x' * 200}"}))


@pytest.mark.parametrize(
    "dn, slash",
    [
        ("CN=robot,O=Example,DC=org", "/DC=org/O=Example/CN=robot"),
        ("CN=Jane Doe, OU=Grid, C=UK", "/C=UK/OU=Grid/CN=Jane Doe"),
        ("emailAddress=jane@example.org,CN=Jane,C=UK", "/C=UK/CN=Jane/Email=jane@example.org"),
        ("EMAILADDRESS=jane@example.org,CN=Jane", "/CN=Jane/Email=jane@example.org"),
        ("CN=Doe\\, Jane,O=Example", "/O=Example/CN=Doe, Jane"),
        ("CN=J\\C3\\BCrgen,O=Uni\\+Lab", "/O=Uni+Lab/CN=Jürgen"),
        ("CN=a\\\\,O=b", "/O=b/CN=a\\"),
        ("/C=UK/O=eScience/CN=jane", "/C=UK/O=eScience/CN=jane"),
        ("/C=UK/CN=jane/emailAddress=jane@example.org", "/C=UK/CN=jane/Email=jane@example.org"),
    ],
)
def test_slash_dn(dn, slash):
    assert identity.slash_dn(dn) == slash


DN_HEADER = "X-SSL-Client-DN"
SUBJECT_HEADER = "X-OIDC-Subject"


def test_dn_header_only_when_configured(rf, settings):
    request = rf.get(URL, headers={DN_HEADER: "CN=robot,DC=org"})
    settings.PI_CLIENT_DN_HEADER = ""
    assert identity.identify(request) == identity.Caller()
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    assert identity.identify(request) == identity.Caller("/DC=org/CN=robot", APICredential.Kind.X509)
    assert identity.identify(rf.get(URL, headers={DN_HEADER: "  "})) == identity.Caller()


def test_dn_header_finds_credential_and_user(rf, settings):
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    site = SiteFactory()
    credential = api_credential(site, identifier="/DC=org/CN=robot")
    user = UserFactory()
    Identity.objects.create(user=user, realm=Identity.Realm.X509, value="/DC=org/CN=robot")
    caller = identity.identify(rf.get(URL, headers={DN_HEADER: "CN=robot,DC=org"}))
    assert caller == identity.Caller("/DC=org/CN=robot", APICredential.Kind.X509, credential, user)


def test_oidc_subject_header(rf, settings):
    site = SiteFactory()
    credential = api_credential(site, kind=APICredential.Kind.OIDC, identifier="sub-123@egi.eu")
    user = UserFactory()
    Identity.objects.create(user=user, realm=Identity.Realm.CHECKIN, value="sub-123@egi.eu")
    request = rf.get(URL, headers={SUBJECT_HEADER: "sub-123@egi.eu"})
    assert identity.identify(request) == identity.Caller()
    settings.PI_OIDC_SUBJECT_HEADER = SUBJECT_HEADER
    assert identity.identify(request) == identity.Caller("sub-123@egi.eu", APICredential.Kind.OIDC, credential, user)


def test_bearer_token_wins_over_headers(rf, settings, token):
    credential, secret = token
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    caller = identity.identify(rf.get(URL, headers={"Authorization": f"Bearer {secret}", DN_HEADER: "CN=x"}))
    assert caller.credential == credential
    caller = identity.identify(rf.get(URL, headers={"Authorization": "Bearer wrong", DN_HEADER: "CN=x"}))
    assert caller == identity.Caller("/CN=x", APICredential.Kind.X509)


def test_session_user(rf):
    user = UserFactory()
    request = rf.get(URL)
    request.user = user
    assert identity.identify(request) == identity.Caller(user.username, "session", None, user)


def assert_denied(caller, level, message, strict=False):
    with pytest.raises(pi.PIDenied) as raised:
        pi.check_level(caller, level, strict)
    assert str(raised.value) == message


@pytest.mark.parametrize("restrict", [True, False])
def test_levels_one_and_two(settings, restrict):
    settings.RESTRICT_PERSONAL_DATA = restrict
    anonymous, unknown = identity.Caller(), identity.Caller("/CN=nobody", APICredential.Kind.X509)
    pi.check_level(anonymous, pi.PUBLIC)
    assert_denied(anonymous, pi.PROTECTED, NO_IDENTIFIER)
    pi.check_level(unknown, pi.PROTECTED)
    assert_denied(anonymous, pi.PRIVATE, NO_IDENTIFIER)


@pytest.mark.parametrize("restrict", [True, False])
def test_level_three_credential(settings, restrict, token):
    settings.RESTRICT_PERSONAL_DATA = restrict
    credential, _ = token
    assert credential.last_used is None
    pi.check_level(identity.Caller(credential.identifier, credential.kind, credential, credential.user), pi.PRIVATE)
    credential.refresh_from_db()
    assert credential.last_used is not None


def test_level_three_unregistered_identifier(settings):
    unknown = identity.Caller("/CN=nobody", APICredential.Kind.X509)
    settings.RESTRICT_PERSONAL_DATA = True
    assert_denied(unknown, pi.PRIVATE, ROLE_REQUIRED)
    assert_denied(unknown, pi.PRIVATE, ROLE_REQUIRED, strict=True)
    settings.RESTRICT_PERSONAL_DATA = False
    pi.check_level(unknown, pi.PRIVATE)
    assert_denied(unknown, pi.PRIVATE, REGISTRATION_REQUIRED, strict=True)  # access_test


@pytest.mark.parametrize(
    "role, superuser, restrict, allowed",
    [
        (None, False, True, False),
        (RoleStatus.PENDING, False, True, False),
        (RoleStatus.GRANTED, False, True, True),
        (None, True, True, True),
        (None, False, False, True),
        (RoleStatus.PENDING, False, False, True),
    ],
)
def test_level_three_registered_user(settings, role, superuser, restrict, allowed):
    settings.RESTRICT_PERSONAL_DATA = restrict
    user = UserFactory(is_superuser=superuser)
    if role:
        grant(user, RoleType.SITE_ADMIN, SiteFactory(), status=role)
    caller = identity.Caller("/CN=jane", APICredential.Kind.X509, None, user)
    if allowed:
        pi.check_level(caller, pi.PRIVATE)
        pi.check_level(caller, pi.PRIVATE, strict=True)
    else:
        assert_denied(caller, pi.PRIVATE, ROLE_REQUIRED)


@pytest.mark.parametrize(
    "restrict, role, reply", [(True, True, "xml"), (True, False, ROLE_REQUIRED), (False, False, "xml")]
)
def test_private_method_with_a_dn_linked_to_a_user(client, settings, restrict, role, reply):
    """End to end: a front-proxy DN (RFC 2253) -> slash DN -> Identity -> user -> role -> get_site."""
    settings.RESTRICT_PERSONAL_DATA = restrict
    settings.PI_CLIENT_DN_HEADER = DN_HEADER
    site = SiteFactory()
    user = UserFactory()
    Identity.objects.create(user=user, realm=Identity.Realm.X509, value="/DC=org/DC=example/CN=Jane Doe")
    if role:
        grant(user, RoleType.SITE_ADMIN, site)
    response, body = fetch(client, {"method": "get_site"}, {DN_HEADER: "CN=Jane Doe,DC=example,DC=org"})
    if reply == "xml":
        assert ids(body) == [site.pk]
    else:
        assert_text_reply(response, body, reply)


def test_private_method_callers_through_the_view(client, token):
    credential, secret = token
    response, body = fetch(client, {"method": "get_site"})
    assert_text_reply(response, body, NO_IDENTIFIER)
    response, body = fetch(client, {"method": "get_site"}, {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="})
    assert_text_reply(response, body, NO_IDENTIFIER)
    assert ids(fetch(client, {"method": "get_site"}, {"Authorization": f"Bearer {secret}"})[1]) == [credential.site_id]
    client.force_login(UserFactory(is_superuser=True))
    assert ids(fetch(client, {"method": "get_site"})[1]) == [credential.site_id]


def test_basic_header_ignored_on_public_reads(client):
    site = SiteFactory()
    assert site_list(client) == [site.pk]
    _, body = fetch(client, {"method": "get_site_list"}, {"Authorization": "Basic cGxhY2Vob2xkZXI6eA=="})
    assert ids(body) == [site.pk]


# ================================================================ 8. streaming in batches


def test_unpaged_reply_streams_every_site_once_in_id_order(client, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(pi.paging, "CHUNK", 7)
    # Names sort opposite to ids, so name order (the model's default) would show.
    sites = [SiteFactory(short_name=f"Z{99 - n:02d}") for n in range(23)]
    with django_assert_num_queries(23 // 7 + 1):  # one query per batch of 7 (the last one short)
        response, body = fetch(client, {"method": "get_site_list"})
    assert response.streaming
    assert ids(body) == [s.pk for s in sites]


@pytest.mark.parametrize("count, batches", [(0, 1), (6, 1), (7, 2), (14, 3), (15, 3)])
def test_batch_queries_grow_per_batch(client, monkeypatch, django_assert_num_queries, count, batches):
    monkeypatch.setattr(pi.paging, "CHUNK", 7)
    SiteFactory.create_batch(count)
    with django_assert_num_queries(batches):
        assert len(site_list(client)) == count


def test_get_site_streams_with_prefetches_per_batch(client, monkeypatch):
    """get_site prefetches scopes and properties: the same number of queries per batch, none per site."""
    monkeypatch.setattr(pi.paging, "CHUNK", 7)
    site = SiteFactory()
    _, secret = api_credential(site, kind=APICredential.Kind.TOKEN)
    auth = {"Authorization": f"Bearer {secret}"}
    fetch(client, {"method": "get_site"}, auth)  # records the credential's use once

    def queries_for(total):
        """Queries of an unpaged get_site over `total` sites, each with a property."""
        while Site.objects.count() < total:
            SiteFactory().properties.create(key="k", value="v")
        with CaptureQueriesContext(connection) as captured:
            _, body = fetch(client, {"method": "get_site"}, auth)
        assert len(ids(body)) == total
        return len(captured)

    one, two, three = queries_for(6), queries_for(13), queries_for(20)  # 1, 2 and 3 batches
    assert three - two == two - one > 0


def test_batches_helper_orders_by_id(db):
    sites = [SiteFactory(short_name=f"Y{9 - n}") for n in range(5)]
    listing = pi.Listing(Site.objects.all(), lambda objects: objects)
    batches = list(pi.batches(listing, 2))
    assert [[s.pk for s in batch] for batch in batches] == [[s.pk for s in sites[i : i + 2]] for i in (0, 2, 4)]


# ================================================================ 9. dates


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("  2024-03-05 ", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05 10:20", datetime(2024, 3, 5, 10, 20, tzinfo=UTC)),
        ("2024-03-05 10:20:30", datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-05T10:20", datetime(2024, 3, 5, 10, 20, tzinfo=UTC)),
        ("2024-03-05T10:20:30", datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-05T10:20:30+02:00", datetime(2024, 3, 5, 8, 20, 30, tzinfo=UTC)),
        ("2024-03-05T10:20:30Z", datetime(2024, 3, 5, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-05T10:20:30.250", datetime(2024, 3, 5, 10, 20, 30, 250000, tzinfo=UTC)),
        ("@0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("@1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("@-86400", datetime(1969, 12, 31, tzinfo=UTC)),
    ],
)
def test_parse_date_forms(text, expected):
    parsed = pi.parse_date("startdate", text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


def test_parse_date_now_and_today():
    before = timezone.now()
    now = pi.parse_date("startdate", "now")
    assert before <= now <= timezone.now()
    today = pi.parse_date("startdate", "today")
    assert today == datetime.combine(now.date(), datetime.min.time(), UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "NOW",
        "2024-13-01",
        "2024-02-30",
        "05/03/2024",
        "2024-03-05 25:00",
        "@",
        "@1.5",
        "@9999999999999",
        "@999999999999",  # year 33658
        "@-999999999999",
        "@\u0661\u0662",
        "9999-12-31T23:59:59-05:00",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+01:00",
        "x" * 1000,
    ],
)
def test_parse_date_errors(text):
    with pytest.raises(pi.PIError) as raised:
        pi.parse_date("startdate", text)
    assert str(raised.value) == f"Invalid startdate value - must be a date as YYYY-MM-DD: {text}"


offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone.get_fixed_timezone(minutes))
date_texts = st.one_of(
    st.text(max_size=40),
    st.integers(-(10**12) + 1, 10**12 - 1).map(lambda seconds: f"@{seconds}"),  # to beyond year 9999
    st.datetimes(timezones=st.none() | offsets).map(lambda moment: moment.isoformat(sep=" ")),
    st.datetimes(timezones=offsets).map(datetime.isoformat),  # years 1 and 9999 overflow once in UTC
)


@examples
@given(date_texts)
def test_parse_date_any_text(text):
    try:
        parsed = pi.parse_date("enddate", text)
    except pi.PIError as exc:
        assert str(exc) == f"Invalid enddate value - must be a date as YYYY-MM-DD: {text}"
    else:
        assert parsed.utcoffset() == timedelta(0)


def test_query_date(rf):
    query = pi.Query(rf.get(URL), {"startdate": "2024-03-05"}, identity.Caller())
    assert query.date("startdate") == datetime(2024, 3, 5, tzinfo=UTC)
    assert query.date("enddate") is None


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN")
@pytest.mark.parametrize("dn", ["CN=a\\00b,O=x", "/CN=a\x01b", "/CN=" + "a" * 300])
def test_proxy_dn_with_control_characters_or_overlong_is_no_identifier(client, dn):
    reply = client.get("/gocdbpi/private/?method=get_site", headers={"X-SSL-Client-S-DN": dn})
    assert reply.status_code == 200
    assert reply.content.decode().startswith("No valid identifier found")


XML_CHAR = re.compile(r"[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_legal(value):
    return "".join(ch if XML_CHAR.fullmatch(ch) else "\ufffd" for ch in value)


@given(st.text(max_size=40), st.text(max_size=40))
def test_writer_writes_what_lxml_would(value, attribute):
    """The methods write their replies as text; it must be exactly what lxml and the framework make of
    the same element, whatever the characters (those XML cannot carry become U+FFFD)."""
    w = pixml.Writer("A", KEY=attribute)
    w.leaf("B", value)
    w.leaf("C")
    if w.start("D", [value] if value else []):
        w.leaf_if("E", value)
        w.leaf_if("F", "")
        w.close("D")
    root = etree.Element("A", KEY=xml_legal(attribute))
    etree.SubElement(root, "B").text = xml_legal(value) or None
    etree.SubElement(root, "C")
    d = etree.SubElement(root, "D")
    if value:
        etree.SubElement(d, "E").text = xml_legal(value)
    assert w.done("A") == pixml.serialise(root)
