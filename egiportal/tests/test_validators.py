"""The field formats of specs/gocdb.md §4, one family at a time, with good and bad values."""

import re
import string
import time

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from egiportal import validators as v
from sites.tests.factories import SiteFactory


def ok(validator, value):
    validator(value)


def refused(validator, value):
    with pytest.raises(ValidationError):
        validator(value)


def check(validator, good, bad):
    for value in good:
        ok(validator, value)
    for value in bad:
        refused(validator, value)


def test_entity_names():
    check(
        v.entity_name,
        ["SITE-1", "NIKHEF-ELPROD", "a.b_c-d", "X"],
        ["", "has space", "a/b", "Zürich", "name\n", "semi;colon", "<b>", "a'b"],
    )
    check(v.scope_name, ["EGI", "EGI.FedContainers", "wlcg_1-x"], ["", "a b", "a/b", "x\n"])
    check(v.group_name, ["group_1", "ABC"], ["with-hyphen", "a.b", "", "a\n"])


def test_hostnames():
    check(
        v.hostname,
        ["cloud.example.org", "a-b_c.d.e1", "host1.grid.example.ac.uk"],
        [
            "cloud.example.org:8443",  # no port
            "cloud.example.org.",  # no trailing dot
            "localhost",  # at least one dot
            "cl oud.example.org",
            " cloud.example.org",
            "clöud.example.org",
            "cloud.example.org\n",
            "cloud.example.o-",
            "",
            "https://cloud.example.org",
        ],
    )


def test_home_and_giis_urls():
    check(
        v.home_url,
        ["", "http://example.org", "https://www.example.org/path/page?x=1&y=%20"],
        [
            "ftp://example.org",
            "https://localhost",
            "https://example.org:8443/",
            "https://exämple.org/",
            "https://example.org/a b",
            "https://example.org/\n",
            "javascript:alert(1)",
            "https://example.org/<script>",
        ],
    )
    check(
        v.giis_url,
        ["", "ldap://bdii.example.org:2170/mds-vo-name=SITE,o=grid"],
        ["http://bdii.example.org", "ldap://bdii", "ldap://bdii.example.org:2170/\n", "ldap://bdii.example.org/a b"],
    )


def test_rfc3986_url():
    check(
        v.url,
        [
            "",
            "https://h.example.org:5000/v3?x=1&y=[a]#frag",
            "srm://se.example.org:8446/srm/managerv2?SFN=/dpm",
            "gsiftp://se.example.org/a;b=c~d%20",
        ],
        [
            "ftp//broken",
            "a;b=c~d%20",
            "://no-scheme.example.org",
            "https://h.example.org/a b",
            "https://h.example.org/<x>",
            'https://h/"',
            "https://h/\n",
            "https://hé.org",
            "{x}",
        ],
    )


def test_emails():
    check(
        v.emails,
        ["a@example.org", "a@b.org, c@d.org;e@f.org", "first.last+tag@sub.example.ac.uk"],
        [
            "",
            "a",
            "a@",
            "@example.org",
            "a@b.org,",
            "a@b.org c@d.org",
            "a@-b.org",
            "a@b.org\n",
            "<a@b.org>",
        ],
    )
    check(v.emails_optional, ["", "a@b.org", "a@b.org;c@d.org"], ["a@b.org;", "nope"])
    check(v.email_optional, ["", "a@b.org"], ["a@b.org,c@d.org", "a@b.org;c@d.org", "a@b.org\n", "x"])


def test_telephones():
    check(
        v.telephone,
        ["+31 20 123 4567", "(020) 123-4567", "+1 555 1234, +1 555 5678", "1,", "020.123.45"],
        ["", "abc", "+", "1,,2", "++1", "12\n", "1\n2", "+31 20 ext. 5", "tel:123"],
    )
    check(v.telephone_optional, ["", "+44 1234 567890"], ["x", "1\n", ","])


def test_ip_ranges():
    check(
        v.ip_range,
        ["", "192.0.2.0/255.255.255.0", "192.0.2.0/255.255.255.0,198.51.100.0/255.255.255.0", "10.0.0.0/255.0.0.0;"],
        ["192.0.2.0/24", "192.0.2.0", "x", "192.0.2.0/255.255.255.0\n", "2001:db8::/32"],
    )
    check(v.ipv6_range, ["", "2001:db8::/32", "::1"], ["2001:db8::g/32", "2001:db8::/32\n", "1.2.3.4"])
    check(v.ipv4, ["", "192.0.2.1"], ["192.0.2", "192.0.2.1\n", "::1", "a.b.c.d", "300.1.1.1", "1.2.3.256"])


