"""A VO's image list page: the published list with entry states and the "N entries outdated" alert, the
managers' curation (add, remove, update, update all, revert, private, publish), who may do it, the
subscribe panel and the diff of the last publication; the VO page's marketplace panel; one real browser run."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from appliances import publishing
from appliances.choices import ListState
from appliances.list_views import atrope_snippet, cloudkeeper_snippet
from appliances.models import PublishedArtefact, VOImageList
from egiportal.tests.factories import UserFactory, VOFactory, vo_member
from egiportal.tests.test_browser import log_in, page  # noqa: F401 - the browser fixture
from endpoints.models import Service, ServiceProperty
from endpoints.tests.factories import service_type
from sites.models import Scope
from sites.tests.factories import SiteFactory

from .factories import ApplianceFactory, published_appliance, published_version


@pytest.fixture(autouse=True)
def demo_signer(settings, tmp_path_factory):
    """Publishing signs with the demo PKI, made in a temporary directory rather than the checkout's var/."""
    settings.IMAGE_LIST_SIGNER_CERT = ""
    settings.IMAGE_LIST_DEMO_PKI_DIR = str(tmp_path_factory.getbasetemp() / "demo-pki")


@pytest.fixture
def vo():
    return VOFactory(name="fedcloud.example.org")


@pytest.fixture
def manager(vo):
    user = UserFactory()
    vo_member(user, vo, manager=True)
    return user


def list_page(vo):
    return reverse("vo_image_list", args=[vo.name])


def post(client, vo, action, **data):
    return client.post(list_page(vo), {"action": action, **data}, follow=True)


def texts(response):
    return [str(m) for m in response.context["messages"]]


# ---------------------------------------------------------------------------------------------
# artefact_diff
# ---------------------------------------------------------------------------------------------


def _document(*images):
    return json.dumps({"hv:imagelist": {"hv:images": [{"hv:image": dict(i)} for i in images]}})


def test_artefact_diff_tells_added_removed_and_updated_images_by_identifier():
    kept = {"dc:identifier": "a", "dc:title": "Kept", "hv:version": "1"}
    changed_old = {"dc:identifier": "b", "dc:title": "Changed", "hv:version": "1", "sl:checksum:sha512": "x"}
    changed_new = {**changed_old, "hv:version": "2", "sl:checksum:sha512": "y"}
    removed = {"dc:identifier": "c", "dc:title": "Gone", "hv:version": "3"}
    added = {"dc:identifier": "d", "dc:title": "New", "hv:version": "1"}
    diff = publishing.artefact_diff(_document(kept, changed_old, removed), _document(kept, changed_new, added))
    assert [i["identifier"] for i in diff["added"]] == ["d"]
    assert [i["identifier"] for i in diff["removed"]] == ["c"]
    assert diff["updated"] == [{"identifier": "b", "title": "Changed", "version": "2", "old_version": "1"}]


def test_artefact_diff_of_a_first_publication_and_of_no_change():
    image = {"dc:identifier": "a", "dc:title": "T", "hv:version": "1"}
    assert [i["identifier"] for i in publishing.artefact_diff(None, _document(image))["added"]] == ["a"]
    same = publishing.artefact_diff(_document(image), json.loads(_document(image)))
    assert same == {"added": [], "removed": [], "updated": []}


def test_snippets_quote_dns_and_carry_the_token_only_for_private_lists():
    dn = "/DC=org/DC=example/CN=It's signed"
    text = atrope_snippet("fedcloud", "https://p/store/vo/x/image.list", dn, "/CN=CA", private=False)
    assert "dn: '/DC=org/DC=example/CN=It''s signed'" in text and "token" not in text
    assert "enabled: true" in text and "prefix:" in text and "project:" in text and "images: []" in text
    assert "token:" in atrope_snippet("f", "https://p/x", dn, "/CN=CA", private=True)
    assert "ca-dir:" in cloudkeeper_snippet("https://p/x", private=False)
    assert "https://<your subscriber token>:x-oauth-basic@p/x" in cloudkeeper_snippet("https://p/x", private=True)


