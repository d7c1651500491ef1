"""Certification status changes (specs/gocdb.md §7.2) through the browser view and the service."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from sites import services
from sites.tests.factories import ProjectFactory, SiteFactory, grant

pytestmark = pytest.mark.django_db

ALLOWED = [
    ("Candidate", "Uncertified"),
    ("Candidate", "Closed"),
    ("Uncertified", "Certified"),
    ("Uncertified", "Closed"),
    ("Certified", "Suspended"),
    ("Certified", "Closed"),
    ("Suspended", "Uncertified"),
    ("Suspended", "Closed"),
]
FORBIDDEN = [
    ("Suspended", "Certified"),
    ("Closed", "Certified"),
    ("Closed", "Uncertified"),
    ("Closed", "Candidate"),
    ("Candidate", "Certified"),
    ("Candidate", "Suspended"),
]


def url(site):
    return reverse("sites:site_certification", args=[site.pk])


def manager_of(site, role="NGI_OPS_MAN"):
    user = UserFactory()
    grant(user, role, site.ngi)
    return user


def project_role_of(site, role="COD_ADMIN"):
    project = ProjectFactory()
    project.ngis.add(site.ngi)
    user = UserFactory()
    grant(user, role, project)
    return user


@pytest.mark.parametrize("old, new", ALLOWED)
def test_ngi_manager_makes_allowed_changes(client, old, new):
    site = SiteFactory(certification_status=old)
    user = manager_of(site)
    client.force_login(user)
    assert client.get(url(site)).status_code == 200
    response = client.post(url(site), {"new_status": new, "reason": "Passed the tests"})
    assert response.status_code == 302 and response["Location"] == site.get_absolute_url()
    site.refresh_from_db()
    assert site.certification_status == new
    assert site.certification_status_changed is not None
    log = site.certification_log.get()
    assert (log.old_status, log.new_status, log.reason, log.added_by) == (old, new, "Passed the tests", str(user))
    row = AuditLog.objects.get()
    assert row.action == "certification" and row.user == user and row.message == "Passed the tests"
    assert row.before["certification_status"] == old and row.after["certification_status"] == new


@pytest.mark.parametrize("role", ["NGI_OPS_DEP_MAN", "NGI_SEC_OFFICER"])
def test_other_ngi_managers_may_certify(client, role):
    site = SiteFactory(certification_status="Uncertified")
    client.force_login(manager_of(site, role))
    assert client.post(url(site), {"new_status": "Certified", "reason": "ok"}).status_code == 302


@pytest.mark.parametrize("role", ["COD_STAFF", "COD_ADMIN", "EGI_CSIRT_OFFICER", "COO"])
def test_project_roles_may_certify(client, role):
    site = SiteFactory(certification_status="Certified")
    client.force_login(project_role_of(site, role))
    assert client.post(url(site), {"new_status": "Suspended", "reason": "Security incident"}).status_code == 302
    site.refresh_from_db()
    assert site.certification_status == "Suspended"


def test_project_role_of_another_project_may_not(client):
    site = SiteFactory(certification_status="Certified")
    user = UserFactory()
    grant(user, "COD_ADMIN", ProjectFactory())
    client.force_login(user)
    assert client.post(url(site), {"new_status": "Suspended", "reason": "x"}).status_code == 403


@pytest.mark.parametrize("old, new", FORBIDDEN)
def test_forbidden_changes_are_refused_with_a_message(client, old, new):
    site = SiteFactory(certification_status=old)
    client.force_login(manager_of(site))
    response = client.post(url(site), {"new_status": new, "reason": "Try it"})
    assert response.status_code == 400
    assert f"A site may not go from {old} to {new}." in response.content.decode()
    site.refresh_from_db()
    assert site.certification_status == old
    assert not site.certification_log.exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("old, new", FORBIDDEN)
def test_admins_may_do_any_change(client, old, new):
    site = SiteFactory(certification_status=old)
    client.force_login(UserFactory(is_superuser=True))
    assert client.post(url(site), {"new_status": new, "reason": "Admin decision"}).status_code == 302
    site.refresh_from_db()
    assert site.certification_status == new


def test_same_status_is_refused(client):
    site = SiteFactory(certification_status="Certified")
    client.force_login(UserFactory(is_superuser=True))
    response = client.post(url(site), {"new_status": "Certified", "reason": "again"})
    assert response.status_code == 400
    assert "The site is already Certified." in response.content.decode()


@pytest.mark.parametrize(
    "reason, message",
    [
        ("", "This field is required."),
        ("r" * 301, "at most 300 characters"),
        ("it's broken", "are not allowed"),
        ("<script>alert(1)</script>", "are not allowed"),
        ('say "no"', "are not allowed"),
        ("a;b", "are not allowed"),
    ],
)
def test_reason_is_required_short_and_free_text(client, reason, message):
    site = SiteFactory(certification_status="Uncertified")
    client.force_login(manager_of(site))
    response = client.post(url(site), {"new_status": "Certified", "reason": reason})
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert "<script>alert(1)</script>" not in body
    site.refresh_from_db()
    assert site.certification_status == "Uncertified"
    assert not site.certification_log.exists()


def test_reason_of_exactly_300_characters_is_fine(client):
    site = SiteFactory(certification_status="Uncertified")
    client.force_login(manager_of(site))
    assert client.post(url(site), {"new_status": "Certified", "reason": "r" * 300}).status_code == 302


def test_unknown_status_is_a_form_error(client):
    site = SiteFactory(certification_status="Uncertified")
    client.force_login(manager_of(site))
    response = client.post(url(site), {"new_status": "Bogus", "reason": "x"})
    assert response.status_code == 400
    assert "new_status" in response.context["form"].errors


@pytest.mark.parametrize("role", ["SITE_ADMIN", "SITE_OPS_MAN", "SITE_SECOFFICER"])
def test_site_roles_cannot_change_certification(client, role):
    site = SiteFactory(certification_status="Uncertified")
    user = UserFactory()
    grant(user, role, site)
    client.force_login(user)
    response = client.get(url(site))
    assert response.status_code == 403
    assert "an NGI manager or project role is needed" in response.content.decode()
    assert client.post(url(site), {"new_status": "Certified", "reason": "self-certify"}).status_code == 403
    site.refresh_from_db()
    assert site.certification_status == "Uncertified"
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("role", ["REG_STAFF_ROD", "REG_FIRST_LINE_SUPPORT"])
def test_ngi_staff_who_are_not_managers_cannot_certify(client, role):
    site = SiteFactory(certification_status="Uncertified")
    client.force_login(manager_of(site, role))
    assert client.post(url(site), {"new_status": "Certified", "reason": "x"}).status_code == 403


def test_anonymous_is_sent_to_login(client):
    site = SiteFactory(certification_status="Uncertified")
    response = client.post(url(site), {"new_status": "Certified", "reason": "x"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_service_checks_permission_before_anything_else():
    site = SiteFactory(certification_status="Uncertified")
    admin = UserFactory()
    grant(admin, "SITE_ADMIN", site)
    with pytest.raises(PermissionDenied):
        services.change_certification(admin, site, "Certified", "x")
    with pytest.raises(ValidationError):
        services.change_certification(manager_of(site), site, "Nonsense", "x")


def test_history_is_listed_on_the_site_page(client):
    site = SiteFactory(certification_status="Uncertified")
    user = manager_of(site)
    services.change_certification(user, site, "Certified", "Passed & verified")
    services.change_certification(user, site, "Suspended", "Incident 42")
    body = client.get(site.get_absolute_url()).content.decode()
    assert body.index("Incident 42") < body.index("Passed &amp; verified")  # newest first, escaped