def test_ipv6_address_with_prefix():
    check(
        v.ipv6_address,
        ["", "2001:db8::1", "2001:db8::1/64", "::1", "2001:db8::/128"],
        ["2001:db8::1/0", "2001:db8::1/129", "2001:db8::1/abc", "/64", "gggg::1", "192.0.2.1", "2001:db8::1/-1"],
    )


def test_latitude_longitude():
    check(v.latitude, ["", "0", "52.37", "-90", "90", "+45.5", "-0.1"], ["91", "90.5", "-91", "abc", "1e3", "45\n"])
    check(v.longitude, ["", "0", "4.89", "-180", "180", "179.99"], ["181", "180.1", "-181", "west", "4\n"])


@pytest.mark.django_db
def test_latitude_range_on_the_model():
    site = SiteFactory.build(latitude=91.0, longitude=0.0)
    with pytest.raises(ValidationError) as exc:
        site.clean()
    assert "latitude" in exc.value.message_dict
    site = SiteFactory.build(latitude=0.0, longitude=-180.5)
    with pytest.raises(ValidationError) as exc:
        site.clean()
    assert "longitude" in exc.value.message_dict


def test_timezones():
    check(
        v.timezone,
        ["UTC", "Europe/Amsterdam", "America/Argentina/Buenos_Aires"],
        ["UTC+1", "Etc/GMT-1", "Europe/", "/Europe", "Europe Amsterdam", "Europe/Amsterdam\n", "", "Mars/Olympus"],
    )


def test_property_keys_and_values():
    check(
        v.property_key,
        ["a.b", "key with space", "x[1]+@_-", "GLUE2.Endpoint.URL"],
        [" a", "a ", "a=b", "a'b", 'a"b', "a<b", "", "a\n", "a\nb", "ké"],
    )
    check(
        v.property_value,
        ["v&w", "a b c", "https://x.example.org/?y=1", "ünïcode", "semi;colon"],
        [" a", "a ", "a'b", 'a"b', "a<b", "a>b", "a`b", "a\n", ""],
    )


def test_distinguished_names():
    check(
        v.host_dn,
        ["", "/C=NL/O=Example/CN=host.example.org", "/DC=org/DC=example/CN=Jane Doe (admin)/emailAddress=j@x.org"],
        ["C=NL/O=Example", "/C=NL<", "/C=NL\n", "/C=NL/CN=a\nb", "/=NL", "/C1=NL"],
    )


def test_free_text_and_names():
    check(
        v.free_text,
        ["A site in Amsterdam & co.", "Multi\nline text"],
        ["", "<script>alert(1)</script>", "it's", 'say "x"', "a;b", "`x`"],
    )
    check(v.free_text_optional, ["", "fine"], ["<b>"])
    check(v.official_name, ["", "Nikhef (NL) [prod], 'x': \"y\"/z;"], ["<script>", "name\n", "a&b"])
    check(v.domain, ["example.org", "grid.example.ac.uk (main)"], ["", "ex<ample", "example.org\n", "a;b"])
    check(v.endpoint_name, ["endpoint 1", "a.b_c-d"], ["", "a/b", "a\n"])
    check(v.interface_name, ["", "org.openstack.nova", "a+b (x)"], ["a<b", "a\n"])
    check(v.os_arch, ["", "x86_64", "Linux (EL9)"], ["a<b", "x86_64\n"])
    check(v.ggus_su, ["", "NGI_NL (grid) +ops"], ["a'b", "a\n"])


@pytest.mark.django_db
def test_overlong_values_are_refused_by_the_model():
    """Every field is at most 255 characters (description 2000): one more is a field error."""
    site = SiteFactory.build(official_name="a" * 256, description="d" * 2001, domain="e" * 256)
    with pytest.raises(ValidationError) as exc:
        site.full_clean(exclude=["ngi", "country", "primary_key", "ownedentity_ptr"], validate_unique=False)
    errors = exc.value.message_dict
    assert {"official_name", "description", "domain"} <= set(errors)
    assert any("at most 255" in m for m in errors["official_name"])
    assert any("at most 2000" in m for m in errors["description"])


@pytest.mark.parametrize(
    "validator, bad",
    [
        (v.hostname, "a." * 126 + "!"),
        (v.hostname, "aa." * 84 + "!"),
        (v.property_key, "a" * 250 + " !"),
        (v.property_value, "a" * 250 + " '"),
        (v.telephone, "1" * 250 + "x"),
        (v.telephone_optional, "1" * 250 + "x"),
        (v.timezone, "a" * 63 + "1"),
        (v.ip_range, "1.1.1.1/1.1.1.111" * 14 + "x"),
        (v.emails, "a@b.c ; " * 30 + "!"),
        (v.home_url, "http://a." + "a" * 240 + " "),
        (v.host_dn, "/C=" + "a/" * 120 + "!"),
    ],
)
def test_hostile_values_fail_fast(validator, bad):
    """Nested quantifiers in GOCDB's patterns backtracked exponentially; the rewrites answer at once."""
    start = time.monotonic()
    refused(validator, bad)
    assert time.monotonic() - start < 0.5


