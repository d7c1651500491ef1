"""Custom properties of a site (specs/gocdb.md §9) through the generic PropertiesView."""

import pytest
from django.urls import reverse

from egiportal import services
from egiportal.errors import CONFLICT, INVALID, NOT_FOUND, error_code
from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from sites.tests.factories import SiteFactory, grant

pytestmark = pytest.mark.django_db


def edit_url(site):
    return reverse("sites:site_properties", args=[site.pk])


def delete_url(site):
    return reverse("sites:site_property_delete", args=[site.pk])


def props(site):
    return dict(site.properties.values_list("key", "value"))


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def admin_client(client, site):
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    client.force_login(user)
    client.user = user
    return client


def test_bulk_add_trims_and_audits(admin_client, site):
    assert admin_client.get(edit_url(site)).status_code == 200
    response = admin_client.post(
        edit_url(site), {"properties": "a=1\n\n  spaced key  =  some value  \nurl=https://x.org/?q=a=b"}
    )
    assert response.status_code == 302 and response["Location"] == site.get_absolute_url()
    assert props(site) == {"a": "1", "spaced key": "some value", "url": "https://x.org/?q=a=b"}
    row = AuditLog.objects.get()
    assert row.action == "update" and row.user == admin_client.user
    assert row.before["properties"] == {}
    assert row.after["properties"] == props(site)


def test_overwrite_and_do_not_overwrite(admin_client, site):
    site.properties.create(key="a", value="old")
    admin_client.post(edit_url(site), {"properties": "a=new\nb=2", "no_overwrite": "on"})
    assert props(site) == {"a": "old", "b": "2"}
    admin_client.post(edit_url(site), {"properties": "a=new"})
    assert props(site) == {"a": "new", "b": "2"}
    row = AuditLog.objects.first()
    assert row.before["properties"]["a"] == "old" and row.after["properties"]["a"] == "new"


def test_limit_of_twenty(admin_client, site):
    for i in range(19):
        site.properties.create(key=f"k{i}", value="v")
    response = admin_client.post(edit_url(site), {"properties": "new1=x\nnew2=y"})
    assert response.status_code == 400
    assert "property limit of 20" in response.content.decode()
    assert site.properties.count() == 19
    assert not AuditLog.objects.exists()
    assert admin_client.post(edit_url(site), {"properties": "new1=x"}).status_code == 302
    assert site.properties.count() == 20
    # At the limit, existing keys may still be updated.
    assert admin_client.post(edit_url(site), {"properties": "k0=changed\nk1=changed"}).status_code == 302
    assert props(site)["k0"] == "changed"
    assert admin_client.post(edit_url(site), {"properties": "twenty-first=x"}).status_code == 400
    assert site.properties.count() == 20


def test_duplicate_key_in_one_submission_is_refused(admin_client, site):
    response = admin_client.post(edit_url(site), {"properties": "a=1\nb=2\na=3"})
    assert response.status_code == 400
    assert "the key is given twice" in response.content.decode()
    assert props(site) == {}