# ---------------------------------------------------------------------------------------------
# Who may curate
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_vos_managers_may_curate(client, vo, manager):
    appliance = published_appliance()
    other_vo_manager, member = UserFactory(), UserFactory()
    vo_member(other_vo_manager, VOFactory(), manager=True)
    vo_member(member, vo)
    body = {"action": "add", "appliance": appliance.name}
    response = client.post(list_page(vo), body)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    for user in (other_vo_manager, member, UserFactory()):
        client.force_login(user)
        assert client.post(list_page(vo), body).status_code == 403
        assert client.post(list_page(vo), {"action": "publish"}).status_code == 403
        assert "draft-entries" not in client.get(list_page(vo)).content.decode()  # nor do they see the draft
    assert not VOImageList.objects.exists() and not PublishedArtefact.objects.exists()
    client.force_login(manager)
    assert "The draft holds 1 image of" in texts(post(client, vo, "add", appliance=appliance.name))[0]


@pytest.mark.django_db
def test_unknown_vo_and_hostile_names_are_404(client, manager):
    assert client.get("/vos/no.such.vo/image-list/").status_code == 404
    assert client.get("/vos/a%00b/image-list/").status_code == 404
    assert client.get("/vos/" + "v" * 10_000 + "/image-list/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Curating and publishing
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_manager_builds_publishes_and_sees_the_subscribe_panel(client, vo, manager, settings):
    first, second = published_appliance(images=2), published_appliance()
    client.force_login(manager)
    response = client.get(list_page(vo))
    assert response.status_code == 200
    assert {name for name, _title in response.context["candidates"]} >= {first.name, second.name}
    assert not VOImageList.objects.exists()  # a GET writes no draft
    post(client, vo, "add", appliance=first.name)
    post(client, vo, "add", appliance=second.name)
    response = post(client, vo, "publish")
    assert any("Published version" in t for t in texts(response)), texts(response)
    html = response.content.decode()
    assert f"{settings.PORTAL_URL}/store/vo/{vo.name}/image.list" in html
    signer = publishing.signer()
    assert response.context["subscribe"]["dn"] == signer.dn and signer.ca_dn in html
    assert reverse("store_signer_chain") in html
    assert len(response.context["diff"]["added"]) == 3 and response.context["previous"] is None
    assert "Nothing to publish" in texts(post(client, vo, "publish"))[0]
    # A new version of one appliance: the entry is outdated until the manager updates and republishes.
    published_version(second)
    response = client.get(list_page(vo))
    assert response.context["outdated"] == 1
    assert "1 entry outdated" in response.content.decode()
    response = post(client, vo, "update_all")
    assert second.name in texts(response)[0]
    response = post(client, vo, "publish")
    diff = response.context["diff"]
    assert [i["version"] for i in diff["updated"]] == [second.versions.get(state="published").version]
    assert not diff["added"] and not diff["removed"] and response.context["outdated"] == 0
    artefact = PublishedArtefact.objects.filter(vo=vo).first()
    assert client.get(reverse("store_vo_list", args=[vo.name])).content == bytes(artefact.signed)


@pytest.mark.django_db
def test_remove_revert_private_and_update_one_entry(client, vo, manager):
    appliance, other = published_appliance(), published_appliance()
    client.force_login(manager)
    post(client, vo, "add", appliance=appliance.name)
    post(client, vo, "add", appliance=other.name)
    post(client, vo, "publish")
    assert "was removed" in texts(post(client, vo, "remove", appliance=other.name))[0]
    response = post(client, vo, "private", private="on")
    assert "private" in texts(response)[0]
    draft = VOImageList.objects.get(vo=vo, state=ListState.DRAFT)
    assert draft.private and draft.entries.count() == 1
    assert "published list again" in texts(post(client, vo, "revert"))[0]
    draft = VOImageList.objects.get(vo=vo, state=ListState.DRAFT)
    assert not draft.private and draft.entries.count() == 2
    published_version(appliance)
    response = post(client, vo, "update", appliance=appliance.name)
    states = {entry.image.version.appliance.name: state for entry, state in response.context["draft_rows"]}
    assert states[appliance.name] == "up_to_date"
    assert "holds no image" in texts(post(client, vo, "remove", appliance=ApplianceFactory().name))[0]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "a\x00b", "x" * 10_000, "no-such-appliance"])
