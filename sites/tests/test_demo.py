"""load_demo: idempotent, realistic, with the promised users, roles, scopes and downtimes."""

import base64
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from egiportal import permissions
from endpoints.models import Downtime, EndpointLocation, EndpointProperty, Service, ServiceGroup
from sites.choices import Action, RoleStatus
from sites.models import NGI, APICredential, CertificationStatusLog, Project, Role, Site, SiteProperty
from sites.synthetic import classify

pytestmark = pytest.mark.django_db

MODELS = (
    Project,
    NGI,
    Site,
    Service,
    EndpointLocation,
    EndpointProperty,
    SiteProperty,
    ServiceGroup,
    Downtime,
    Role,
    CertificationStatusLog,
    get_user_model(),
)


def load():
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def counts():
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def demo():
    return load()


def test_running_twice_changes_nothing(demo):
    before = counts()
    keys = sorted(Downtime.objects.values_list("primary_key", flat=True))
    load()
    assert counts() == before
    assert sorted(Downtime.objects.values_list("primary_key", flat=True)) == keys
    assert before["Project"] == 2 and before["NGI"] == 4 and before["Site"] == 12
    assert 50 <= before["Service"] <= 70 and before["EndpointLocation"] >= before["Service"]
    assert before["ServiceGroup"] == 2


def test_output_lists_logins_url_and_password_warning(settings):
    settings.PORTAL_URL = "http://127.0.0.1:8123"  # `PORT=8123 make demo` sets it (Makefile, settings)
    demo = load()
    assert "http://127.0.0.1:8123/" in demo
    for username in ("admin", "siteadmin", "ngimanager", "projectstaff", "user"):
        assert f"  {username} " in demo
    assert "password 'demo'" in demo and "never load demo data into a production database" in demo


def test_users_and_roles(demo):
    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) == {"admin", "siteadmin", "ngimanager", "projectstaff", "user", "vomanager"}
    assert all(u.check_password("demo") for u in users.values())
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not any(u.is_superuser for name, u in users.items() if name != "admin")
    granted = {
        (r.user.username, r.role_type, str(r.owned_entity.concrete))
        for r in Role.objects.filter(status=RoleStatus.GRANTED)
    }
    assert granted == {
        ("siteadmin", "SITE_ADMIN", "SURF-CLOUD"),
        ("ngimanager", "NGI_OPS_MAN", "NGI_NL"),
        ("projectstaff", "COD_STAFF", "EGI"),
    }
    pending = Role.objects.get(status=RoleStatus.PENDING)
    assert pending.user == users["user"] and pending.owned_entity.concrete.short_name == "RUG-CIT"
    surf, qmul = Site.objects.get(short_name="SURF-CLOUD"), Site.objects.get(short_name="UKI-LT2-QMUL")
    assert permissions.authorise(users["siteadmin"], Action.EDIT_OBJECT, surf)
    assert not permissions.authorise(users["siteadmin"], Action.EDIT_OBJECT, qmul)
    assert permissions.authorise(users["ngimanager"], Action.EDIT_OBJECT, Site.objects.get(short_name="RUG-CIT"))
    assert not permissions.authorise(users["user"], Action.EDIT_OBJECT, Site.objects.get(short_name="RUG-CIT"))


def test_vos_and_their_managers(demo):
    from egiportal.models import VirtualOrganisation

    vos = {vo.name: vo for vo in VirtualOrganisation.objects.with_members()}
    assert set(vos) == {"fedcloud.egi.eu", "vo.access.egi.eu", "biomed"}
    assert vos["fedcloud.egi.eu"].managers == ["Vida Vomanager"] and vos["fedcloud.egi.eu"].member_count == 3
    vomanager = get_user_model().objects.get(username="vomanager")
    assert permissions.authorise(vomanager, permissions.EDIT, vos["vo.access.egi.eu"])
    assert not permissions.authorise(vomanager, permissions.EDIT, vos["biomed"])
    assert load() and VirtualOrganisation.objects.count() == 3  # idempotent


def test_wlcg_only_where_the_parent_has_it(demo):
    assert list(NGI.objects.filter(scopes__name="wlcg").values_list("name", flat=True)) == ["NGI_IT"]
    wlcg_sites = Site.objects.filter(scopes__name="wlcg")
    assert wlcg_sites.exists() and all(s.ngi.name == "NGI_IT" for s in wlcg_sites)
    wlcg_services = Service.objects.filter(scopes__name="wlcg")
    assert wlcg_services.exists()
    assert wlcg_services.count() < Service.objects.filter(site__in=wlcg_sites).count()
    assert set(wlcg_services.values_list("site_id", flat=True)) <= set(wlcg_sites.values_list("pk", flat=True))


def test_demo_content_is_valid_and_realistic(demo):
    types = set(Service.objects.values_list("service_type__name", flat=True))
    assert {"org.openstack.nova", "org.openstack.swift", "webdav", "ARC-CE", "Site-BDII", "SRM", "xrootd"} <= types
    assert "eu.egi.cloud.accounting" in types
    nova = EndpointLocation.objects.filter(service__service_type__name="org.openstack.nova").first()
    assert {p.key for p in nova.properties.all()} >= {"cloud-type", "max-vcpus"}
    for model in (Project, NGI, Site, Service, EndpointLocation, ServiceGroup, Downtime, EndpointProperty):
        for obj in model.objects.all():
            obj.full_clean()
    assert all(s.primary_key == f"{s.pk}G0" for s in Site.objects.all())