@pytest.mark.parametrize(
    "line",
    [
        "bad key'=v",
        "k=<b>bold</b>",
        'k=say "x"',
        "k=`id`",
        "k=it's",
        "<k>=v",
        "=value",
        "k=" + "v" * 256,
        "k" * 256 + "=v",
    ],
)
def test_bad_key_or_value_refuses_the_whole_submission(admin_client, site, line):
    site.properties.create(key="keep", value="me")
    response = admin_client.post(edit_url(site), {"properties": f"good=1\n{line}\nkeep=changed"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<b>bold</b>" not in body
    assert props(site) == {"keep": "me"}
    assert not AuditLog.objects.exists()


def test_line_without_equals_and_empty_input(admin_client, site):
    response = admin_client.post(edit_url(site), {"properties": "a=1\njust words"})
    assert response.status_code == 400 and "Line 2 is not key=value." in response.content.decode()
    response = admin_client.post(edit_url(site), {"properties": "\n  \n"})
    assert response.status_code == 400
    assert props(site) == {}


def test_delete(admin_client, site):
    site.properties.create(key="a", value="1")
    site.properties.create(key="b", value="2")
    response = admin_client.post(delete_url(site), {"key": ["a"]})
    assert response.status_code == 302
    assert props(site) == {"b": "2"}
    row = AuditLog.objects.get()
    assert row.before["properties"] == {"a": "1", "b": "2"} and row.after["properties"] == {"b": "2"}


def test_deleting_an_unknown_key_writes_nothing(admin_client, site):
    assert admin_client.post(delete_url(site), {"key": ["nope"]}).status_code == 302
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("role", ["NGI_OPS_MAN", "REG_FIRST_LINE_SUPPORT"])
def test_ngi_roles_may_edit_properties(client, site, role):
    user = UserFactory()
    grant(user, role, site.ngi)
    client.force_login(user)
    assert client.post(edit_url(site), {"properties": "a=1"}).status_code == 302
    assert client.post(delete_url(site), {"key": "a"}).status_code == 302
    assert props(site) == {}


def test_other_sites_admin_is_refused(client, site):
    site.properties.create(key="a", value="1")
    user = UserFactory()
    grant(user, "SITE_ADMIN", SiteFactory())
    client.force_login(user)
    response = client.get(edit_url(site))
    assert response.status_code == 403
    assert f"You may not edit the properties of {site}" in response.content.decode()
    assert client.post(edit_url(site), {"properties": "a=hacked"}).status_code == 403
    assert client.post(delete_url(site), {"key": "a"}).status_code == 403
    assert props(site) == {"a": "1"}
    assert not AuditLog.objects.exists()


def test_anonymous_is_sent_to_login(client, site):
    site.properties.create(key="a", value="1")
    for response in (
        client.get(edit_url(site)),
        client.post(edit_url(site), {"properties": "a=2"}),
        client.post(delete_url(site), {"key": "a"}),
    ):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert props(site) == {"a": "1"}


def test_values_render_escaped_with_delete_buttons_for_editors(admin_client, client, site):
    site.properties.create(key="html", value="a&b")
    body = admin_client.get(site.get_absolute_url()).content.decode()
    assert "a&amp;b" in body
    assert 'aria-label="Delete property html"' in body
    client.logout()
    assert 'aria-label="Delete property html"' not in client.get(site.get_absolute_url()).content.decode()


# ---------------------------------------------------------------- the services' coded refusals


def refusal(call):
    """The error a property service raises: its code and (code, key, position) of each refused item."""
    with pytest.raises(Exception) as caught:
        call()
    exc = caught.value
    return error_code(exc), [
        (e.code, (e.params or {}).get("key"), (e.params or {}).get("position")) for e in exc.error_list
    ]


def test_set_properties_refuses_with_codes_and_writes_nothing(site):
    actor = UserFactory(is_superuser=True)
    site.properties.create(key="taken", value="old")

    def add(pairs, existing=services.REFUSE_EXISTING):
        return lambda: services.set_properties(actor, site, pairs, existing=existing)

    assert refusal(add([("new", "1"), ("taken", "2")])) == (CONFLICT, [("exists", "taken", 1)])
    assert refusal(add([("a", "1"), (" a ", "2")])) == (INVALID, [("repeated", "a", 1)])
    code, items = refusal(add([("k" * 256, "v"), ("taken", "x")]))
    assert code == INVALID and [item[0] for item in items] == ["invalid"]  # invalid input before conflicts
    code, items = refusal(add([(f"k{i}", "v") for i in range(20)]))
    assert code == INVALID and items == [("limit", None, None)]
    assert props(site) == {"taken": "old"} and not AuditLog.objects.exists()
    # Keeping and updating existing keys are not refusals.
    services.set_properties(actor, site, [("taken", "new"), ("b", "2")], existing=services.KEEP_EXISTING)
    assert props(site) == {"taken": "old", "b": "2"}
    services.set_properties(actor, site, [("taken", "new")])
    assert props(site)["taken"] == "new"


def test_a_percent_sign_in_a_key_is_quoted_verbatim(site):
    """The user's key is a parameter of the message, never part of its format string."""
    actor = UserFactory(is_superuser=True)
    with pytest.raises(Exception) as caught:
        services.set_properties(actor, site, [("100%(x)s %d", "v")])
    assert any("'100%(x)s %d'" in message for message in caught.value.messages)


def test_delete_properties_refuses_unknown_keys_and_other_values(site):
    actor = UserFactory(is_superuser=True)
    site.properties.create(key="a", value="1")
    site.properties.create(key="b", value="2")

    def delete(keys):
        return lambda: services.delete_properties(actor, site, keys)

    assert refusal(delete(["a", "missing", "gone"])) == (
        NOT_FOUND,
        [("missing", "missing", 1), ("missing", "gone", 2)],
    )
    assert refusal(delete({"a": "1", "b": "other"})) == (CONFLICT, [("mismatch", "b", 1)])
    assert refusal(delete({"b": "other", "nope": None}))[0] == NOT_FOUND  # not found before mismatches
    assert props(site) == {"a": "1", "b": "2"} and not AuditLog.objects.exists()
    assert services.delete_properties(actor, site, {"a": "1", "b": None}) == 2
    assert services.delete_properties(actor, site) == 0  # all of none
