"""Personal data under RESTRICT_PERSONAL_DATA (on by default): every personal field, for every kind of
reader, in every place the portal shows it (pages, the change list and its CSV, REST, the PI).

The rule is egiportal.permissions.may_see_personal_data, the PI's level-3 rule for users: any portal
administrator, or a user holding, anywhere, a role that enables READ_PERSONAL_DATA (GOCDB, gocdb.md §11.2).
Stricter still: a site's role holders are shown to who may read personal data on that site (its
contacts card, /api/v1/roles/), credentials to who may manage them (its editors), tokens to their owner.
"""

import json

import pytest
from django.urls import reverse

from egiportal import permissions
from egiportal.tests.factories import UserFactory, api_token
from sites import services
from sites.choices import RoleType
from sites.tests.factories import NGIFactory, SiteFactory, api_credential, grant

pytestmark = pytest.mark.django_db

READERS = ["anonymous", "no_role", "other_site_role", "site_role", "admin"]
# Who sees what: personal data (the one rule), site credentials (its editors), tokens (their owner).
SEES = {
    "personal": {"other_site_role", "site_role", "admin"},
    "editor": {"site_role", "admin"},
    # The site's role holders, on its page and in /api/v1/roles/: who may read personal data there.
    "site_contacts": {"site_role", "admin"},
    "owner": set(),
}
CONTACTS = {
    "email": "contact@home.example",
    "telephone": "+44 1 111 1111",
    "emergency_email": "emergency@home.example",
    "emergency_tel": "+44 2 222 2222",
    "alarm_email": "emergency@home.example",  # the services keep it equal to the emergency e-mail
    "helpdesk_email": "helpdesk@home.example",
    "csirt_email": "csirt@home.example",
    "csirt_tel": "+44 3 333 3333",
}
NGI_CONTACTS = {
    "email": "ngi@ngi.example",
    "rod_email": "rod@ngi.example",
    "helpdesk_email": "ngi-helpdesk@ngi.example",
    "security_email": "ngi-security@ngi.example",
}


@pytest.fixture
def world(settings):
    settings.RESTRICT_PERSONAL_DATA = True
    ngi = NGIFactory(name="HOME-NGI", **NGI_CONTACTS)
    site = SiteFactory(short_name="HOME", ngi=ngi, **{**CONTACTS, "email": "old-contact@home.example"})
    other = SiteFactory(short_name="AWAY")
    people = {
        "no_role": UserFactory(username="plain"),
        "other_site_role": UserFactory(username="elsewhere"),
        "site_role": UserFactory(username="siteadmin"),
        "admin": UserFactory(username="root", is_superuser=True),
    }
    grant(people["other_site_role"], RoleType.SITE_ADMIN, other)
    grant(people["site_role"], RoleType.SITE_OPS_MAN, site)
    editor = UserFactory(username="editor-login", first_name="Edna", last_name="Editor")
    grant(editor, RoleType.NGI_OPS_MAN, ngi)
    site.email = CONTACTS["email"]
    services.save_site(editor, site)  # the change list holds the old and new contact e-mail
    services.change_certification(editor, site, "Suspended", "Checked by the NGI")
    requester = UserFactory(username="requester-login", first_name="Rita", last_name="Requester")
    services.grant_role(editor, services.request_role(requester, site, RoleType.SITE_ADMIN))
    credential = api_credential(site, user=people["site_role"], identifier="/DC=org/CN=robot-home")
    token, _ = api_token(UserFactory(username="token-owner"), description="my-private-token")
    return {"site": site, "ngi": ngi, "people": people, "credential": credential, "token": token}


def as_reader(client, world, reader):
    if reader != "anonymous":
        client.force_login(world["people"][reader])
    return client


def text(response):
    assert response.status_code == 200, response.content[:500]
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def api(client, url, **params):
    return json.loads(text(client.get(url, params, HTTP_ACCEPT="application/json")))


def site_api(client, world):
    return api(client, reverse("api:site-detail", args=[world["site"].pk]))


