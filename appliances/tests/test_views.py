"""Browser pages of appliances, versions and images: the generic kit (every page as anonymous, a user with
no role, another appliance's author and the author), the catalogue's query count, hostile form input,
the logo, the version buttons and the integrity-check partial."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from appliances.choices import IntegrityStatus, JobState, VersionState
from appliances.models import ApplianceVersion, Image, IntegrityJob, VirtualAppliance
from egiportal.testcases import AddCase, ViewModelTests
from egiportal.tests.factories import UserFactory, VOFactory, vo_member

from .factories import (
    ApplianceFactory,
    CategoryFactory,
    ImageFactory,
    VersionFactory,
    published_appliance,
    published_version,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def demo_signer(settings, tmp_path_factory):
    """Publishing signs with the demo PKI, made in a temporary directory rather than the checkout's var/."""
    settings.IMAGE_LIST_SIGNER_CERT = ""
    settings.IMAGE_LIST_DEMO_PKI_DIR = str(tmp_path_factory.getbasetemp() / "demo-pki")


class TestApplianceViews(ViewModelTests):
    model = VirtualAppliance
    lookup = "name"
    list_url, detail_url, history_url = "appliance_list", "appliance", "appliance_history"
    add_url, edit_url, delete_url = "appliance_add", "appliance_edit", "appliance_delete"
    add_needs_role = False  # anyone logged in may add an appliance and becomes its owner
    edit_changes = {"title": "A changed title"}

    def make(self):
        appliance = published_appliance(images=2)
        appliance.categories.add(CategoryFactory(name="Operating systems"))
        return appliance

    def allowed_user(self, obj):
        return obj.owner

    def other_owner(self, obj):
        return ApplianceFactory().owner

    def gone(self, obj):
        return VirtualAppliance.objects.filter(pk=obj.pk, deleted__isnull=False).exists()

    def grow(self, obj):
        super().grow(obj)
        for _ in range(3):  # older versions with images on its own page
            published_version(obj, images=2)

    def add_case(self):
        data = {"name": "new-appliance", "title": "New appliance", "description": "It runs.", "homepage": ""}
        return AddCase(data=data, user=UserFactory())


class VersionPages:
    """URLs of a version's and an image's pages take the appliance's name and the ids above them."""

    private = True  # a working version is its authors' until it is published

    def allowed_user(self, obj):
        return self.appliance_of(obj).owner

    def other_owner(self, obj):
        return ApplianceFactory().owner


class TestVersionViews(VersionPages, ViewModelTests):
    model = ApplianceVersion
    detail_url, history_url = "appliance_version", "appliance_version_history"
    edit_url, delete_url = "appliance_version_edit", "appliance_version_delete"
    edit_changes = {"notes": "Changed notes"}

    def make(self):
        return ImageFactory().version

    def appliance_of(self, obj):
        return obj.appliance

    def url(self, name, obj=None):
        return reverse(name, args=[obj.appliance.name, obj.pk])

    def grow(self, obj):
        for _ in range(5):
            ImageFactory(version=obj)


class TestImageViews(VersionPages, ViewModelTests):
    model = Image
    edit_url, delete_url = "appliance_image_edit", "appliance_image_delete"
    edit_changes = {"title": "A changed title"}

    def make(self):
        return ImageFactory()

    def appliance_of(self, obj):
        return obj.version.appliance

    def url(self, name, obj=None):
        return reverse(name, args=[obj.version.appliance.name, obj.version_id, obj.pk])


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


def _catalogue_queries(client, django_assert_max_num_queries, count):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("appliance_list"))
    assert response.status_code == 200
    assert len(response.context["table"].rows) == count
    return len(captured)


@pytest.mark.django_db
def test_catalogue_query_count_is_the_same_for_5_and_50_appliances(client, django_assert_max_num_queries):
    category = CategoryFactory(name="Bioinformatics")
    for _ in range(5):
        published_appliance(images=2).categories.add(category)
    few = _catalogue_queries(client, django_assert_max_num_queries, 5)
    for _ in range(45):
        published_appliance(images=2).categories.add(category)
    with django_assert_max_num_queries(few):
        assert _catalogue_queries(client, django_assert_max_num_queries, 50) == few
    assert few <= 12