def test_downtimes_past_ongoing_future_and_classified(demo):
    now = timezone.now()
    downtimes = list(Downtime.objects.prefetch_related("services"))
    assert any(d.end <= now for d in downtimes)
    assert any(d.start <= now < d.end for d in downtimes)
    assert any(d.start > now for d in downtimes)
    assert {d.classification for d in downtimes} == {"SCHEDULED", "UNSCHEDULED"}
    for downtime in downtimes:
        assert downtime.classification == classify(downtime.start, downtime.created)
        assert downtime.primary_key == f"{downtime.pk}G0"
        assert {s.site_id for s in downtime.services.all()} == {downtime.site_id}


def test_demo_pages_and_login(demo, client):
    site = Site.objects.get(short_name="SURF-CLOUD")
    assert client.get(reverse("sites:site_list")).status_code == 200
    response = client.get(site.get_absolute_url())
    assert response.status_code == 200 and b"SURF-CLOUD" in response.content
    assert client.login(username="siteadmin", password="demo")
    assert client.get(reverse("sites:site_edit", args=[site.pk])).status_code == 200


def test_printed_api_token_reads_rest_and_the_private_pi_and_stays_the_same_on_reload(client):
    """The token load_demo prints reads /api/v1/sites/ (REST) and get_site on the private PI, in every
    form the README names; a reload prints (and keeps) the same token."""
    first = re.search(r"Bearer (egip_\S+)\"", load()).group(1)
    out = load()
    token = re.search(r"Bearer (egip_\S+)\"", out).group(1)
    assert token == first and f"Authorization: Token {token}" in out
    basic = "Basic " + base64.b64encode(f"argo:{token}".encode()).decode()
    for header in (f"Bearer {token}", f"Token {token}", basic):
        reply = client.get("/api/v1/sites/", headers={"Authorization": header})
        assert reply.status_code == 200, (header, reply.content[:300])
        assert "SURF-CLOUD" in {site["name"] for site in reply.json()["results"]}
        reply = client.get("/gocdbpi/private/?method=get_site&sitename=SURF-CLOUD", headers={"Authorization": header})
        body = b"".join(reply.streaming_content).decode()
        assert '<SITE ID="' in body and "<SHORT_NAME>SURF-CLOUD</SHORT_NAME>" in body
        assert "<CONTACT_EMAIL>" in body  # personal data: the private interface answered
    # Read-only: the REST API says so rather than blaming Check-in.
    refused = client.post(
        "/api/v1/sites/", {}, content_type="application/json", headers={"Authorization": f"Token {token}"}
    )
    assert refused.status_code == 403 and refused.json()["detail"].startswith("Read-only token")


def test_an_older_random_demo_token_is_replaced_by_the_stable_one(client):
    load()
    site, owner = Site.objects.get(short_name="SURF-CLOUD"), get_user_model().objects.get(username="siteadmin")
    APICredential.objects.filter(site=site, kind=APICredential.Kind.TOKEN).delete()
    old = APICredential(site=site, user=owner, kind=APICredential.Kind.TOKEN)
    old_secret = old.issue_token()
    old.save()
    token = re.search(r"Bearer (egip_\S+)\"", load()).group(1)
    assert APICredential.objects.filter(site=site, kind=APICredential.Kind.TOKEN).count() == 1
    url = "/gocdbpi/private/?method=get_site&sitename=SURF-CLOUD"
    assert client.get(url, headers={"Authorization": f"Bearer {old_secret}"}).content == b"Unknown or revoked token."
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_demo_links_follow_the_portal_url(settings):
    settings.PORTAL_URL = "http://127.0.0.1:18091"
    out = load()
    assert "http://127.0.0.1:18091/gocdbpi/private/?method=get_site" in out and ":8000" not in out


def test_every_pi_method_answers_on_the_demo_data(client):
    """Each PI method, called with the demo token, gives well-formed XML with records (no error)."""
    from lxml import etree

    from egiportal.urls import PI_METHODS

    token = re.search(r"Bearer (egip_\S+)\"", load()).group(1)
    empty_by_design = {"get_subgrid_list"}  # the portal has no subgrids
    for name in PI_METHODS:
        reply = client.get(f"/gocdbpi/private/?method={name}", headers={"Authorization": f"Bearer {token}"})
        body = b"".join(reply.streaming_content) if reply.streaming else reply.content
        root = etree.fromstring(body)
        assert root.tag == "results", (name, body[:200])
        assert len(root) or name in empty_by_design, name


def test_the_demo_says_how_to_log_in_with_and_without_checkin(settings):
    settings.OIDC_OP_ISSUER, settings.OIDC_RP_CLIENT_ID = "", ""
    assert "make demo-checkin" in load()
    settings.OIDC_OP_ISSUER, settings.OIDC_RP_CLIENT_ID = "http://127.0.0.1:9000", "portal"
    assert "Log in with EGI Check-in (http://127.0.0.1:9000)" in load()
