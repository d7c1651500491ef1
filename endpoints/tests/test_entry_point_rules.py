"""GOCDB's field rules in every entry point: the site and service edit forms as a browser posts them, the
REST API and the PI write API each refuse a bad value with a clear message that names the offending
characters of a character rule, and save nothing."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from egiportal.api.testcases import api
from egiportal.models import AuditLog
from egiportal.testcases import form_data
from egiportal.tests.test_browser import log_in, page  # noqa: F401 - the Playwright fixture
from endpoints.models import Service
from endpoints.tests.factories import ServiceFactory
from endpoints.tests.test_pi_write import send
from sites.choices import RoleType
from sites.models import APICredential, Site
from sites.tests.factories import SiteFactory, api_credential, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return SiteFactory(short_name="NL-RULES", timezone="Europe/Amsterdam")


@pytest.fixture
def service(site):
    return ServiceFactory(site=site, hostname="cloud.rules.example.org", url="https://cloud.rules.example.org/")


@pytest.fixture
def admin(site):
    return user_with(RoleType.SITE_ADMIN, site)


def post_edit_form(client, page_url, /, **typed):
    """GET the edit form, change `typed` fields as a user would, POST what the browser sends."""
    data = form_data(client.get(page_url).context["form"])
    return client.post(page_url, {**data, **typed})


def refused_in_form(response, field):
    assert response.status_code == 400, response.status_code
    return " ".join(response.context["form"].errors[field])


SITE_FORM_RULES = [
    ("timezone", "Mars/Olympus", "not an IANA time zone"),
    ("official_name", "Amsterdam <Cloud>", 'Not allowed: "<", ">".'),
    ("description", "It's the best", 'Not allowed: "\'".'),
    ("domain", "rules.example.org;x", 'Not allowed: ";".'),
    ("ipv6_range", "2001:db8::g/32", 'Not allowed: "g".'),
]


@pytest.mark.parametrize(("field", "value", "message"), SITE_FORM_RULES)
def test_site_edit_form_shows_the_rule_and_saves_nothing(client, site, admin, field, value, message):
    client.force_login(admin)
    before = Site.objects.get(pk=site.pk).snapshot()
    response = post_edit_form(client, reverse("sites:site_edit", args=[site.pk]), **{field: value})
    assert message in refused_in_form(response, field)
    assert escape(message) in response.content.decode()
    assert Site.objects.get(pk=site.pk).snapshot() == before and not AuditLog.objects.exists()


SERVICE_FORM_RULES = [
    ("ip_address", "300.1.1.1", "Enter an IPv4 address"),
    ("url", "ftp//broken", "Enter an absolute URL"),
    ("url", "https://cloud.rules.example.org/a b", 'Not allowed: " ".'),
    ("hostname", "cloud rules.example.org", 'Not allowed: " ".'),
    ("description", "<script>", 'Not allowed: "<", ">".'),
    ("architecture", "x86{64}", 'Not allowed: "{", "}".'),
    ("ipv6_address", "::g", "is not a valid IPv6 address"),
    ("ipv6_address", "1:2:3:4:5:6:7:8:9", "is not a valid IPv6 address"),
    ("ipv6_address", "fe80::1%eth0", "may not carry a zone id"),
    ("ipv6_address", "2001:db8::1/0", "prefix length"),
]


@pytest.mark.parametrize(("field", "value", "message"), SERVICE_FORM_RULES)
def test_service_edit_form_shows_the_rule_and_saves_nothing(client, service, admin, field, value, message):
    client.force_login(admin)
    before = Service.objects.get(pk=service.pk).snapshot()
    response = post_edit_form(client, reverse("endpoints:service_edit", args=[service.pk]), **{field: value})
    assert message in refused_in_form(response, field)
    assert Service.objects.get(pk=service.pk).snapshot() == before and not AuditLog.objects.exists()


def test_a_nul_in_the_ipv6_address_is_a_form_error(client, service, admin):
    client.force_login(admin)
    response = post_edit_form(client, reverse("endpoints:service_edit", args=[service.pk]), ipv6_address="::1\x00")
    assert refused_in_form(response, "ipv6_address")
    assert Service.objects.get(pk=service.pk).ipv6_address == ""


def test_the_service_add_form_refuses_the_same_rules(client, site, admin):
    client.force_login(admin)
    url = reverse("endpoints:service_add") + f"?site={site.pk}"
    data = form_data(client.get(url).context["form"])
    typed = {"hostname": "new.rules.example.org", "description": "new", "url": "ftp//broken", "ip_address": "300.1.1.1"}
    response = client.post(reverse("endpoints:service_add"), {**data, **typed})
    assert response.status_code == 400 and {"url", "ip_address"} <= set(response.context["form"].errors)
    assert Service.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("official_name", "Amsterdam <Cloud>", 'Not allowed: "<", ">".'),
        ("location", "Amsterdam <NL>", 'Not allowed: "<", ">".'),
        ("description", "a;b`", 'Not allowed: ";", "`".'),
    ],
)
def test_rest_site_write_names_the_characters(client, site, admin, field, value, message):
    reply = api(client, "PATCH", f"/api/v1/sites/{site.pk}/", {field: value}, user=admin)
    assert reply.status_code == 400, reply.content
    assert any(message in text for text in reply.json()[field]), reply.json()
    assert Site.objects.get(pk=site.pk).short_name == "NL-RULES" and not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hostname", "cloud rules.example.org", 'Not allowed: " ".'),
        ("ipv6_address", "fe80::1%eth0", "may not carry a zone id"),
        ("ipv6_address", "::g", "is not a valid IPv6 address"),
        ("service_url", "ftp//broken", "Enter an absolute URL"),
        ("ip_address", "300.1.1.1", "Enter an IPv4 address"),
    ],
)
def test_rest_service_write_refuses_with_the_message(client, service, admin, field, value, message):
    reply = api(client, "PATCH", f"/api/v1/services/{service.pk}/", {field: value}, user=admin)
    assert reply.status_code == 400, reply.content
    assert any(message in text for text in reply.json()[field]), reply.json()
    assert Service.objects.get(pk=service.pk).hostname == "cloud.rules.example.org"


@pytest.fixture
def write_token(site, admin):
    credential, secret = api_credential(site, admin, kind=APICredential.Kind.TOKEN, allow_write=True)
    return secret


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("description", "bad; <character>", 'Not allowed: ";", "<", ">".'),
        ("hostname", "cloud rules.example.org", 'Not allowed: " ".'),
        ("host_arch", "<arm>", 'Not allowed: "<", ">".'),
        ("host_ip_v6", "fe80::1%eth0", "may not carry a zone id"),
        ("host_ip_v6", "1:2:3:4:5:6:7:8:9", "is not a valid IPv6 address"),
        ("host_ip_v6", "::1\u0000", "contains a control character"),
    ],
)
def test_pi_write_names_the_characters(client, service, write_token, prop, value, message):
    before = Service.objects.get(pk=service.pk).snapshot()
    reply = send(client, "PUT", f"v5/service/{service.pk}/{prop}", {"value": value}, token=write_token)
    assert reply.status_code == 400, reply.content
    assert message in reply.json()["Error"]["Message"], reply.json()
    assert Service.objects.get(pk=service.pk).snapshot() == before
    assert not AuditLog.objects.exists()


def test_pi_write_property_value_names_the_characters(client, site, write_token):
    reply = send(client, "PUT", f"v5/site/{site.pk}/extensionproperties/colour", {"value": "<red>"}, token=write_token)
    assert reply.status_code == 400, reply.content
    assert 'Not allowed: "<", ">".' in reply.json()["Error"]["Message"]
    assert not site.properties.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_site_form_in_the_browser_refuses_a_time_zone_of_mars(page, site, admin):  # noqa: F811
    admin.set_password("pw")
    admin.save()
    log_in(page, admin.username)
    page.goto(reverse("sites:site_edit", args=[site.pk]))
    page.fill("#id_timezone", "Mars/Olympus")
    page.click("main button:has-text('Save')")
    page.wait_for_selector(".invalid-feedback")
    assert "not an IANA time zone" in page.inner_text("main")
    assert Site.objects.get(pk=site.pk).timezone == "Europe/Amsterdam"