@pytest.mark.django_db
def test_catalogue_hides_deleted_appliances_and_filters(client):
    kept = published_appliance()
    arm = published_appliance()
    arm.versions.get(state=VersionState.PUBLISHED).images.update(arch="aarch64", os_name="Debian")
    gone = published_appliance()
    gone.deleted = timezone.now()
    gone.save()
    listed = {row.record.pk for row in client.get(reverse("appliance_list")).context["table"].rows}
    assert listed == {kept.pk, arm.pk}
    response = client.get(reverse("appliance_list"), {"arch": "aarch64"})
    assert [row.record.pk for row in response.context["table"].rows] == [arm.pk]
    response = client.get(reverse("appliance_list"), {"os_name": "debian"})
    assert [row.record.pk for row in response.context["table"].rows] == [arm.pk]
    assert client.get(reverse("appliance_list"), {"arch": "sparc"}).status_code == 400
    assert client.get(reverse("appliance_list"), {"q": "a\x00b"}).status_code == 400


@pytest.mark.django_db
def test_catalogue_filters_by_endorsing_vo(client):
    from appliances import publishing

    vo = VOFactory(name="fedcloud.example.org")
    endorsed, other = published_appliance(), published_appliance()
    manager = UserFactory()
    vo_member(manager, vo, manager=True)
    publishing.add_to_list(manager, vo, endorsed)
    publishing.publish_list(manager, vo)
    response = client.get(reverse("appliance_list"), {"vo": vo.name})
    assert [row.record.pk for row in response.context["table"].rows] == [endorsed.pk]
    assert other.pk not in [row.record.pk for row in response.context["table"].rows]
    assert client.get(reverse("appliance_list"), {"vo": "no.such.vo"}).status_code == 400


