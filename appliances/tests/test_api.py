"""The marketplace's REST API (/api/v1/): CRUD of appliances, versions and images through the services,
from both sides; integrity checks; VO image lists curated and published by their VO's managers only;
signed artefacts; hostile input; fixed query counts; XML and CSV renderings."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import etree

from appliances.choices import IntegrityStatus, JobState, ListState, VersionState
from appliances.models import ApplianceVersion, Image, IntegrityJob, PublishedArtefact, VirtualAppliance
from egiportal.api.testcases import APIModelTests, api, audit_rows, token_for
from egiportal.tests.factories import UserFactory, VOFactory, vo_member

from . import api_factories as f

pytestmark = pytest.mark.django_db

A = "/api/v1/appliances/"
V = "/api/v1/appliance-versions/"
IMG = "/api/v1/images/"
JOBS = "/api/v1/integrity-checks/"
LISTS = "/api/v1/vo-image-lists/"
ARTEFACTS = "/api/v1/image-list-artefacts/"


@pytest.fixture(autouse=True)
def demo_signer(settings, tmp_path_factory):
    """Publishing signs with the demo PKI (made once per run) and names the portal it runs on."""
    settings.IMAGE_LIST_SIGNER_CERT = ""
    settings.IMAGE_LIST_DEMO_PKI_DIR = str(tmp_path_factory.getbasetemp() / "demo-pki")


# ---------------------------------------------------------------- the generic kit


class TestApplianceAPI(APIModelTests):
    model = VirtualAppliance
    path = A
    brief_fields = ["display", "id", "name", "url"]
    update_data = {"title": "Changed title"}

    def make(self):
        return f.appliance()

    def create_data(self):
        return {"name": f"kit-{next(f.COUNTER)}", "title": "Kit appliance"}, UserFactory()

    def allowed_user(self, obj):
        return obj.owner

    def other_user(self, obj):
        return UserFactory()

    def test_delete(self, client):
        """DELETE marks the appliance deleted (lists that hold it say so); it leaves the catalogue."""
        obj = self.make()
        assert api(client, "DELETE", self.detail(obj), user=self.other_user(obj)).status_code == 403
        assert api(client, "DELETE", self.detail(obj), user=obj.owner).status_code == 204
        obj.refresh_from_db()
        assert obj.deleted is not None
        client.logout()
        assert api(client, "GET", self.detail(obj)).status_code == 404


class TestImageAPI(APIModelTests):
    model = Image
    path = IMG
    brief_fields = ["arch", "display", "format", "guid", "id", "url"]
    update_data = {"title": "Changed image"}

    def make(self):
        return f.image(f.published())  # released: public

    def create_data(self):
        working = f.version()
        body = {"version": working.pk, "image_url": "https://example.org/a.qcow2", "format": "qcow2"}
        return {**body, "os_name": "Ubuntu", "os_version": "24.04"}, working.appliance.owner

    def allowed_user(self, obj):
        return obj.version.appliance.owner

    def other_user(self, obj):
        return UserFactory()

    # A released version's images are history: only a working version's may change (409).
    def test_update_by_allowed_user_is_audited_and_refused_to_others(self, client):
        obj = f.image()
        assert api(client, "PATCH", self.detail(obj), self.update_data, user=UserFactory()).status_code == 404
        allowed = api(client, "PATCH", self.detail(obj), self.update_data, user=self.allowed_user(obj))
        assert allowed.status_code == 200 and allowed.json()["title"] == "Changed image"
        assert audit_rows(obj).exists()
        released = self.make()
        refused = api(client, "PATCH", self.detail(released), self.update_data, user=self.allowed_user(released))
        assert refused.status_code == 409, refused.content

    def test_if_match_guards_against_lost_updates(self, client):
        obj = f.image()
        user = self.allowed_user(obj)
        etag = api(client, "GET", self.detail(obj), user=user)["ETag"]
        assert (
            api(client, "PATCH", self.detail(obj), self.update_data, headers={"If-Match": 'W/"0-0"'}).status_code == 412
        )
        assert api(client, "PATCH", self.detail(obj), self.update_data, headers={"If-Match": etag}).status_code == 200

    def test_write_token_can_write(self, client):
        obj = f.image()
        secret = token_for(self.allowed_user(obj))
        assert api(client, "PATCH", self.detail(obj), self.update_data, token=secret).status_code == 200

    def test_bulk_update_is_all_or_nothing(self, client):
        objs = [f.image(), f.image()]
        body = [{"id": objs[0].pk, **self.update_data}, {"id": 999999999, **self.update_data}]
        assert api(client, "PATCH", self.path, body, user=self.allowed_user(objs[0])).status_code == 404
        assert not audit_rows(objs[0]).exists()
        body = [{"id": o.pk, **self.update_data} for o in objs]
        assert api(client, "PATCH", self.path, body, user=self.superuser()).status_code == 200
        assert all(audit_rows(o).exists() for o in objs)

    def test_delete(self, client):
        obj = f.image()
        assert api(client, "DELETE", self.detail(obj), user=UserFactory()).status_code == 404
        assert api(client, "DELETE", self.detail(obj), user=self.allowed_user(obj)).status_code == 204
        assert not Image.objects.filter(pk=obj.pk).exists()


# ---------------------------------------------------------------- appliances


def test_contacts_and_owner_are_personal(client, settings):
    settings.RESTRICT_PERSONAL_DATA = True
    owner, contact = UserFactory(), UserFactory()
    made = api(client, "POST", A, {"name": "with-contacts", "title": "T", "contacts": [contact.username]}, user=owner)
    assert made.status_code == 201, made.content
    assert "contacts" not in made.json()  # a user without a role may not see personal data
    assert list(VirtualAppliance.objects.get(name="with-contacts").contacts.all()) == [contact]
    admin = api(client, "GET", f"{A}{made.json()['id']}/", user=UserFactory(is_superuser=True)).json()
    assert [c["username"] for c in admin["contacts"]] == [contact.username] and admin["owner"]["id"] == owner.pk
    client.logout()
    shown = api(client, "GET", f"{A}{made.json()['id']}/").json()
    assert "contacts" not in shown and "owner" not in shown
    assert api(client, "GET", f"{A}?q=with-contacts").json()["results"][0]["name"] == "with-contacts"


def test_contact_may_edit_and_unknown_contact_is_400(client):
    contact = UserFactory()
    obj = f.appliance()
    obj.contacts.add(contact)
    assert api(client, "PATCH", f"{A}{obj.pk}/", {"title": "By contact"}, user=contact).status_code == 200
    bad = api(client, "PATCH", f"{A}{obj.pk}/", {"contacts": ["nobody-such"]}, user=obj.owner)
    assert bad.status_code == 400 and "contacts" in bad.json()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "nul\x00name", "title": "T"}, "name"),
        ({"name": "Upper", "title": "T"}, "name"),
        ({"name": "x" * 10_000, "title": "T"}, "name"),
        ({"name": "ok-name", "title": "t" * 10_000}, "title"),
        ({"name": "ok-name", "title": "T\x00"}, "title"),
        ({"name": "ok-name", "title": "T", "homepage": "javascript:alert(1)"}, "homepage"),
        ({"name": "ok-name", "title": "T", "description": "d" * 10_000}, "description"),
    ],
)
def test_hostile_appliance_input_is_400_and_saves_nothing(client, body, field):
    response = api(client, "POST", A, body, user=UserFactory())
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not VirtualAppliance.objects.exists()


def test_taken_name_in_any_case_is_409(client):
    f.appliance(name="taken")
    response = api(client, "POST", A, {"name": "taken", "title": "T"}, user=UserFactory())
    assert response.status_code == 409 and "name" in response.json()


def test_name_cannot_change(client):
    obj = f.appliance()
    response = api(client, "PATCH", f"{A}{obj.pk}/", {"name": "renamed"}, user=obj.owner)
    assert response.status_code == 400 and "name" in response.json()


@pytest.mark.parametrize(
    "query", ["arch=sparc", "os_family=Plan9", "vo=no.such.vo", "category=Nope", "colour=red", "image_format=QCOW2"]
)
def test_unknown_filter_values_are_400(client, query):
    f.published()
    assert api(client, "GET", f"{A}?{query}").status_code == 400


def test_catalogue_filters(client):
    wanted = f.published().appliance
    f.appliance()  # nothing published
    found = api(client, "GET", f"{A}?has_published=true&arch=x86_64&image_format=qcow2").json()["results"]
    assert [row["id"] for row in found] == [wanted.pk]
    assert api(client, "GET", f"{A}?image_format=raw").json()["results"] == []
    images = api(client, "GET", f"{IMG}?image_format=qcow2&format=csv")
    assert images.status_code == 200 and images["Content-Type"].startswith("text/csv")


# ---------------------------------------------------------------- versions


def test_version_create_clamps_expiry_and_says_so(client):
    obj = f.appliance()
    body = {"appliance": obj.name, "version": "2.0", "expires": (timezone.now() + timedelta(days=3650)).isoformat()}
    made = api(client, "POST", V, body, user=obj.owner)
    assert made.status_code == 201, made.content
    data = made.json()
    assert data["warnings"] and "one year" in data["warnings"][0]
    assert data["state"] == VersionState.WORKING and data["status"] == IntegrityStatus.INIT
    stored = ApplianceVersion.objects.get(pk=data["id"])
    assert stored.expires <= timezone.now() + timedelta(days=366)
    assert api(client, "GET", f"{V}{stored.pk}/").json()["warnings"] == []


def test_version_string_is_never_reused(client):
    old = f.published()
    body = {"appliance": old.appliance.name, "version": old.version}
    reused = api(client, "POST", V, body, user=old.appliance.owner)
    assert reused.status_code in (400, 409), reused.content
    assert "has been used" in json.dumps(reused.json()) or "already exists" in json.dumps(reused.json())
    assert old.appliance.versions.count() == 1


@pytest.mark.parametrize(
    "extra,field",
    [
        ({"version": "1.0\x00"}, "version"),
        ({"version": "v" * 10_000}, "version"),
        ({"version": "bad version"}, "version"),
        ({"expires": "2001-01-01T00:00:00Z"}, "expires"),
        ({"expires": "not a date"}, "expires"),
        ({"state": "published", "status": "verified"}, None),  # read-only: ignored, the version stays working
    ],
)
def test_hostile_version_input(client, extra, field):
    obj = f.appliance()
    response = api(client, "POST", V, {"appliance": obj.name, "version": "3.0", **extra}, user=obj.owner)
    if field is None:
        assert response.status_code == 201 and response.json()["state"] == VersionState.WORKING
        assert response.json()["status"] == IntegrityStatus.INIT
    else:
        assert response.status_code == 400 and field in response.json(), response.content
        assert not obj.versions.exists()


def test_working_version_is_its_authors_only(client):
    working = f.version()
    assert api(client, "GET", f"{V}{working.pk}/").status_code == 404
    assert api(client, "GET", f"{V}{working.pk}/", user=UserFactory()).status_code == 404
    assert api(client, "GET", f"{V}{working.pk}/", user=working.appliance.owner).status_code == 200
    assert api(client, "PATCH", f"{V}{working.pk}/", {"notes": "x"}, user=UserFactory()).status_code == 404
    client.logout()
    assert api(client, "POST", V, {"appliance": working.appliance.name, "version": "9"}).status_code in (401, 403)
    other = api(client, "POST", V, {"appliance": working.appliance.name, "version": "9"}, user=UserFactory())
    assert other.status_code == 403


def test_verify_publish_and_cancel(client):
    working = f.version()
    owner = working.appliance.owner
    assert (
        api(client, "POST", f"{V}{working.pk}/verify/", {"publish": False}, user=owner).status_code == 409
    )  # no image
    f.image(working)
    assert api(client, "POST", f"{V}{working.pk}/verify/", {}, user=UserFactory()).status_code == 404
    bad = api(client, "POST", f"{V}{working.pk}/verify/", {"publish": "maybe"}, user=owner)
    assert bad.status_code == 400
    started = api(client, "POST", f"{V}{working.pk}/verify/", {"publish": True}, user=owner)
    assert started.status_code == 202, started.content
    job = started.json()
    assert job["state"] == JobState.QUEUED and job["publish"] is True
    assert api(client, "POST", f"{V}{working.pk}/verify/", {}, user=owner).status_code == 409  # one at a time
    checks = api(client, "GET", f"{V}{working.pk}/checks/", user=owner).json()
    assert [row["id"] for row in checks["results"]] == [job["id"]]
    assert api(client, "GET", f"{V}{working.pk}/checks/?state=queued", user=owner).status_code == 400
    assert api(client, "POST", f"{JOBS}{job['id']}/cancel/", user=UserFactory()).status_code == 404
    cancelled = api(client, "POST", f"{JOBS}{job['id']}/cancel/", user=owner)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == JobState.CANCELED
    assert api(client, "POST", f"{JOBS}{job['id']}/cancel/", user=owner).status_code == 409
    assert api(client, "POST", JOBS, {}, user=owner).status_code == 405  # checks start with verify/
    assert api(client, "GET", f"{JOBS}?state=nonsense", user=owner).status_code == 400


def test_publish_needs_a_verified_version(client):
    working = f.version()
    f.image(working, size=1, sha512=f.SHA512)
    owner = working.appliance.owner
    refused = api(client, "POST", f"{V}{working.pk}/publish/", user=owner)
    assert refused.status_code == 409 and "verify" in refused.json()["detail"][0]
    ApplianceVersion.objects.filter(pk=working.pk).update(status=IntegrityStatus.VERIFIED)
    assert api(client, "POST", f"{V}{working.pk}/publish/", user=UserFactory()).status_code == 404
    done = api(client, "POST", f"{V}{working.pk}/publish/", user=owner)
    assert done.status_code == 200, done.content
    assert done.json()["state"] == VersionState.PUBLISHED
    assert PublishedArtefact.objects.filter(appliance=working.appliance).count() == 1
    assert api(client, "PATCH", f"{V}{working.pk}/", {"notes": "late"}, user=owner).status_code == 409


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    "extra,field",
    [
        ({"format": "QCOW2"}, "format"),
        ({"image_url": "http://"}, "image_url"),
        ({"image_url": "not a url"}, "image_url"),
        ({"image_url": "https://example.org/" + "a" * 10_000}, "image_url"),
        ({"declared_sha512": "xyz"}, "declared_sha512"),
        ({"declared_sha512": "A" * 127}, "declared_sha512"),
        ({"title": "nul\x00"}, "title"),
        ({"hypervisors": "KVM,KVM"}, "hypervisors"),
        ({"ram_minimum": 4096, "ram_recommended": 1024}, "ram_recommended"),
        ({"network_rules": "in:tcp:22; drop table"}, "network_rules"),
    ],
)
def test_hostile_image_input_is_400_and_saves_nothing(client, extra, field):
    working = f.version()
    body = {"version": working.pk, "image_url": "https://example.org/a.qcow2", "format": "qcow2"}
    body.update({"os_name": "Ubuntu", "os_version": "24.04", **extra})
    response = api(client, "POST", IMG, body, user=working.appliance.owner)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not working.images.exists()


def test_computed_image_fields_are_read_only(client):
    working = f.version()
    body = {"version": working.pk, "image_url": "https://example.org/b.qcow2", "format": "raw", "os_name": "Alma"}
    body.update({"os_version": "9", "size": 1, "sha512": f.SHA512, "guid": "00000000-0000-0000-0000-000000000000"})
    made = api(client, "POST", IMG, body, user=working.appliance.owner)
    assert made.status_code == 201, made.content
    assert made.json()["size"] is None and made.json()["sha512"] == ""
    assert made.json()["image_url"] == "https://example.org/b.qcow2"
    assert made.json()["url"].endswith(f"{IMG}{made.json()['id']}/")


# ---------------------------------------------------------------- VO lists


@pytest.fixture
def vo_people():
    vo, other_vo = VOFactory(name="lists.example.org"), VOFactory(name="other.example.org")
    manager, other_manager, member = UserFactory(), UserFactory(), UserFactory()
    vo_member(manager, vo, manager=True)
    vo_member(other_manager, other_vo, manager=True)
    vo_member(member, vo)
    return vo, manager, other_manager, member


def test_only_the_vos_managers_change_its_list(client, vo_people):
    vo, manager, other_manager, member = vo_people
    appliance = f.published().appliance
    path = f"{LISTS}{vo.name}/draft/entries/"
    client.logout()
    assert api(client, "POST", path, {"appliance": appliance.name}).status_code in (401, 403)
    for refused in (other_manager, member):
        assert api(client, "POST", path, {"appliance": appliance.name}, user=refused).status_code == 403
        assert api(client, "POST", f"{LISTS}{vo.name}/publish/", user=refused).status_code == 403
        assert api(client, "GET", f"{LISTS}{vo.name}/draft/", user=refused).status_code == 403
    added = api(client, "POST", path, {"appliance": appliance.name}, user=manager)
    assert added.status_code == 200, added.content
    [entry] = added.json()["entries"]
    assert entry["appliance"] == appliance.name and entry["state"] == "up_to_date"
    assert added.json()["state"] == ListState.DRAFT
    # the draft is the managers' alone; members and others do not see it in the lists either
    draft_id = added.json()["id"]
    assert api(client, "GET", f"{LISTS}{draft_id}/", user=member).status_code == 404
    assert api(client, "GET", f"{LISTS}{draft_id}/", user=manager).status_code == 200


def test_draft_actions_and_publication(client, vo_people):
    vo, manager, _other, _member = vo_people
    first, second = f.published(), f.published(images=2)
    for appliance in (first.appliance, second.appliance):
        assert (
            api(
                client, "POST", f"{LISTS}{vo.name}/draft/entries/", {"appliance": appliance.name}, user=manager
            ).status_code
            == 200
        )
    published = api(client, "POST", f"{LISTS}{vo.name}/publish/", user=manager)
    assert published.status_code == 201, published.content
    body = published.json()
    assert body["store_url"].endswith(f"/store/vo/{vo.name}/image.list")
    assert body["artefact"]["image_count"] == 3 and body["artefact"]["version"] == body["version"]
    again = api(client, "POST", f"{LISTS}{vo.name}/publish/", user=manager)
    assert again.status_code == 409  # nothing new
    # a new version of the first appliance makes its entry outdated; update-outdated brings it on
    first.state = VersionState.ARCHIVED
    first.save(update_fields=["state"])
    newer = f.published(first.appliance)
    listed = api(client, "GET", f"{LISTS}?vo={vo.name}&state=published").json()["results"]
    assert listed[0]["summary"]["outdated"] == 1 and listed[0]["entries"][0]["state"] == "outdated"
    assert listed[0]["entries"][0]["current_version"] == newer.version
    updated = api(client, "POST", f"{LISTS}{vo.name}/draft/update-outdated/", user=manager)
    assert updated.status_code == 200 and updated.json()["updated"] == [first.appliance.name]
    assert updated.json()["draft"]["summary"]["outdated"] == 0
    # revert throws that away; removing an entry and an unknown appliance
    reverted = api(client, "POST", f"{LISTS}{vo.name}/draft/revert/", user=manager)
    assert reverted.status_code == 200 and reverted.json()["summary"]["outdated"] == 1
    gone = api(client, "DELETE", f"{LISTS}{vo.name}/draft/entries/{second.appliance.name}/", user=manager)
    assert gone.status_code == 204
    again = api(client, "DELETE", f"{LISTS}{vo.name}/draft/entries/{second.appliance.name}/", user=manager)
    assert again.status_code == 404
    assert (
        api(client, "POST", f"{LISTS}{vo.name}/draft/entries/", {"appliance": "no-such"}, user=manager).status_code
        == 400
    )
    assert (
        api(client, "POST", f"{LISTS}{vo.name}/draft/entries/", {"appliance": "x\x00"}, user=manager).status_code == 400
    )
    assert (
        api(client, "POST", f"{LISTS}{vo.name}/draft/entries/", {"appliance": "a" * 10_000}, user=manager).status_code
        == 400
    )
    assert api(client, "POST", f"{LISTS}{vo.name}/draft/entries/", ["x"], user=manager).status_code == 400
    assert api(client, "POST", f"{LISTS}no.such.vo/draft/entries/", {"appliance": "x"}, user=manager).status_code == 404
    unpublished = f.appliance()
    refused = api(client, "POST", f"{LISTS}{vo.name}/draft/entries/", {"appliance": unpublished.name}, user=manager)
    assert refused.status_code == 409


def test_artefacts_and_private_lists(client, vo_people):
    vo, manager, other_manager, member = vo_people
    from appliances import publishing

    publishing.add_to_list(manager, vo, f.published().appliance)
    publishing.set_private(manager, vo, True)
    artefact = publishing.publish_list(manager, vo)
    detail = f"{ARTEFACTS}{artefact.pk}/"
    client.logout()
    assert api(client, "GET", detail).status_code == 404
    assert api(client, "GET", detail, user=other_manager).status_code == 404
    assert artefact.pk not in [row["id"] for row in api(client, "GET", ARTEFACTS).json()["results"]]
    shown = api(client, "GET", detail, user=member)
    assert shown.status_code == 200
    data = shown.json()
    assert data["document"]["hv:imagelist"]["hv:version"] == artefact.version == data["version"]
    assert data["sha256"] == artefact.sha256 and data["signer_dn"] and data["image_count"] == 1
    assert "document" not in api(client, "GET", ARTEFACTS, user=member).json()["results"][0]
    assert api(client, "GET", f"{LISTS}?vo={vo.name}", user=other_manager).json()["results"] == []
    assert api(client, "PATCH", detail, {"version": "1"}, user=manager).status_code == 405


# ---------------------------------------------------------------- query counts and renderings


def count_queries(client, path, user=None):
    if user is not None:
        client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize("path", [A, V, IMG, LISTS, ARTEFACTS, JOBS])
def test_list_query_count_is_fixed(client, path, django_assert_max_num_queries):
    vo = VOFactory(name="counted.example.org")
    manager = UserFactory()
    vo_member(manager, vo, manager=True)
    from appliances import publishing

    def grow(n):
        for _ in range(n):
            version = f.published(images=2)
            version.appliance.contacts.add(UserFactory())
            IntegrityJob.objects.create(version=version, state=JobState.SUCCEEDED)
            publishing.add_to_list(manager, vo, version.appliance)
        publishing.publish_list(manager, vo)

    grow(3)
    few = count_queries(client, path, manager)
    grow(27)
    client.force_login(manager)
    with django_assert_max_num_queries(few):
        assert count_queries(client, path) == few


def test_csv_and_xml_renderings(client, vo_people):
    vo, manager, *_ = vo_people
    from appliances import publishing

    publishing.add_to_list(manager, vo, f.published().appliance)
    publishing.publish_list(manager, vo)
    for listed in (A, V, IMG, LISTS, ARTEFACTS):
        text = client.get(f"{listed}?format=csv").content.decode()
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows and rows[0]["id"], (listed, text[:300])
        root = etree.fromstring(client.get(f"{listed}?format=xml").content)
        assert root.find("results/item/id") is not None, listed
    lists = list(csv.DictReader(io.StringIO(client.get(f"{LISTS}?format=csv").content.decode())))
    assert json.loads(lists[0]["entries"])[0]["state"] == "up_to_date"


def test_private_flag_subscribers_and_logo(client, vo_people):
    import base64

    vo, manager, other_manager, member = vo_people
    draft = f"{LISTS}{vo.name}/draft/"
    for refused in (other_manager, member):
        assert api(client, "PATCH", draft, {"private": True}, user=refused).status_code == 403
        assert api(client, "GET", f"{LISTS}{vo.name}/subscribers/", user=refused).status_code == 403
        assert api(client, "POST", f"{LISTS}{vo.name}/subscribers/", {"name": "x"}, user=refused).status_code == 403
    assert api(client, "PATCH", draft, {"private": "maybe"}, user=manager).status_code == 400
    changed = api(client, "PATCH", draft, {"private": True}, user=manager)
    assert changed.status_code == 200 and changed.json()["private"] is True
    api(client, "POST", f"{LISTS}{vo.name}/draft/entries/", {"appliance": f.published().appliance.name}, user=manager)
    assert api(client, "POST", f"{LISTS}{vo.name}/publish/", user=manager).status_code == 201
    issued = api(client, "POST", f"{LISTS}{vo.name}/subscribers/", {"name": "NL-AMS-CLOUD"}, user=manager)
    assert issued.status_code == 201 and issued.json()["secret"].startswith("egil_")
    listed = api(client, "GET", f"{LISTS}{vo.name}/subscribers/", user=manager).json()
    assert [s["name"] for s in listed] == ["NL-AMS-CLOUD"] and "secret" not in listed[0]
    assert api(client, "POST", f"{LISTS}{vo.name}/subscribers/", {"name": "a\x00"}, user=manager).status_code == 400
    store = f"/store/vo/{vo.name}/image.list"
    client.logout()
    auth = "Basic " + base64.b64encode(f"{issued.json()['secret']}:x-oauth-basic".encode()).decode()
    assert client.get(store).status_code == 401 and client.get(store, HTTP_AUTHORIZATION=auth).status_code == 200
    revoke = f"{LISTS}{vo.name}/subscribers/{issued.json()['id']}/"
    assert api(client, "DELETE", revoke, user=other_manager).status_code in (403, 404)
    assert api(client, "DELETE", revoke, user=manager).status_code == 200
    assert api(client, "DELETE", f"{LISTS}{vo.name}/subscribers/99999999999999999999/", user=manager).status_code == 404
    client.logout()
    assert client.get(store, HTTP_AUTHORIZATION=auth).status_code == 401

    appliance = f.appliance()
    logo = f"{A}{appliance.pk}/logo/"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    client.force_login(appliance.owner)
    assert client.put(logo, png, content_type="image/png").status_code == 204
    assert VirtualAppliance.objects.get(pk=appliance.pk).logo_type == "image/png"
    assert client.put(logo, b"<svg onload=alert(1)>", content_type="image/png").status_code == 400
    assert client.put(logo, png + b"\x00" * 300_000, content_type="image/png").status_code == 400
    client.force_login(member)
    assert client.put(logo, png, content_type="image/png").status_code == 403
    client.force_login(appliance.owner)
    assert client.delete(logo).status_code == 204 and VirtualAppliance.objects.get(pk=appliance.pk).logo is None