def test_bad_appliance_names_are_messages_and_change_nothing(client, vo, manager, value):
    client.force_login(manager)
    response = post(client, vo, "add", appliance=value)
    assert response.status_code == 200 and texts(response)
    assert not VOImageList.objects.filter(entries__isnull=False).exists()


@pytest.mark.django_db
def test_unknown_action_is_refused(client, vo, manager):
    client.force_login(manager)
    assert client.post(list_page(vo), {"action": "drop-table"}).status_code == 400


@pytest.mark.django_db
def test_entry_states_are_shown(client, vo, manager):
    fine, expiring, deleted = published_appliance(), published_appliance(), published_appliance()
    client.force_login(manager)
    for appliance in (fine, expiring, deleted):
        post(client, vo, "add", appliance=appliance.name)
    post(client, vo, "publish")
    expiring.versions.update(expires=timezone.now() + timedelta(days=3))
    deleted.deleted = timezone.now()
    deleted.save()
    client.logout()
    response = client.get(list_page(vo))  # anyone sees a public published list
    states = {entry.image.version.appliance.name: state for entry, state in response.context["rows"]}
    assert states == {fine.name: "up_to_date", expiring.name: "expiring", deleted.name: "deleted"}
    html = response.content.decode()
    assert "up to date" in html and "expiring" in html and "deleted" in html
    assert "draft-entries" not in html and "Update all outdated</button>" not in html


@pytest.mark.django_db
def test_a_private_published_list_is_hidden_from_outsiders(client, vo, manager):
    client.force_login(manager)
    post(client, vo, "add", appliance=published_appliance().name)
    post(client, vo, "private", private="on")
    post(client, vo, "publish")
    client.logout()
    assert client.get(list_page(vo)).context["published"] is None
    member = UserFactory()
    vo_member(member, vo)
    client.force_login(member)
    response = client.get(list_page(vo))
    assert response.context["published"] is not None and "token:" in response.context["subscribe"]["atrope"]


# ---------------------------------------------------------------------------------------------
# The VO page
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vo_page_lists_endorsed_images_and_supporting_cloud_sites(client, vo, manager):
    appliance = published_appliance()
    client.force_login(manager)
    post(client, vo, "add", appliance=appliance.name)
    post(client, vo, "publish")
    nova, other_type = service_type("org.openstack.nova"), service_type("org.example.storage")
    by_scope, by_property, not_production, not_cloud, other_vo = (SiteFactory() for _ in range(5))
    scope = Scope.objects.create(name=vo.name, description="the VO")
    Service.objects.create(site=by_scope, service_type=nova, hostname="nova1.example.org").scopes.add(scope)
    service = Service.objects.create(site=by_property, service_type=nova, hostname="nova2.example.org")
    ServiceProperty.objects.create(parent=service, key="vo", value=vo.name)
    hidden = Service.objects.create(site=not_production, service_type=nova, hostname="n3.example.org", production=False)
    hidden.scopes.add(scope)
    Service.objects.create(site=not_cloud, service_type=other_type, hostname="s.example.org").scopes.add(scope)
    service = Service.objects.create(site=other_vo, service_type=nova, hostname="nova4.example.org")
    ServiceProperty.objects.create(parent=service, key="vo", value="other.example.org")
    client.logout()
    response = client.get(reverse("vo", args=[vo.name]))
    assert response.status_code == 200
    (panel,) = [p for name, p in response.context["panels"] if name == "appliances/inc/vo_panel.html"]
    assert {s.pk for s in panel["sites"]} == {by_scope.pk, by_property.pk}
    html = response.content.decode()
    assert by_scope.get_absolute_url() in html and appliance.get_absolute_url() in html
    assert not_cloud.get_absolute_url() not in html