@pytest.mark.django_db
def test_catalogue_csv_export(client):
    appliance = published_appliance(title="=HYPERLINK(1)")
    response = client.get(reverse("appliance_list"), {"export": "csv"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert appliance.name in body
    assert "'=HYPERLINK(1)" in body  # a formula is never a live cell
    assert "Published version" in body.splitlines()[0]


# ---------------------------------------------------------------------------------------------
# The appliance page, its form and its logo
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_contacts_are_personal_data(client, settings):
    settings.RESTRICT_PERSONAL_DATA = True
    appliance = published_appliance()
    contact = UserFactory(first_name="Carla", last_name="Contact")
    appliance.contacts.add(contact)
    anonymous = client.get(reverse("appliance", args=[appliance.name])).content.decode()
    assert "Carla Contact" not in anonymous
    client.force_login(appliance.owner)
    assert "Carla Contact" in client.get(reverse("appliance", args=[appliance.name])).content.decode()


@pytest.mark.django_db
def test_appliance_page_shows_versions_and_endorsing_vos(client):
    from appliances import publishing

    appliance = published_appliance()
    old = appliance.versions.get()
    current = published_version(appliance)
    vo = VOFactory()
    manager = UserFactory()
    vo_member(manager, vo, manager=True)
    publishing.add_to_list(manager, vo, appliance)
    publishing.publish_list(manager, vo)
    response = client.get(reverse("appliance", args=[appliance.name]))
    assert response.context["published"] == current
    assert response.context["archived"] == [old]
    assert list(response.context["endorsing"]) == [vo]
    assert reverse("vo_image_list", args=[vo.name]) in response.content.decode()
    assert response.context["message_form"] is None  # only authors write to managers


HOSTILE_NAMES = ["a\x00b", "x" * 10_000, "../etc", "Upper", "-dash"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_add_refuses_hostile_names(client, name):
    client.force_login(UserFactory())
    response = client.post(reverse("appliance_add"), {"name": name, "title": "T"})
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not VirtualAppliance.objects.exists()


@pytest.mark.django_db
def test_add_refuses_bad_fields_and_saves_nothing(client):
    client.force_login(UserFactory())
    body = {"name": "ok-name", "title": "T\x00", "description": "d" * 10_000, "homepage": "javascript:alert(1)"}
    response = client.post(reverse("appliance_add"), body)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"title", "description", "homepage"} <= set(errors)
    assert not VirtualAppliance.objects.exists()


@pytest.mark.django_db
def test_a_name_taken_in_another_case_is_refused(client):
    ApplianceFactory(name="cernvm")
    client.force_login(UserFactory())
    response = client.post(reverse("appliance_add"), {"name": "cernvm", "title": "T"})
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert VirtualAppliance.objects.count() == 1


@pytest.mark.django_db
def test_unknown_contact_is_a_form_error(client):
    client.force_login(UserFactory())
    response = client.post(reverse("appliance_add"), {"name": "ok", "title": "T", "contacts": "nobody-here"})
    assert response.status_code == 400
    assert "contacts" in response.context["form"].errors
    assert not VirtualAppliance.objects.exists()


@pytest.mark.django_db
def test_logo_upload_and_serving(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    owner = UserFactory()
    client.force_login(owner)
    svg = SimpleUploadedFile("x.svg", b"<svg onload='alert(1)'/>", content_type="image/png")
    response = client.post(reverse("appliance_add"), {"name": "logo-app", "title": "T", "logo": svg})
    assert response.status_code == 400 and "logo" in response.context["form"].errors
    assert not VirtualAppliance.objects.exists()
    logo = SimpleUploadedFile("x.png", PNG, content_type="text/html")
    response = client.post(reverse("appliance_add"), {"name": "logo-app", "title": "T", "logo": logo})
    assert response.status_code == 302
    served = client.get(reverse("appliance_logo", args=["logo-app"]))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"  # told by its bytes, not by what the upload claimed
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served.content == PNG
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * 300_000, content_type="image/png")
    appliance = VirtualAppliance.objects.get(name="logo-app")
    edit = client.post(reverse("appliance_edit", args=["logo-app"]), {"title": "T", "logo": big})
    assert edit.status_code == 400 and "logo" in edit.context["form"].errors
    appliance.refresh_from_db()
    assert bytes(appliance.logo) == PNG
    assert client.get(reverse("appliance_logo", args=[ApplianceFactory().name])).status_code == 404
    assert client.get(reverse("appliance_logo", args=["a\x00"])).status_code == 404


@pytest.mark.django_db
def test_author_messages_a_vos_managers(client, django_capture_on_commit_callbacks, eager_tasks):
    appliance = published_appliance()
    vo = VOFactory()
    vo_member(UserFactory(email="manager@example.org"), vo, manager=True)
    url = reverse("appliance_message", args=[appliance.name])
    body = {"vo": vo.name, "kind": "endorse", "body": "Please add it."}
    assert client.post(url, body).status_code == 302 and not mail.outbox  # anonymous: to the login page
    client.force_login(UserFactory())
    assert client.post(url, body).status_code == 403
    client.force_login(appliance.owner)
    assert client.post(url, {**body, "body": "x" * 10_000}).status_code == 302
    assert client.post(url, {**body, "body": "a\x00b"}).status_code == 302
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, body, follow=True)
    assert "was sent to the managers" in response.content.decode()
    assert any("manager@example.org" in m.to for m in mail.outbox)


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------


def _version_body(**overrides):
    return {"version": "2.0", "notes": "", "expires": "", **overrides}


@pytest.mark.django_db
def test_new_version_expiry_ten_years_ahead_is_clamped_with_a_message(client):
    appliance = ApplianceFactory()
    client.force_login(appliance.owner)
    far = (timezone.now() + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("appliance_version_add", args=[appliance.name]), _version_body(expires=far))
    assert response.status_code == 302
    version = appliance.versions.get()
    assert version.expires <= timezone.now() + timedelta(days=366)
    page = client.get(response["Location"]).content.decode()
    assert "a version lives at most one year" in page


@pytest.mark.django_db
def test_a_reused_version_string_is_a_form_error(client):
    appliance = published_appliance()
    used = appliance.versions.get().version
    client.force_login(appliance.owner)
    response = client.post(reverse("appliance_version_add", args=[appliance.name]), _version_body(version=used))
    assert response.status_code == 400
    assert "version" in response.context["form"].errors
    assert appliance.versions.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        _version_body(version="a\x00b"),
        _version_body(version="v" * 10_000),
        _version_body(notes="n" * 10_000),
        _version_body(expires="2020-01-01T00:00"),
        _version_body(expires="not a date"),
    ],
)
def test_hostile_version_input_saves_nothing(client, body):
    appliance = ApplianceFactory()
    client.force_login(appliance.owner)
    response = client.post(reverse("appliance_version_add", args=[appliance.name]), body)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not appliance.versions.exists()