def site_list_api(client, world):
    return next(s for s in api(client, reverse("api:site-list"))["results"] if s["name"] == "HOME")


def changes_api(client, world):
    return api(client, "/api/v1/changes/")["results"]


def pi(client, method, **params):
    return text(client.get("/gocdbpi/private/", {"method": method, **params}))


def site_page(client, world):
    return text(client.get(reverse("sites:site", args=[world["site"].pk])))


def change_list(client, world, **params):
    return text(client.get(reverse("changes"), params))


# (name, who sees it, shown(client, world) -> bool)
FIELDS = [
    *[
        (f"REST site {name}", "personal", lambda c, w, name=name: site_api(c, w).get(name) == CONTACTS[name])
        for name in CONTACTS
    ],
    *[
        (
            f"REST site list {name}",
            "personal",
            lambda c, w, name=name, value=value: site_list_api(c, w).get(name) == value,
        )
        for name, value in CONTACTS.items()
    ],
    *[
        (f"site page {name}", "personal", lambda c, w, value=value: value in site_page(c, w))
        for name, value in CONTACTS.items()
    ],
    *[
        (
            f"REST NGI {name}",
            "personal",
            lambda c, w, name=name: (
                api(c, reverse("api:ngi-detail", args=[w["ngi"].pk])).get(name) == NGI_CONTACTS[name]
            ),
        )
        for name in NGI_CONTACTS
    ],
    *[
        (
            f"NGI page {name}",
            "personal",
            lambda c, w, value=value: value in text(c.get(reverse("sites:ngi", args=[w["ngi"].pk]))),
        )
        for name, value in NGI_CONTACTS.items()
    ],
    ("PI get_site CONTACT_EMAIL", "personal", lambda c, w: CONTACTS["email"] in pi(c, "get_site", sitename="HOME")),
    (
        "REST certification change added_by",
        "personal",
        lambda c, w: any(
            r.get("added_by") == "Edna Editor" for r in api(c, "/api/v1/certification-changes/")["results"]
        ),
    ),
    ("site page certification added_by", "personal", lambda c, w: "Edna Editor" in site_page(c, w)),
    (
        "PI get_cert_status_changes CHANGED_BY",
        "personal",
        lambda c, w: "Edna Editor" in pi(c, "get_cert_status_changes"),
    ),
    ("change list editor login", "personal", lambda c, w: "editor-login" in change_list(c, w, action="certification")),
    ("change list CSV editor login", "personal", lambda c, w: "editor-login" in change_list(c, w, export="csv")),
    (
        "REST changes user_name",
        "personal",
        lambda c, w: any(r.get("user_name") == "editor-login" for r in changes_api(c, w)),
    ),
    (
        "history page editor login",
        "personal",
        lambda c, w: "editor-login" in text(c.get(reverse("sites:site_history", args=[w["site"].pk]))),
    ),
    ("change list old contact e-mail", "personal", lambda c, w: "old-contact@home.example" in change_list(c, w)),
    ("change list CSV old contact e-mail", "personal", lambda c, w: "old-contact" in change_list(c, w, export="csv")),
    ("REST changes old contact e-mail", "personal", lambda c, w: "old-contact" in json.dumps(changes_api(c, w))),
    ("change list role holders", "personal", lambda c, w: "Rita Requester" in change_list(c, w)),
    ("change list CSV role holders", "personal", lambda c, w: "Rita Requester" in change_list(c, w, export="csv")),
    (
        "REST changes role requests and decisions",
        "personal",
        lambda c, w: {"role_request", "role_grant"} <= {r["action"] for r in changes_api(c, w)},
    ),
    ("site page role holders", "site_contacts", lambda c, w: "Rita Requester" in site_page(c, w)),
    (
        "REST roles role holder",
        "site_contacts",
        lambda c, w: "requester-login" in c.get("/api/v1/roles/", HTTP_ACCEPT="application/json").content.decode(),
    ),
    ("site page credential identifier", "editor", lambda c, w: "/DC=org/CN=robot-home" in site_page(c, w)),
    ("token page token", "owner", lambda c, w: "my-private-token" in c.get(reverse("api_tokens")).content.decode()),
    (
        "REST token list",
        "owner",
        lambda c, w: "my-private-token" in c.get("/api/v1/tokens/", HTTP_ACCEPT="application/json").content.decode(),
    ),
]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("field, who, shown", FIELDS, ids=[f[0] for f in FIELDS])
def test_personal_field_is_shown_only_to_who_may_see_it(client, world, reader, field, who, shown):
    as_reader(client, world, reader)
    assert shown(client, world) == (reader in SEES[who]), f"{field} for {reader}"