# ---------------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_vo_manager_adds_publishes_and_reads_the_subscribe_panel(page):  # noqa: F811
    vo = VOFactory(name="fedcloud.example.org")
    manager = UserFactory(username="maria")
    vo_member(manager, vo, manager=True)
    appliance = published_appliance(name="ubuntu-noble", title="Ubuntu Noble")
    log_in(page, "maria")
    page.goto(page_url := f"/vos/{vo.name}/image-list/")
    assert "has published no image list yet" in page.content()
    page.select_option("#id_appliance", value=appliance.name)
    page.click("button:has-text('Add to the draft')")
    page.wait_for_selector("text=The draft holds 1 image of ubuntu-noble")
    assert "Ubuntu Noble" in page.inner_text("#draft-entries")
    page.click("#draft-actions button:has-text('Publish')")
    page.wait_for_selector("#subscribe")
    assert page.url.endswith(page_url)
    signer = publishing.signer()
    assert page.inner_text("#subscribe-url").endswith(f"/store/vo/{vo.name}/image.list")
    assert page.inner_text("#signer-dn") == signer.dn
    assert f"dn: '{signer.dn}'" in page.inner_text("#atrope-snippet")
    assert "added: " in page.inner_text("#subscribe")
    assert PublishedArtefact.objects.filter(vo=vo).count() == 1


@pytest.mark.django_db
def test_manager_issues_and_revokes_subscriber_tokens(client, vo, manager):
    import base64

    client.force_login(manager)
    post(client, vo, "add", appliance=published_appliance().name)
    post(client, vo, "private", private="on")
    post(client, vo, "publish")
    response = post(client, vo, "subscriber_add", name="NL-AMS-CLOUD")
    (message,) = texts(response)
    secret = message.rsplit(" ", 1)[1]
    assert "NL-AMS-CLOUD" in response.content.decode() and secret not in response.content.decode().replace(message, "")
    client.logout()
    store = reverse("store_vo_list", args=[vo.name])
    assert client.get(store).status_code == 401
    auth = "Basic " + base64.b64encode(f"{secret}:x-oauth-basic".encode()).decode()
    assert client.get(store, HTTP_AUTHORIZATION=auth).status_code == 200
    client.force_login(manager)
    (subscriber,) = vo.list_subscribers.all()
    for bad in ["", "a\x00", "9" * 40, str(subscriber.pk + 1000)]:
        assert texts(post(client, vo, "subscriber_revoke", subscriber=bad)) == ["No such subscriber."]
    assert "is revoked" in texts(post(client, vo, "subscriber_revoke", subscriber=subscriber.pk))[0]
    client.logout()
    assert client.get(store, HTTP_AUTHORIZATION=auth).status_code == 401
    member_of_other = UserFactory()
    vo_member(member_of_other, VOFactory(), manager=True)
    client.force_login(member_of_other)
    assert client.post(list_page(vo), {"action": "subscriber_add", "name": "x"}).status_code == 403


@pytest.mark.django_db
def test_list_page_query_count_is_fixed(client, vo, manager, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(list_page(vo)).status_code == 200
        return len(captured)

    client.force_login(manager)
    post(client, vo, "add", appliance=published_appliance(images=2).name)
    post(client, vo, "publish")
    few = queries()
    for _ in range(5):
        post(client, vo, "add", appliance=published_appliance(images=2).name)
        published_appliance()  # a candidate to add
    post(client, vo, "publish")
    post(client, vo, "subscriber_add", name="a site")
    assert queries() == few
    with django_assert_max_num_queries(25):
        client.get(list_page(vo))