@pytest.mark.django_db
def test_version_add_permissions(client):
    appliance = ApplianceFactory()
    url = reverse("appliance_version_add", args=[appliance.name])
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    assert client.post(url, _version_body()).status_code == 403
    assert not appliance.versions.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field,value",
    [
        ("url", "not a url"),
        ("url", "http://" + "h" * 10_000),
        ("declared_sha512", "z" * 128),
        ("declared_sha512", "ab" * 10),
        ("os_name", "Ubuntu\x00"),
        ("title", "t" * 10_000),
        ("network_rules", "in:tcp:99999999"),
    ],
)
def test_hostile_image_input_saves_nothing(client, field, value):
    version = VersionFactory()
    client.force_login(version.appliance.owner)
    body = {
        "url": "http://127.0.0.1:9/i.qcow2",
        "format": "qcow2",
        "arch": "x86_64",
        "os_family": "Linux",
        "os_name": "Ubuntu",
        "os_version": "24.04",
        "hypervisors": ["KVM"],
        field: value,
    }
    response = client.post(reverse("appliance_image_add", args=[version.appliance.name, version.pk]), body)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not version.images.exists()


@pytest.mark.django_db
def test_image_add_with_an_upper_case_checksum(client):
    version = VersionFactory()
    client.force_login(version.appliance.owner)
    body = {
        "url": "http://127.0.0.1:9/i.qcow2",
        "format": "qcow2",
        "arch": "x86_64",
        "os_family": "Linux",
        "os_name": "Ubuntu",
        "os_version": "24.04",
        "hypervisors": ["KVM", "QEMU"],
        "context_formats": ["cloud-init"],
        "declared_sha512": "AB" * 64,
    }
    response = client.post(reverse("appliance_image_add", args=[version.appliance.name, version.pk]), body)
    assert response.status_code == 302, response.context["form"].errors
    image = version.images.get()
    assert image.declared_sha512 == "ab" * 64
    assert image.hypervisors == "KVM,QEMU"


@pytest.mark.django_db
def test_version_buttons(client, django_capture_on_commit_callbacks):
    image = ImageFactory()
    version = image.version
    owner = version.appliance.owner

    def action(name):
        return reverse("appliance_version_action", args=[version.appliance.name, version.pk, name])

    assert client.post(action("verify"))["Location"].startswith(reverse("login"))
    client.force_login(UserFactory())
    assert client.post(action("verify")).status_code == 404  # a working version is its authors' only
    client.force_login(owner)
    page = client.post(action("publish"), follow=True).content.decode()
    assert "verify its images first" in page
    assert client.post(action("no-such-action")).status_code == 404
    with django_capture_on_commit_callbacks(execute=False):
        client.post(action("verify"))
    job = IntegrityJob.objects.get(version=version)
    assert job.state == JobState.QUEUED
    page = client.post(action("verify"), follow=True).content.decode()
    assert "running already" in page
    client.post(action("cancel"))
    job.refresh_from_db()
    assert job.state == JobState.CANCELED
    version.refresh_from_db()
    assert version.status == IntegrityStatus.CANCELED


