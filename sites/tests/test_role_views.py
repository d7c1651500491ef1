"""Role pages: request form, pending requests, my roles, decisions, contacts and their personal data."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints.tests.factories import ServiceGroupFactory
from sites.choices import AuditAction, RoleStatus
from sites.models import Role
from sites.tests.factories import NGIFactory, ProjectFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

PENDING, GRANTED = RoleStatus.PENDING, RoleStatus.GRANTED


@pytest.fixture
def world():
    project = ProjectFactory(name="EGI-V")
    ngi, other_ngi = NGIFactory(name="NGI_X"), NGIFactory(name="NGI_Y")
    project.ngis.add(ngi, other_ngi)
    site = SiteFactory(short_name="SITE-X", ngi=ngi)
    other_site = SiteFactory(short_name="SITE-Y", ngi=other_ngi)
    users = {
        name: UserFactory(username=name, email=f"{name}@mail.example.org", telephone=f"+31 {i}")
        for i, name in enumerate(("alice", "ngi_man", "other_ngi_man", "site_admin", "other_site_admin"), 1)
    }
    grant(users["ngi_man"], "NGI_OPS_MAN", ngi)
    grant(users["other_ngi_man"], "NGI_OPS_MAN", other_ngi)
    grant(users["site_admin"], "SITE_ADMIN", site)
    grant(users["other_site_admin"], "SITE_ADMIN", other_site)
    return {"project": project, "ngi": ngi, "site": site, "other_site": other_site, **users}


def login(client, user):
    client.force_login(user)
    return client


def request_url(entity):
    return reverse("sites:role_request", args=[entity.pk])


def is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- anonymous -------------------------------------------------------------------------------


def test_anonymous_is_redirected_to_login_everywhere(client, world):
    role = grant(world["alice"], "SITE_ADMIN", world["site"], status=PENDING)
    for url in (request_url(world["site"]), reverse("sites:role_requests"), reverse("sites:my_roles")):
        assert is_login_redirect(client.get(url)), url
    assert is_login_redirect(client.post(request_url(world["site"]), {"role_type": "SITE_ADMIN"}))
    for name in ("role_approve", "role_reject", "role_revoke"):
        assert is_login_redirect(client.post(reverse(f"sites:{name}", args=[role.pk])))
    assert Role.objects.get(pk=role.pk).status == PENDING
    assert Role.objects.filter(user=world["alice"]).count() == 1


# --- request form ----------------------------------------------------------------------------


def options(response):
    return re.findall(r'<option value="([^"]*)"', response.content.decode())


@pytest.mark.parametrize(
    "key, expected",
    [
        ("project", ["COD_STAFF", "COD_ADMIN", "EGI_CSIRT_OFFICER", "COO"]),
        ("ngi", ["NGI_OPS_MAN", "NGI_OPS_DEP_MAN", "NGI_SEC_OFFICER", "REG_STAFF_ROD", "REG_FIRST_LINE_SUPPORT"]),
        ("site", ["SITE_ADMIN", "SITE_SECOFFICER", "SITE_OPS_DEP_MAN", "SITE_OPS_MAN"]),
    ],
)
def test_request_form_offers_only_requestable_types(client, world, key, expected):
    response = login(client, world["alice"]).get(request_url(world[key]))
    assert response.status_code == 200
    assert options(response) == expected


def test_request_form_for_a_service_group(client, world):
    group = ServiceGroupFactory()
    response = login(client, world["alice"]).get(request_url(group))
    assert options(response) == ["SERVICE_GROUP_ADMIN"]
    response = client.post(request_url(group), {"role_type": "SERVICE_GROUP_ADMIN"})
    assert response.status_code == 302
    assert Role.objects.get(user=world["alice"]).owned_entity_id == group.pk


def test_unknown_entity_is_404(client, world):
    assert login(client, world["alice"]).get(reverse("sites:role_request", args=[999999])).status_code == 404


def test_request_a_role(client, world):
    response = login(client, world["alice"]).post(request_url(world["site"]), {"role_type": "SITE_OPS_MAN"})
    assert response.status_code == 302 and response["Location"] == world["site"].get_absolute_url()
    role = Role.objects.get(user=world["alice"])
    assert (role.role_type, role.status, role.owned_entity_id) == ("SITE_OPS_MAN", PENDING, world["site"].pk)
    assert AuditLog.objects.filter(object_id=role.pk, action=AuditAction.ROLE_REQUEST).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "You requested the role Site Operations Manager over SITE-X" in page


@pytest.mark.parametrize(
    "value",
    ["NGI_OPS_MAN", "COD_ADMIN", "<script>alert('x')</script>", "SITE_ADMIN' OR '1'='1", "S" * 10000, "", "\x00"],
)
def test_hostile_role_types_are_refused_with_400(client, world, value):
    response = login(client, world["alice"]).post(request_url(world["site"]), {"role_type": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<script>alert" not in body
    assert "is-invalid" in body or "invalid-feedback" in body
    assert not Role.objects.filter(user=world["alice"]).exists()
    assert not AuditLog.objects.filter(action=AuditAction.ROLE_REQUEST).exists()


def test_duplicate_requests_are_refused(client, world):
    login(client, world["alice"])
    assert client.post(request_url(world["site"]), {"role_type": "SITE_ADMIN"}).status_code == 302
    response = client.post(request_url(world["site"]), {"role_type": "SITE_ADMIN"})
    assert response.status_code == 400
    assert "You have already requested the role Site Administrator over SITE-X" in response.content.decode()
    response = login(client, world["site_admin"]).post(request_url(world["site"]), {"role_type": "SITE_ADMIN"})
    assert response.status_code == 400
    assert "You already have the role Site Administrator over SITE-X" in response.content.decode()
    assert Role.objects.filter(owned_entity=world["site"].pk, role_type="SITE_ADMIN").count() == 2


def test_request_needs_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["alice"])
    response = client.post(request_url(world["site"]), {"role_type": "SITE_ADMIN"})
    assert response.status_code == 403
    assert not Role.objects.filter(user=world["alice"]).exists()


@pytest.mark.parametrize("key", ["project", "ngi", "site"])
def test_entity_pages_show_the_request_button(client, world, key):
    body = client.get(world[key].get_absolute_url()).content.decode()
    assert f'href="{request_url(world[key])}"' in body
    assert "Request role" in body


# --- pending requests: approve / reject ------------------------------------------------------


def test_ngi_manager_sees_and_approves_a_request_on_their_site(client, world):
    role = grant(world["alice"], "SITE_ADMIN", world["site"], status=PENDING)
    login(client, world["ngi_man"])
    page = client.get(reverse("sites:role_requests")).content.decode()
    assert reverse("sites:role_approve", args=[role.pk]) in page and "SITE-X" in page
    response = client.post(reverse("sites:role_approve", args=[role.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("sites:role_requests")
    assert Role.objects.get(pk=role.pk).status == GRANTED
    assert AuditLog.objects.filter(object_id=role.pk, action=AuditAction.ROLE_GRANT, user=world["ngi_man"]).exists()


def test_ngi_manager_rejects(client, world):
    role = grant(world["alice"], "SITE_ADMIN", world["site"], status=PENDING)
    response = login(client, world["ngi_man"]).post(reverse("sites:role_reject", args=[role.pk]))
    assert response.status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()
    assert AuditLog.objects.filter(object_id=role.pk, action=AuditAction.ROLE_REJECT).exists()


def test_project_role_approves_on_ngi(client, world):
    coo = UserFactory()
    grant(coo, "COO", world["project"])
    role = grant(world["alice"], "NGI_SEC_OFFICER", world["ngi"], status=PENDING)
    assert login(client, coo).post(reverse("sites:role_approve", args=[role.pk])).status_code == 302
    assert Role.objects.get(pk=role.pk).status == GRANTED


@pytest.mark.parametrize("intruder", ["other_ngi_man", "site_admin", "other_site_admin", "alice"])
@pytest.mark.parametrize("name", ["role_approve", "role_reject"])
def test_users_without_grant_role_get_404(client, world, intruder, name):
    """A pending request is shown only to those who may decide it: to anyone else it does not exist."""
    role = grant(UserFactory(), "SITE_ADMIN", world["site"], status=PENDING)
    login(client, world[intruder])
    assert (
        reverse("sites:role_approve", args=[role.pk]) not in client.get(reverse("sites:role_requests")).content.decode()
    )
    response = client.post(reverse(f"sites:{name}", args=[role.pk]))
    assert response.status_code == 404
    assert Role.objects.get(pk=role.pk).status == PENDING
    assert not AuditLog.objects.filter(object_id=role.pk).exists()


def test_decisions_are_post_only(client, world):
    role = grant(world["alice"], "SITE_ADMIN", world["site"], status=PENDING)
    login(client, world["ngi_man"])
    for name in ("role_approve", "role_reject", "role_revoke"):
        assert client.get(reverse(f"sites:{name}", args=[role.pk])).status_code == 405
    assert Role.objects.get(pk=role.pk).status == PENDING


def test_decisions_need_csrf_token(world):
    role = grant(world["alice"], "SITE_ADMIN", world["site"], status=PENDING)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["ngi_man"])
    assert client.post(reverse("sites:role_approve", args=[role.pk])).status_code == 403
    assert Role.objects.get(pk=role.pk).status == PENDING


def test_approving_a_granted_role_gives_400(client, world):
    role = Role.objects.get(user=world["site_admin"])
    response = login(client, world["ngi_man"]).post(reverse("sites:role_approve", args=[role.pk]))
    assert response.status_code == 400
    assert "is not pending" in response.content.decode()


def test_unknown_role_is_404(client, world):
    assert login(client, world["ngi_man"]).post(reverse("sites:role_approve", args=[999999])).status_code == 404


def test_next_must_stay_on_the_site(client, world):
    role = grant(world["alice"], "SITE_ADMIN", world["site"], status=PENDING)
    response = login(client, world["ngi_man"]).post(
        reverse("sites:role_approve", args=[role.pk]), {"next": "https://evil.example.com/"}
    )
    assert response["Location"] == reverse("sites:role_requests")


def test_nav_shows_the_pending_count(client, world):
    for _ in range(3):
        grant(UserFactory(), "SITE_OPS_MAN", world["site"], status=PENDING)
    body = login(client, world["ngi_man"]).get(reverse("home")).content.decode()
    assert re.search(r"Role requests <span[^>]*>3</span>", body)
    assert reverse("sites:my_roles") in body
    body = login(client, world["other_ngi_man"]).get(reverse("home")).content.decode()
    assert "Role requests</a>" in body


# --- my roles ---------------------------------------------------------------------------------


def test_my_roles_lists_granted_and_pending_and_revokes(client, world):
    pending_role = grant(world["site_admin"], "SITE_OPS_MAN", world["site"], status=PENDING)
    granted_role = Role.objects.get(user=world["site_admin"], status=GRANTED)
    login(client, world["site_admin"])
    body = client.get(reverse("sites:my_roles")).content.decode()
    assert "Site Administrator" in body and "Site Operations Manager" in body
    assert "Cancel request" in body
    assert client.post(reverse("sites:role_revoke", args=[pending_role.pk])).status_code == 302
    assert client.post(reverse("sites:role_revoke", args=[granted_role.pk])).status_code == 302
    assert not Role.objects.filter(user=world["site_admin"]).exists()
    actions = AuditLog.objects.filter(object_id__in=[pending_role.pk, granted_role.pk]).values_list("action", flat=True)
    assert sorted(actions) == sorted([AuditAction.ROLE_REJECT, AuditAction.ROLE_REVOKE])


def test_others_cannot_revoke_without_revoke_role(client, world):
    role = Role.objects.get(user=world["site_admin"])
    for intruder in ("alice", "other_ngi_man", "other_site_admin"):  # they do not see it: 404
        response = login(client, world[intruder]).post(reverse("sites:role_revoke", args=[role.pk]))
        assert response.status_code == 404
    colleague = grant(UserFactory(), "SITE_ADMIN", world["site"]).user  # sees it (a contact), may not revoke it
    response = login(client, colleague).post(reverse("sites:role_revoke", args=[role.pk]))
    assert response.status_code == 403 and "You may not revoke roles over SITE-X" in response.content.decode()
    assert Role.objects.filter(pk=role.pk).exists()
    assert login(client, world["ngi_man"]).post(reverse("sites:role_revoke", args=[role.pk])).status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()


# --- query counts -----------------------------------------------------------------------------


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def add_requests(world, n):
    group = ServiceGroupFactory()
    for _ in range(n):
        user = UserFactory()
        grant(user, "SITE_ADMIN", world["site"], status=PENDING)
        grant(user, "NGI_SEC_OFFICER", world["ngi"], status=PENDING)
        grant(user, "COO", world["project"], status=PENDING)
        grant(user, "SERVICE_GROUP_ADMIN", group, status=PENDING)


@pytest.mark.parametrize("who", ["ngi_man", "superuser"])
def test_role_requests_page_query_count_is_fixed(client, world, who, django_assert_max_num_queries):
    user = UserFactory(is_superuser=True) if who == "superuser" else world[who]
    login(client, user)
    add_requests(world, 1)
    few = count_queries(client, reverse("sites:role_requests"))
    add_requests(world, 15)
    with django_assert_max_num_queries(few):
        body = client.get(reverse("sites:role_requests")).content.decode()
    assert body.count("Approve</button>") == (64 if who == "superuser" else 32)
    assert few <= 6


def test_my_roles_page_query_count_is_fixed(client, world, django_assert_max_num_queries):
    login(client, world["alice"])
    grant(world["alice"], "SITE_ADMIN", world["site"])
    few = count_queries(client, reverse("sites:my_roles"))
    for i in range(12):
        grant(world["alice"], "SITE_ADMIN", SiteFactory(ngi=world["ngi"]), status=PENDING if i % 2 else GRANTED)
        grant(world["alice"], "SERVICE_GROUP_ADMIN", ServiceGroupFactory())
        grant(world["alice"], "NGI_SEC_OFFICER", NGIFactory())
    with django_assert_max_num_queries(few):
        body = client.get(reverse("sites:my_roles")).content.decode()
    assert body.count("Revoke</button>") == 1 + 6 + 12 + 12
    assert body.count("Cancel request</button>") == 6
    assert few <= 6


# --- contacts and personal data (§5.7) ---------------------------------------------------------

HOLDER_EMAIL = "site_admin@mail.example.org"


def site_page(client, world):
    return client.get(world["site"].get_absolute_url()).content.decode()


def test_anonymous_does_not_see_contact_data(client, world):
    body = site_page(client, world)
    assert HOLDER_EMAIL not in body and "+31 4" not in body
    assert "Contact data is shown to users holding a role here or above." in body
    assert "ngi_man@mail.example.org" not in client.get(world["ngi"].get_absolute_url()).content.decode()


@pytest.mark.parametrize("outsider", ["other_site_admin", "other_ngi_man", "alice"])
def test_other_sites_people_do_not_see_contact_data(client, world, outsider):
    body = site_page(login(client, world[outsider]), world)
    assert HOLDER_EMAIL not in body
    assert "Contact data is shown to users holding a role here or above." in body


def test_site_admin_sees_contacts_but_cannot_revoke(client, world):
    body = site_page(login(client, world["site_admin"]), world)
    assert HOLDER_EMAIL in body and "+31 4" in body
    assert reverse("sites:role_revoke", args=[Role.objects.get(user=world["site_admin"]).pk]) not in body


def test_ngi_manager_sees_contacts_and_revoke_buttons(client, world):
    role = Role.objects.get(user=world["site_admin"])
    body = site_page(login(client, world["ngi_man"]), world)
    assert HOLDER_EMAIL in body
    assert f'action="{reverse("sites:role_revoke", args=[role.pk])}"' in body
    ngi_body = client.get(world["ngi"].get_absolute_url()).content.decode()
    assert "ngi_man@mail.example.org" in ngi_body
    response = client.post(reverse("sites:role_revoke", args=[role.pk]), {"next": world["site"].get_absolute_url()})
    assert response["Location"] == world["site"].get_absolute_url()
    assert not Role.objects.filter(pk=role.pk).exists()


def test_pending_requests_are_not_listed_as_contacts(client, world):
    grant(world["alice"], "SITE_OPS_MAN", world["site"], status=PENDING)
    body = site_page(login(client, world["ngi_man"]), world)
    assert "alice@mail.example.org" not in body


def test_names_render_escaped(client, world):
    world["alice"].first_name = "<script>alert(1)</script>"
    world["alice"].save()
    grant(world["alice"], "SITE_OPS_MAN", world["site"], status=PENDING)
    body = login(client, world["ngi_man"]).get(reverse("sites:role_requests")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