@pytest.mark.parametrize("reader", READERS)
def test_the_one_rule_and_the_pi_agree(client, world, reader):
    user = world["people"].get(reader)
    as_reader(client, world, reader)
    allowed = reader in SEES["personal"]
    assert permissions.may_see_personal_data(user) == allowed
    refused = "Authorisation required to read personal data" in pi(client, "get_site")
    assert refused == (reader != "anonymous" and not allowed)


def test_with_restriction_off_every_registered_user_sees_personal_data(client, world, settings):
    settings.RESTRICT_PERSONAL_DATA = False
    assert not permissions.may_see_personal_data(None)
    as_reader(client, world, "no_role")
    assert site_api(client, world)["email"] == CONTACTS["email"]
    assert "Rita Requester" in change_list(client, world)


@pytest.mark.parametrize(
    "url, params",
    [
        ("/api/v1/changes/", {"user_name": "editor-login"}),
        ("/api/v1/changes/", {"user_name__in": "editor-login,x"}),
        ("/api/v1/sites/", {"email": CONTACTS["email"]}),
        ("/api/v1/sites/", {"csirt_email__in": "csirt@home.example,x"}),
        ("/api/v1/certification-changes/", {"added_by": "Edna Editor"}),
    ],
)
def test_filtering_on_personal_fields_is_refused_to_who_may_not_see_them(client, world, url, params):
    response = client.get(url, params, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "personal data" in json.dumps(response.json())
    client.force_login(world["people"]["site_role"])
    assert client.get(url, params, HTTP_ACCEPT="application/json").status_code == 200


def test_the_browser_change_list_refuses_a_user_filter_with_a_form_error(client, world):
    response = client.get(reverse("changes"), {"user_name": "editor-login"})
    assert response.status_code == 400
    assert "Filtering on personal data needs a role." in response.content.decode()
    assert "user_name" not in response.context["filterset"].form.fields  # the form does not offer it
    client.force_login(world["people"]["other_site_role"])
    response = client.get(reverse("changes"), {"user_name": "editor-login"})
    assert response.status_code == 200
    assert [row.record.user_name for row in response.context["table"].rows] == ["editor-login"] * 3


@pytest.mark.parametrize("url", ["/api/v1/changes/", "/api/v1/certification-changes/", "/changes/"])
def test_a_search_does_not_match_personal_fields_of_who_may_not_see_them(client, world, url):
    def found(response):
        if url.startswith("/api/"):
            return response.json()["count"]
        return len(response.context["table"].rows)

    assert found(client.get(url, {"q": "Edna Editor" if "certification" in url else "editor-login"})) == 0
    client.force_login(world["people"]["no_role"])
    assert found(client.get(url, {"q": "Edna Editor" if "certification" in url else "editor-login"})) == 0
    client.force_login(world["people"]["other_site_role"])
    assert found(client.get(url, {"q": "Edna Editor" if "certification" in url else "editor-login"})) > 0


def test_change_list_csv_carries_the_object_name_without_markup(client, world):
    client.force_login(world["people"]["admin"])
    body = change_list(client, world, export="csv", action="certification")
    header, line = body.strip().splitlines()
    assert "<a" not in body and "href" not in body
    assert ",HOME," in line