FORBIDDEN_IN_FREE_TEXT = "`'\";<>"


@given(st.text(min_size=1, max_size=60), st.sampled_from(FORBIDDEN_IN_FREE_TEXT), st.text(max_size=20))
def test_free_text_refuses_any_quote_or_angle_bracket(prefix, bad, suffix):
    refused(v.free_text, prefix + bad + suffix)


LABEL = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=20)
TLD = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)


@given(st.lists(LABEL, min_size=1, max_size=5), TLD)
def test_any_generated_hostname_passes(labels, tld):
    host = ".".join([*labels, tld])
    ok(v.hostname, host)
    refused(v.hostname, host + ".")
    refused(v.hostname, host + ":443")
    refused(v.hostname, host + "\n")


@given(st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}@[a-z0-9]{1,10}(\.[a-z]{2,5}){1,2}", fullmatch=True))
def test_generated_addresses_pass_alone_and_in_lists(address):
    ok(v.email_optional, address)
    ok(v.emails, f"{address}, {address};{address}")
    refused(v.email_optional, f"{address},{address}")


@settings(max_examples=300)
@given(st.text(alphabet="0123456789 +,()-.x\n", max_size=14))
def test_telephone_rewrite_matches_gocdb_pattern(value):
    """The linear telephone pattern accepts exactly what GOCDB's accepts (line breaks aside)."""
    gocdb = re.compile(r"^(\+?[0-9\-. \t)(]+,?)+\Z")  # short inputs only: this one backtracks exponentially
    try:
        v.telephone(value)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == bool(gocdb.search(value))


@pytest.mark.parametrize(
    ("validator", "value", "named"),
    [
        (v.entity_name, "NL<AMS>x<", 'Not allowed: "<", ">".'),
        (v.free_text, "a;b`c", 'Not allowed: ";", "`".'),
        (v.free_text_optional, 'say "hi"', "Not allowed: '\"'."),
        (v.group_name, "a-b.c", 'Not allowed: "-", ".".'),
        (v.scope_name, "EGI Core", 'Not allowed: " ".'),
        (v.official_name, "Site\x00\x1b\n", "Not allowed: U+0000, U+001B, U+000A."),
        (v.domain, "a%b", 'Not allowed: "%".'),  # a "%" in the message is not taken as a placeholder
        (v.os_arch, "x86{64}", 'Not allowed: "{", "}".'),
        (v.url, "https://h.example.org/a b|", 'Not allowed: " ", "|".'),
        (v.endpoint_name, "nova\u200bapi", "Not allowed: U+200B."),
        (v.ggus_su, "SU<x>", 'Not allowed: "<", ">".'),
        (v.property_key, "k=v", 'Not allowed: "=".'),
        (v.property_value, "<b>", 'Not allowed: "<", ">".'),
        (v.hostname, "cloud example.org", 'Not allowed: " ".'),
        (v.entity_name, "!@#$%^&*(){}|~", 'Not allowed: "!", "@", "#", "$", "%", "^", "&", "*", "(", ")" and 4 more.'),
    ],
)
def test_character_rules_name_the_offending_characters(validator, value, named):
    with pytest.raises(ValidationError) as refused_:
        validator(value)
    assert refused_.value.messages[0].endswith(named), refused_.value.messages


def test_a_character_rule_refusing_a_shape_only_gives_the_plain_message():
    with pytest.raises(ValidationError) as refused_:
        v.property_key(" leading")
    assert refused_.value.messages == [v.property_key.message]


def test_character_rules_stay_deconstructible_and_equal_for_migrations():
    path, args, kwargs = v.entity_name.deconstruct()
    assert path == "egiportal.validators.CharacterRule"
    assert v.CharacterRule(*args, **kwargs) == v.entity_name
    assert v.entity_name != v.scope_name and v.entity_name != v._rx(r"^[a-zA-Z0-9\-._]+\Z", v.entity_name.message)


@pytest.mark.parametrize(
    "value",
    [
        "::g",
        "1:2:3:4:5:6:7:8:9",
        "fe80::1%eth0",
        "fe80::1%25",
        "::1\x00",
        "::1/\u0661\u0662",
        "::1/",
        "::1/0",
        "::1/129",
        "::1/" + "9" * 5000,
        " ::1",
        "\uff12001:db8::1",
    ],
)
def test_invalid_ipv6_addresses_are_refused_with_a_clear_message(value):
    with pytest.raises(ValidationError) as refused_:
        v.ipv6_address(value)
    assert "IPv6" in refused_.value.messages[0]