@pytest.mark.django_db
def test_publish_button_publishes_a_verified_version(client):
    image = ImageFactory()
    version = image.version
    image.size, image.sha512 = 10, "ab" * 64
    image.save()
    ApplianceVersion.objects.filter(pk=version.pk).update(status=IntegrityStatus.VERIFIED)
    client.force_login(version.appliance.owner)
    url = reverse("appliance_version_action", args=[version.appliance.name, version.pk, "publish"])
    assert "Version published." in client.post(url, follow=True).content.decode()
    version.refresh_from_db()
    assert version.state == VersionState.PUBLISHED
    assert client.get(reverse("store_appliance_list", args=[version.appliance.name])).status_code == 200


# ---------------------------------------------------------------------------------------------
# The integrity-check partial
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_partial_polls_while_the_job_is_active_and_stops_when_over(client):
    image = ImageFactory()
    version = image.version
    client.force_login(version.appliance.owner)
    url = reverse("appliance_version_check", args=[version.appliance.name, version.pk])
    assert 'hx-trigger="every 2s"' not in client.get(url).content.decode()  # no check yet
    job = IntegrityJob.objects.create(
        version=version,
        state=JobState.RUNNING,
        progress={str(image.pk): {"state": "downloading", "done": 512, "total": 2048, "error": ""}},
    )
    active = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in active and f'hx-get="{url}"' in active and 'hx-swap="outerHTML"' in active
    assert "512\xa0bytes / 2.0\xa0KB" in active and 'aria-valuenow="25"' in active
    assert "Cancel check" in active
    page = client.get(reverse("appliance_version", args=[version.appliance.name, version.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page  # the version page includes the polling partial
    job.state, job.error = JobState.FAILED, "http://127.0.0.1:9/x: checksum mismatch"
    job.progress[str(image.pk)].update(state="failed", error="checksum mismatch")
    job.save()
    over = client.get(url).content.decode()
    assert "hx-trigger" not in over and "hx-get" not in over
    assert "checksum mismatch" in over and "Cancel check" not in over


@pytest.mark.django_db
def test_check_partial_of_a_working_version_is_hidden_from_others(client):
    version = ImageFactory().version
    url = reverse("appliance_version_check", args=[version.appliance.name, version.pk])
    assert client.get(url).status_code == 404
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    assert client.get(url.replace(f"/{version.appliance.name}/", "/a%00b/")).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_verify_and_publish_from_the_version_page_against_a_local_image_server(client, settings, eager_tasks):
    """The buttons run the real check (eager task) against a real HTTP server on loopback; the partial then
    shows the result and no longer polls."""
    import hashlib

    from appliances.testing import ImageServer

    settings.IMAGE_ALLOW_PRIVATE_ADDRESSES = True
    body = b"QFI\xfb" + b"\x00" * 4096
    with ImageServer() as server:
        server.add("/good.qcow2", body)
        image = ImageFactory(url=server.url("/good.qcow2"), declared_sha512=hashlib.sha512(body).hexdigest())
        version = image.version
        client.force_login(version.appliance.owner)
        url = reverse("appliance_version_action", args=[version.appliance.name, version.pk, "verify-publish"])
        assert client.post(url).status_code == 302
    version.refresh_from_db()
    assert (version.status, version.state) == (IntegrityStatus.VERIFIED, VersionState.PUBLISHED)
    partial = client.get(reverse("appliance_version_check", args=[version.appliance.name, version.pk]))
    html = partial.content.decode()
    assert "Succeeded" in html and "hx-trigger" not in html
    image.refresh_from_db()
    assert image.size == len(body) and image.sha512 == hashlib.sha512(body).hexdigest()


@pytest.mark.django_db
def test_an_add_form_sent_twice_makes_one_appliance(client):
    from egiportal.forms import FORM_TOKEN

    client.force_login(UserFactory())
    token = client.get(reverse("appliance_add")).context["form"][FORM_TOKEN].value()
    body = {"name": "twice", "title": "Twice", FORM_TOKEN: token}
    first = client.post(reverse("appliance_add"), body)
    second = client.post(reverse("appliance_add"), body)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("appliance", args=["twice"])
    assert VirtualAppliance.objects.filter(name="twice").count() == 1
