"""Site create, edit and delete through the browser views: who may, who may not, and bad input."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints.models import Service
from endpoints.tests.factories import DowntimeFactory, ServiceFactory
from sites.models import Country, Scope, Site
from sites.tests.factories import NGIFactory, SiteFactory, grant, user_with

pytestmark = pytest.mark.django_db

ADD_URL = reverse("sites:site_add")


def site_data(ngi_, **changes):
    """A complete, valid POST body of the site form."""
    data = {
        "short_name": "NEW-SITE",
        "official_name": "New Site (NL)",
        "ngi": ngi_.pk,
        "country": Country.objects.get(code="NL").pk,
        "infrastructure": "Production",
        "description": "A brand new site",
        "domain": "new.example.org",
        "home_url": "https://new.example.org/",
        "giis_url": "",
        "email": "ops@new.example.org; admin@new.example.org",
        "telephone": "+31 20 555 0000",
        "emergency_email": "alarm@new.example.org",
        "emergency_tel": "",
        "helpdesk_email": "",
        "csirt_email": "",
        "csirt_tel": "",
        "ip_range": "192.0.2.0/255.255.255.0",
        "ipv6_range": "2001:db8::/32",
        "latitude": "52.37",
        "longitude": "4.89",
        "location": "Amsterdam",
        "timezone": "Europe/Amsterdam",
        "scopes": [Scope.objects.get(name="EGI").pk],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def edit_data(site, **changes):
    data = site_data(
        site.ngi,
        short_name=site.short_name,
        official_name=site.official_name,
        country=site.country_id,
        description=site.description,
        domain=site.domain,
        email=site.email,
        telephone=site.telephone,
        emergency_email="",
        home_url="",
        ip_range="",
        ipv6_range="",
        latitude="",
        longitude="",
        location="",
        timezone="",
        scopes=[s.pk for s in site.scopes.all()],
        child_scope_action="noModify",
    )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def audit_rows(obj):
    return AuditLog.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


@pytest.fixture
def ngi():
    return NGIFactory()


@pytest.fixture
def manager(ngi):
    return user_with("NGI_OPS_MAN", ngi)


# --- create ---------------------------------------------------------------------------------------


def test_ngi_manager_creates_a_site(client, ngi, manager):
    client.force_login(manager)
    assert client.get(ADD_URL).status_code == 200
    response = client.post(ADD_URL, site_data(ngi))
    site = Site.objects.get(short_name="NEW-SITE")
    assert response.status_code == 302
    assert response["Location"] == site.get_absolute_url()
    assert site.ngi == ngi
    assert site.primary_key == f"{site.pk}G0"
    assert site.certification_status == "Candidate"
    assert site.certification_status_changed is not None
    assert site.alarm_email == "alarm@new.example.org"  # the emergency e-mail is copied (§2.4)
    assert [s.name for s in site.scopes.all()] == ["EGI"]
    log = site.certification_log.get()
    assert (log.old_status, log.new_status, log.reason) == ("", "Candidate", "Initial creation")
    row = audit_rows(site).get()
    assert row.action == "create" and row.user == manager and row.before is None
    assert row.after["primary_key"] == site.primary_key
    assert row.after["scopes"] == ["EGI"]
    page = client.get(site.get_absolute_url())
    assert site.primary_key in page.content.decode()
    assert "Initial creation" in page.content.decode()


@pytest.mark.parametrize("role", ["NGI_OPS_DEP_MAN", "NGI_SEC_OFFICER"])
def test_other_ngi_managers_create_sites(client, ngi, role):
    client.force_login(user_with(role, ngi))
    assert client.post(ADD_URL, site_data(ngi)).status_code == 302
    assert Site.objects.filter(short_name="NEW-SITE", ngi=ngi).exists()


def test_superuser_creates_a_site_anywhere(client, ngi):
    client.force_login(UserFactory(is_superuser=True))
    assert client.post(ADD_URL, site_data(ngi)).status_code == 302


@pytest.mark.parametrize("role", ["REG_STAFF_ROD", "REG_FIRST_LINE_SUPPORT"])
def test_ngi_staff_without_add_site_get_403_with_reason(client, ngi, role):
    client.force_login(user_with(role, ngi))
    response = client.get(ADD_URL)
    assert response.status_code == 403
    assert "You hold no NGI role that allows adding a site" in response.content.decode()
    assert client.post(ADD_URL, site_data(ngi)).status_code == 403
    assert not Site.objects.filter(short_name="NEW-SITE").exists()


def test_site_admin_cannot_create_sites(client, ngi):
    client.force_login(user_with("SITE_ADMIN", SiteFactory(ngi=ngi)))
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, site_data(ngi)).status_code == 403
    assert not Site.objects.filter(short_name="NEW-SITE").exists()


def test_manager_of_one_ngi_cannot_add_to_another(client, manager):
    other = NGIFactory()
    client.force_login(manager)
    response = client.post(ADD_URL, site_data(other))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Site.objects.filter(short_name="NEW-SITE").exists()


@pytest.mark.parametrize("field", ["short_name", "ngi", "country", "description", "domain", "email", "telephone"])
def test_each_required_field(client, ngi, manager, field):
    client.force_login(manager)
    response = client.post(ADD_URL, site_data(ngi, **{field: ""}))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "This field is required." in response.context["form"].errors[field]
    assert not Site.objects.exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("email", "not-an-address"),
        ("email", "ops@example.org,"),
        ("emergency_email", "a@example.org;b@example.org"),
        ("telephone", "call me"),
        ("short_name", "has space"),
        ("home_url", "javascript:alert(1)"),
        ("ip_range", "192.0.2.0/24"),
        ("ipv6_range", "2001:db8::g"),
        ("latitude", "91"),
        ("longitude", "-180.5"),
        ("latitude", "nan"),
        ("timezone", "UTC+1"),
        ("official_name", "x" * 256),
        ("description", "d" * 2001),
        ("official_name", "<script>alert(1)</script>"),
        ("description", "<script>alert(1)</script>"),
    ],
)
def test_invalid_values_are_form_errors_and_nothing_is_saved(client, ngi, manager, field, value):
    client.force_login(manager)
    response = client.post(ADD_URL, site_data(ngi, **{field: value}))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body  # the echoed value is escaped
    assert not Site.objects.exists()
    assert not AuditLog.objects.exists()


def test_script_is_echoed_escaped(client, ngi, manager):
    client.force_login(manager)
    response = client.post(ADD_URL, site_data(ngi, description="<script>alert(1)</script>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.content.decode()


def test_duplicate_short_name_is_refused(client, ngi, manager):
    SiteFactory(short_name="NEW-SITE")
    client.force_login(manager)
    response = client.post(ADD_URL, site_data(ngi))
    assert response.status_code == 400
    assert "short_name" in response.context["form"].errors
    assert Site.objects.filter(short_name="NEW-SITE").count() == 1


# --- edit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, on", [("SITE_ADMIN", "site"), ("SITE_OPS_MAN", "site"), ("NGI_OPS_MAN", "ngi"), ("REG_STAFF_ROD", "ngi")]
)
def test_site_and_ngi_roles_edit_the_site(client, role, on):
    site = SiteFactory()
    user = user_with(role, site if on == "site" else site.ngi)
    client.force_login(user)
    url = reverse("sites:site_edit", args=[site.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, edit_data(site, description="Changed description", telephone="+31 20 999"))
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.description, site.telephone) == ("Changed description", "+31 20 999")
    row = audit_rows(site).get()
    assert row.action == "update" and row.user == user
    assert row.before["description"] == "A site" and row.after["description"] == "Changed description"


def test_other_sites_admin_gets_403_with_reason(client):
    site, other = SiteFactory(), SiteFactory()
    client.force_login(user_with("SITE_ADMIN", other))
    url = reverse("sites:site_edit", args=[site.pk])
    response = client.get(url)
    assert response.status_code == 403
    assert f"You may not edit site {site}" in response.content.decode()
    response = client.post(url, edit_data(site, description="Hijacked"))
    assert response.status_code == 403
    site.refresh_from_db()
    assert site.description == "A site"
    assert not AuditLog.objects.exists()


def test_site_admin_cannot_move_the_site(client):
    site, target = SiteFactory(), NGIFactory()
    client.force_login(user_with("SITE_ADMIN", site))
    response = client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, ngi=target.pk))
    assert response.status_code == 403
    assert "Only portal administrators may move a site" in response.content.decode()
    site.refresh_from_db()
    assert site.ngi != target


def test_ngi_manager_cannot_move_the_site_either(client):
    site, target = SiteFactory(), NGIFactory()
    user = user_with("NGI_OPS_MAN", site.ngi)
    grant(user, "NGI_OPS_MAN", target)
    client.force_login(user)
    response = client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, ngi=target.pk))
    assert response.status_code == 403
    assert Site.objects.get(pk=site.pk).ngi_id == site.ngi_id


def test_superuser_moves_the_site(client):
    site, target = SiteFactory(), NGIFactory()
    old_ngi = site.ngi_id
    client.force_login(UserFactory(is_superuser=True))
    response = client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, ngi=target.pk))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.ngi == target
    row = audit_rows(site).get()
    assert row.before["ngi_id"] == old_ngi
    assert row.after["ngi_id"] == target.pk


def test_edit_with_bad_value_changes_nothing(client):
    site = SiteFactory()
    client.force_login(user_with("SITE_ADMIN", site))
    response = client.post(
        reverse("sites:site_edit", args=[site.pk]),
        edit_data(site, description="<script>alert(1)</script>", email="bad"),
    )
    assert response.status_code == 400
    assert {"description", "email"} <= set(response.context["form"].errors)
    site.refresh_from_db()
    assert site.description == "A site" and site.email == "site@example.org"
    assert not AuditLog.objects.exists()


def test_edit_copies_the_emergency_email_to_the_alarm_email(client):
    site = SiteFactory()
    client.force_login(user_with("SITE_ADMIN", site))
    client.post(reverse("sites:site_edit", args=[site.pk]), edit_data(site, emergency_email="911@example.org"))
    site.refresh_from_db()
    assert site.alarm_email == "911@example.org"


def test_edit_form_has_no_certification_field(client):
    site = SiteFactory(certification_status="Certified")
    client.force_login(user_with("NGI_OPS_MAN", site.ngi))
    url = reverse("sites:site_edit", args=[site.pk])
    assert "certification_status" not in client.get(url).context["form"].fields
    client.post(url, edit_data(site, certification_status="Closed"))
    site.refresh_from_db()
    assert site.certification_status == "Certified"


# --- delete ---------------------------------------------------------------------------------------


def test_superuser_deletes_a_site_with_its_services(client):
    service = ServiceFactory()
    site = service.site
    admin = UserFactory(is_superuser=True)
    client.force_login(admin)
    url = reverse("sites:site_delete", args=[site.pk])
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("sites:site_list")
    assert not Site.objects.filter(pk=site.pk).exists()
    assert not Service.objects.filter(pk=service.pk).exists()
    deleted = AuditLog.objects.filter(action="delete")
    assert {r.object_repr for r in deleted} == {site.short_name, str(service)}
    site_row = deleted.get(object_id=site.pk, content_type=ContentType.objects.get_for_model(Site))
    assert site_row.before["short_name"] == site.short_name and site_row.after is None
    assert site_row.user == admin


@pytest.mark.parametrize("role, on", [("SITE_ADMIN", "site"), ("SITE_OPS_MAN", "site"), ("NGI_OPS_MAN", "ngi")])
def test_only_superusers_delete_sites(client, role, on):
    site = SiteFactory()
    client.force_login(user_with(role, site if on == "site" else site.ngi))
    assert client.get(reverse("sites:site_delete", args=[site.pk])).status_code == 403
    response = client.post(reverse("sites:site_delete", args=[site.pk]))
    assert response.status_code == 403
    assert "Only portal administrators may delete sites" in response.content.decode()
    assert Site.objects.filter(pk=site.pk).exists()
    assert not AuditLog.objects.exists()


# --- rendering ------------------------------------------------------------------------------------


def test_stored_html_renders_escaped(client):
    site = SiteFactory(description="Tom & Jerry", official_name='The "big" site')
    site.properties.create(key="note", value="a&b")
    # Written past validation (as an old import might have): the page must still escape it.
    Site.objects.filter(pk=site.pk).update(location="<script>alert(1)</script>")
    body = client.get(site.get_absolute_url()).content.decode()
    assert "Tom &amp; Jerry" in body
    assert "The &quot;big&quot; site" in body
    assert "a&amp;b" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)</script>" not in body


def test_site_page_shows_buttons_by_role(client):
    site = SiteFactory()
    client.force_login(user_with("SITE_ADMIN", site))
    body = client.get(site.get_absolute_url()).content.decode()
    assert reverse("sites:site_edit", args=[site.pk]) in body
    assert reverse("sites:site_certification", args=[site.pk]) not in body
    assert reverse("sites:site_delete", args=[site.pk]) not in body
    client.force_login(user_with("NGI_OPS_MAN", site.ngi))
    body = client.get(site.get_absolute_url()).content.decode()
    assert reverse("sites:site_certification", args=[site.pk]) in body


def test_unknown_site_is_404(client):
    assert client.get(reverse("sites:site", args=[999999])).status_code == 404
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(reverse("sites:site_edit", args=[999999])).status_code == 404


def test_site_page_lists_its_recent_downtimes(client):
    downtime = DowntimeFactory(description="Disk replacement")
    response = client.get(downtime.site.get_absolute_url())
    assert response.status_code == 200
    assert downtime.get_absolute_url() in response.content.decode() and "Disk replacement" in response.content.decode()


@pytest.mark.parametrize("taken", ["new-site", "New-Site"])
def test_a_name_differing_only_in_case_is_refused(client, ngi, manager, taken):
    SiteFactory(short_name=taken)
    client.force_login(manager)
    response = client.post(ADD_URL, site_data(ngi))  # NEW-SITE
    assert response.status_code == 400
    assert "in another case exists already" in str(response.context["form"].errors)
    assert list(Site.objects.values_list("short_name", flat=True)) == [taken]
