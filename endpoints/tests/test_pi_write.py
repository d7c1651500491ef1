"""The GOCDB write API, /gocdbpi/v5/... (specs/gocdb.md §12), through the Django test client.

Every row of the §12 table, the order of the checks, who may write (API credentials of the owning
site, write-enabled, acting with their owner's rights), all-or-nothing behaviour, audit rows, and
hostile input, which must always get a JSON error and never a 500.
"""

import json
from base64 import b64encode
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import override_settings
from django.urls import resolve
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from egiportal import pi
from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory
from endpoints import pi_write
from endpoints.models import EndpointLocation, Service
from endpoints.tests.factories import EndpointFactory, ServiceFactory, service_type
from sites.models import APICredential, Role
from sites.tests.factories import SiteFactory, api_credential, grant, user_with

pytestmark = pytest.mark.django_db

DOCS = "https://docs.example.org/gocdb-write-api"
DN = "/DC=org/DC=example/CN=robot.example.org"
SUBJECT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TOKEN = APICredential.Kind.TOKEN


def send(client, method, path, body=None, *, token=None, raw=None, headers=None, content_type="application/json"):
    """One write-API request: `body` is JSON-encoded unless `raw` bytes are given."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.generic(method, "/gocdbpi/" + path, data=data, content_type=content_type, headers=headers)


def assert_ok(response):
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert "Content-Type" not in response.headers


def assert_error(response, code, text=""):
    """GOCDB's error form: the status, and {"Error": {"Code", "Message", "API-Documentation"}}."""
    assert response.status_code == code, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["Error"]
    assert body["Error"]["Code"] == code
    assert body["Error"]["API-Documentation"] == DOCS
    assert text in body["Error"]["Message"], body["Error"]["Message"]
    return body["Error"]["Message"]


def props(obj):
    return dict(obj.properties.values_list("key", "value"))


@pytest.fixture(autouse=True)
def docs_url(settings):
    settings.WRITE_API_DOCS_URL = DOCS


@pytest.fixture
def site():
    return SiteFactory()


@pytest.fixture
def owner(site):
    return user_with("SITE_ADMIN", site)


@pytest.fixture
def credential(site, owner):
    credential, secret = api_credential(site, owner, kind=TOKEN, allow_write=True)
    credential.secret = secret
    return credential


@pytest.fixture
def service(site):
    return ServiceFactory(site=site, url="")


@pytest.fixture
def endpoint(service):
    return EndpointFactory(service=service, name="main", description="")


@pytest.fixture
def api(client, credential):
    """Send as the site's write-enabled portal-token credential."""

    def call(method, path, body=None, **kwargs):
        kwargs.setdefault("token", credential.secret)
        return send(client, method, path, body, **kwargs)

    return call


@pytest.fixture
def anonymous(client):
    def call(method, path, body=None, **kwargs):
        return send(client, method, path, body, **kwargs)

    return call


@pytest.fixture(params=["site", "service", "endpoint"])
def parent(request, site, service, endpoint):
    """Each entity type with extension properties: (URL prefix, entity)."""
    obj = {"site": site, "service": service, "endpoint": endpoint}[request.param]
    return f"v5/{request.param}/{obj.pk}", obj


# ---------------------------------------------------------------- URL and method


def test_get_is_refused_with_gocdbs_message(api, site):
    response = api("GET", f"v5/site/{site.pk}/extensionproperties")
    assert_error(response, 405, '"GET" is not currently a supported request method. Try the other API')
    assert response["Allow"] == "POST, PUT, DELETE"


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "PROPFIND"])
def test_other_methods_are_refused(api, site, method):
    response = api(method, f"v5/site/{site.pk}/extensionproperties", {"a": "1"})
    assert_error(response, 405, f'"{method}" is not currently a supported request method')
    assert props(site) == {}


def test_head_is_refused(api, site):
    assert api("HEAD", f"v5/site/{site.pk}/extensionproperties").status_code == 405


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("v5/site/1", "wrong number of elements"),
        ("v5/site/1/extensionproperties/a/b", "wrong number of elements"),
        ("v5", "wrong number of elements"),
        ("v4/site/1/extensionproperties", 'Unsupported API version: "v4"'),
        ("v5/site/abc/extensionproperties", '"abc" is not an integer'),
        ("v5/site/1.5/extensionproperties", '"1.5" is not an integer'),
        ("v5/site/1e3/extensionproperties", "is not an integer"),
        ("v5/site/0x10/extensionproperties", "is not an integer"),
        ("v5/site/" + "9" * 40 + "/extensionproperties", "is not an integer"),
    ],
)
def test_malformed_urls(anonymous, path, message):
    """URL errors come first, before the body and before authentication."""
    text = assert_error(anonymous("PUT", path, raw=b"{not json"), 400, message)
    assert "/APIVERSION/ENTITYTYPE/ENTITYID/ENTITYPROPERTY/[ENTITYPROPERTYKEY]" in text


def test_url_before_method(anonymous):
    assert_error(anonymous("GET", "v4/site/1/extensionproperties"), 400, "Unsupported API version")


def test_version_type_and_property_are_case_insensitive_and_slashes_ignored(api, site):
    assert_ok(api("PUT", f"V5/Site/{site.pk}//ExtensionProperties/", {"a": "1"}))
    assert props(site) == {"a": "1"}


def test_huge_entity_id_is_not_found(api):
    assert_error(api("PUT", "v5/site/" + "9" * 25 + "/extensionproperties", {"a": "1"}), 404, "could not be found")


def test_read_paths_keep_matching_first(client):
    assert resolve("/gocdbpi/public/").func is pi.pi_view
    assert resolve("/gocdbpi/private").func is pi.pi_view
    assert resolve("/gocdbpi/v5/site/1/extensionproperties").func is pi_write.write_view
    response = client.get("/gocdbpi/public/?method=get_service_types")
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    # A POST to the read API is the read view's refusal, not a write-API JSON error.
    refused = client.post("/gocdbpi/public/", data="{}", content_type="application/json")
    assert refused.status_code == 405 and not refused["Content-Type"].startswith("application/json")


def test_wrong_number_of_elements_below_a_read_path(anonymous):
    assert_error(anonymous("POST", "public/extra"), 400, "wrong number of elements")


# ---------------------------------------------------------------- hostile and malformed bodies

HOSTILE_BODIES = {
    "invalid JSON": (b"{", "not correctly formatted"),
    "not JSON at all": (b"rm -rf /", "not correctly formatted"),
    "whitespace only": (b"   ", "not correctly formatted"),
    "array": (b'["a"]', "must be an object"),
    "object wrapped in an array (the docs' form)": (b'[{"a": "b"}]', "must be an object"),
    "bare string": (b'"a"', "must be an object"),
    "nested object": (b'{"a": {"b": "c"}}', "nested too deeply"),
    "nested array": (b'{"a": ["b"]}', "nested too deeply"),
    "pathologically deep nesting": (b"[" * 60000, "nested too deeply"),
    "deep nesting in a member": (b'{"a": ' + b"[" * 30000 + b"]" * 30000 + b"}", "nested too deeply"),
    "number": (b'{"a": 1}', "must be a JSON string"),
    "boolean": (b'{"a": true}', "must be a JSON string"),
    "null": (b'{"a": null}', "must be a JSON string"),
    "NaN": (b'{"a": NaN}', "not correctly formatted"),
    "Infinity": (b'{"a": -Infinity}', "not correctly formatted"),
    "huge integer": (b'{"a": 1' + b"0" * 5000 + b"}", "not correctly formatted"),
    "duplicate member": (b'{"a": "1", "a": "2"}', 'The JSON member "a" is given more than once'),
    "invalid UTF-8": (b'{"a": "\xff\xfe"}', "not valid UTF-8"),
    "byte order mark": (b'\xef\xbb\xbf{"a": "b"}', "not correctly formatted"),
    "NUL in a key": (b'{"a\\u0000b": "v"}', "contains a control character"),
    "NUL in a value": (b'{"a": "v\\u0000"}', "contains a control character"),
    "escape sequence": (b'{"a": "\\u001b[31mred"}', "contains a control character"),
    "C1 control": (b'{"a": "x\\u0085y"}', "contains a control character"),
    "lone surrogate": (b'{"a": "\\ud800"}', "contains a control character"),
    "non-ASCII key": ('{"ключ": "v"}'.encode(), "is not valid"),
    "key too long": (json.dumps({"k" * 256: "v"}).encode(), "may not be more than 255 characters"),
    "value too long": (json.dumps({"k": "v" * 256}).encode(), "may not be more than 255 characters"),
    "very long value": (json.dumps({"k": "v" * 60000}).encode(), "may not be more than 255 characters"),
    "quote in a value": (b'{"a": "x\\"y"}', "is not valid"),
    "markup in a value": (b'{"a": "<script>alert(1)</script>"}', "is not valid"),
    "blank key": (b'{" ": "v"}', "is not valid"),
    "blank value": (b'{"a": "   "}', "is not valid"),
    "empty object": (b"{}", "Please specify the properties"),
    "one bad key among good ones": (b'{"good": "1", "bad key!": "2"}', 'The property key "bad key!" is not valid'),
    "the same key after trimming": (b'{"a": "1", " a ": "2"}', 'The property key "a" is given twice'),
}


@pytest.mark.parametrize(("raw", "message"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_bodies_are_400_and_change_nothing(api, site, raw, message):
    site.properties.create(key="keep", value="me")
    assert_error(api("PUT", f"v5/site/{site.pk}/extensionproperties", raw=raw), 400, message)
    assert props(site) == {"keep": "me"}
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(("raw", "message"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_bodies_from_anonymous_callers_are_400_too(anonymous, site, raw, message):
    """The body is checked before authentication (§12 processing order)."""
    assert_error(anonymous("PUT", f"v5/site/{site.pk}/extensionproperties", raw=raw), 400, message)


def test_oversized_body_is_413(api, site):
    raw = json.dumps({f"key{i}": "v" * 200 for i in range(400)}).encode()
    assert len(raw) > pi_write.MAX_BODY
    assert_error(api("PUT", f"v5/site/{site.pk}/extensionproperties", raw=raw), 413, "larger than 65536 bytes")
    assert props(site) == {}


def test_body_of_exactly_the_limit_is_read(api, site):
    body = json.dumps({"a": "1"})
    raw = (body + " " * (pi_write.MAX_BODY - len(body))).encode()
    assert_ok(api("PUT", f"v5/site/{site.pk}/extensionproperties", raw=raw))
    assert props(site) == {"a": "1"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Value": "x"}, 'A value for "hostname" should be provided'),
        ({"value": None}, 'A value for "hostname" should be provided'),
        ({}, 'A value for "hostname" should be provided'),
        ({"value": "a.example.org", "other": "x"}, 'Only one value for "hostname" should be provided'),
        ({"value": ["a.example.org"]}, "nested too deeply"),
    ],
)
def test_single_value_body_shape(api, service, body, message):
    assert_error(api("PUT", f"v5/service/{service.pk}/hostname", body), 400, message)


def test_unicode_values_are_stored_exactly(api, parent):
    prefix, obj = parent
    value = "Zürich→東京😀"
    assert_ok(api("PUT", f"{prefix}/extensionproperties", {"city": value}))
    assert props(obj) == {"city": value}


def test_values_and_keys_are_trimmed(api, site):
    assert_ok(api("PUT", f"v5/site/{site.pk}/extensionproperties", {"  spaced key  ": "  some value  "}))
    assert props(site) == {"spaced key": "some value"}


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.text(max_size=40),
        st.one_of(st.text(max_size=300), st.booleans(), st.none(), st.integers(), st.floats(allow_nan=False)),
        max_size=25,
    )
)
def test_any_json_object_gets_an_answer_never_a_500(api, site, body):
    response = api("PUT", f"v5/site/{site.pk}/extensionproperties", body)
    assert response.status_code in (204, 400, 409), response.content
    if response.status_code != 204:
        assert response.json()["Error"]["Code"] == response.status_code


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300), key=st.text(min_size=1, max_size=60))
def test_any_bytes_and_key_get_an_answer_never_a_500(api, site, raw, key):
    path = f"v5/site/{site.pk}/extensionproperties/{quote(key, safe='')}"
    for method in ("POST", "PUT", "DELETE"):
        response = api(method, path, raw=raw)
        assert response.status_code in (204, 400, 404, 409), response.content


# ---------------------------------------------------------------- order of the checks


def test_anonymous_good_request_is_403(anonymous, site):
    response = anonymous("PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"})
    assert_error(response, 403, "You need to be authenticated to access this resource.")
    assert props(site) == {}


def test_authentication_comes_before_the_entity_lookup(anonymous):
    assert_error(
        anonymous("PUT", "v5/site/987654/extensionproperties", {"a": "1"}), 403, "You need to be authenticated"
    )


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ("site", "A site with the specified id could not be found"),
        ("service", "A service with the specified id could not be found"),
        ("endpoint", "An endpoint with the specified ID could not be found"),
    ],
)
def test_unknown_entity_is_404(api, entity, message):
    assert_error(api("PUT", f"v5/{entity}/987654/extensionproperties", {"a": "1"}), 404, message)
    assert_error(api("PUT", f"v5/{entity}/-3/extensionproperties", {"a": "1"}), 404, message)


def test_unsupported_entity_type_is_501_once_authenticated(api, anonymous, site):
    path = f"v5/ngi/{site.ngi.pk}/extensionproperties"
    assert_error(anonymous("PUT", path, {"a": "1"}), 403, "You need to be authenticated")
    assert_error(api("PUT", path, {"a": "1"}), 501, "Updating ngis is not currently supported through the API")


@pytest.mark.parametrize("path", ["site/{site}/description", "site/{site}/short_name", "service/{service}/scopes"])
def test_unsupported_property_is_501_after_the_credential_check(api, client, site, service, path):
    path = "v5/" + path.format(site=site.pk, service=service.pk)
    other = SiteFactory()
    _, other_secret = api_credential(other, user_with("SITE_ADMIN", other), kind=TOKEN, allow_write=True)
    assert_error(send(client, "PUT", path, {"value": "x"}, token=other_secret), 403, "is not authorised to alter")
    assert_error(api("PUT", path, {"value": "x"}), 501, "is not currently supported through the API")


def test_endpoints_belong_to_services_only(api, site):
    response = api("POST", f"v5/site/{site.pk}/endpoint", {"name": "x", "url": "https://x.example.org"})
    assert_error(response, 400, "Endpoints should only be specified for Services, not site")


# ---------------------------------------------------------------- who may write


def test_read_only_credential_is_refused(client, site, owner):
    _, secret = api_credential(site, owner, kind=TOKEN, allow_write=False)
    response = send(client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, token=secret)
    message = assert_error(response, 403, "is not authorised to alter the " + site.short_name + " site")
    assert "without write access" in message
    assert props(site) == {}


def test_credential_of_another_site_is_refused(client, site):
    other = SiteFactory()
    credential, secret = api_credential(other, user_with("SITE_ADMIN", other), kind=TOKEN, allow_write=True)
    response = send(client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, token=secret)
    assert_error(
        response,
        403,
        f'The Portal token identifier "{credential.identifier}" is not authorised to alter the {site} site',
    )
    assert props(site) == {}


def test_credential_of_another_site_cannot_touch_this_sites_services(client, service, endpoint):
    other = SiteFactory()
    _, secret = api_credential(other, user_with("SITE_ADMIN", other), kind=TOKEN, allow_write=True)
    for method, path, body in [
        ("PUT", f"v5/service/{service.pk}/hostname", {"value": "stolen.example.org"}),
        ("DELETE", f"v5/service/{service.pk}/endpoint/{endpoint.pk}", None),
        ("PUT", f"v5/endpoint/{endpoint.pk}/url", {"value": "https://stolen.example.org"}),
    ]:
        assert_error(send(client, method, path, body, token=secret), 403, "is not authorised to alter")
    assert EndpointLocation.objects.filter(pk=endpoint.pk).exists()
    assert Service.objects.get(pk=service.pk).hostname == service.hostname


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer " + "x" * 5000},
        {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        {"Authorization": "Bearer"},
    ],
)
def test_unknown_or_unusable_tokens_are_unauthenticated(client, site, headers):
    response = send(client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers=headers)
    assert_error(response, 403, "You need to be authenticated")
    assert props(site) == {}


def test_unknown_portal_tokens_are_refused_saying_why(client, site):
    for header in ("Bearer egip_not-a-real-token", "Token egip_x", "Basic " + b64encode(b"argo:egip_x").decode()):
        response = send(
            client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={"Authorization": header}
        )
        assert_error(response, 403, "Unknown or revoked token.")
    assert props(site) == {}


def test_expired_credential_is_refused(api, site, credential):
    credential.last_renewed = timezone.now() - timedelta(days=400)
    credential.save()
    assert_error(api("PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}), 403, "Expired token")


def test_browser_session_is_not_a_credential(client, site, owner):
    """The API is exempt from CSRF checks, so a session cookie must never authorise a write."""
    client.force_login(owner)
    response = send(client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"})
    assert_error(response, 403, "You need to be authenticated")
    assert props(site) == {}


def test_owner_without_a_role_any_more_must_renew(api, site, owner):
    Role.objects.filter(user=owner).delete()
    response = api("PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"})
    message = assert_error(response, 403, "no longer holds a role allowing this change")
    assert owner.username in message and "must renew the credential" in message
    assert props(site) == {} and not AuditLog.objects.exists()


def test_inactive_owner_must_renew(api, site, owner):
    owner.is_active = False
    owner.save()
    assert_error(api("PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}), 403, "must renew the credential")


def test_credential_owned_by_an_ngi_manager_may_write(client, site):
    manager = user_with("NGI_OPS_MAN", site.ngi)
    _, secret = api_credential(site, manager, kind=TOKEN, allow_write=True)
    assert_ok(send(client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, token=secret))
    assert AuditLog.objects.get().user == manager


def test_use_is_recorded(api, site, credential):
    assert credential.last_used is None
    assert_ok(api("PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}))
    credential.refresh_from_db()
    assert credential.last_used is not None


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN")
@pytest.mark.parametrize("presented", [DN, "CN=robot.example.org,DC=example,DC=org"])
def test_x509_dn_from_the_front_proxy(client, site, owner, presented):
    api_credential(site, owner, kind=APICredential.Kind.X509, identifier=DN, allow_write=True)
    response = send(
        client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={"X-SSL-Client-S-DN": presented}
    )
    assert_ok(response)
    assert props(site) == {"a": "1"}
    assert AuditLog.objects.get().user == owner


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN")
def test_x509_dn_registered_elsewhere_is_refused(client, site):
    other = SiteFactory()
    api_credential(other, user_with("SITE_ADMIN", other), kind=APICredential.Kind.X509, identifier=DN, allow_write=True)
    response = send(
        client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={"X-SSL-Client-S-DN": DN}
    )
    assert_error(response, 403, f'The X.509 identifier "{DN}" is not authorised to alter the {site} site')


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN")
def test_x509_dn_of_the_wrong_kind_is_refused(client, site, owner):
    """A DN registered as an OIDC subject is not an X.509 credential."""
    api_credential(site, owner, kind=APICredential.Kind.OIDC, identifier=DN, allow_write=True)
    response = send(
        client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={"X-SSL-Client-S-DN": DN}
    )
    assert_error(response, 403, "is not authorised to alter")


# ---------------------------------------------------------------- requests from other sites' pages


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN")
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_cross_site_form_post_with_a_client_certificate_is_refused(client, site, owner, content_type):
    """What a hostile page can make a browser send with the user's client certificate: a POST with a
    form's content type (no CORS preflight). It used to create the properties (204)."""
    api_credential(site, owner, kind=APICredential.Kind.X509, identifier=DN, allow_write=True)
    response = client.generic(
        "POST",
        f"/gocdbpi/v5/site/{site.pk}/extensionproperties",
        data=b'{"evil": "1"}',
        content_type=content_type,
        headers={"X-SSL-Client-S-DN": DN},
    )
    assert_error(response, 415, "Content-Type: application/json")
    assert props(site) == {}


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN", CSRF_TRUSTED_ORIGINS=["https://portal.example.org"])
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}, 204),
        ({"Origin": "https://portal.example.org", "Sec-Fetch-Site": "cross-site"}, 204),
        ({"Sec-Fetch-Site": "none"}, 204),
        ({}, 204),  # curl and the other clients send neither header
    ],
)
def test_writes_a_browser_says_come_from_another_site_are_refused(client, site, owner, headers, code):
    api_credential(site, owner, kind=APICredential.Kind.X509, identifier=DN, allow_write=True)
    for method in ("POST", "PUT"):
        response = send(
            client,
            method,
            f"v5/site/{site.pk}/extensionproperties/{method}",
            {"value": "1"},
            headers={"X-SSL-Client-S-DN": DN, **headers},
        )
        if code == 204:
            assert_ok(response)
        else:
            assert_error(response, 403, "Requests from other sites are refused")
    assert props(site) == ({"POST": "1", "PUT": "1"} if code == 204 else {})


def test_put_keeps_gocdbs_curl_example_working(api, site):
    """GOCDB documents `curl -X PUT -d '{...}'`, which declares a form body: a PUT needs a preflight
    from a browser on another site, so its content type is not what protects it."""
    response = api(
        "PUT",
        f"v5/site/{site.pk}/extensionproperties",
        None,
        raw=b'{"a": "1"}',
        content_type="application/x-www-form-urlencoded",
    )
    assert_ok(response)
    assert props(site) == {"a": "1"}


def test_dn_header_is_ignored_unless_configured(client, site, owner):
    api_credential(site, owner, kind=APICredential.Kind.X509, identifier=DN, allow_write=True)
    response = send(
        client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={"X-SSL-Client-S-DN": DN}
    )
    assert_error(response, 403, "You need to be authenticated")


@override_settings(PI_OIDC_SUBJECT_HEADER="X-OIDC-Subject")
def test_oidc_subject_from_the_front_proxy(client, site, owner):
    api_credential(site, owner, kind=APICredential.Kind.OIDC, identifier=SUBJECT, allow_write=True)
    response = send(
        client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={"X-OIDC-Subject": SUBJECT}
    )
    assert_ok(response)
    assert props(site) == {"a": "1"}


# ---------------------------------------------------------------- extension properties, whole sets


def test_post_adds_all_and_is_audited(api, parent, owner):
    prefix, obj = parent
    response = api("POST", f"{prefix}/extensionproperties", {"a": "1", "b": "two words"})
    assert_ok(response)
    assert props(obj) == {"a": "1", "b": "two words"}
    row = AuditLog.objects.get()
    assert row.user == owner and row.action == "update" and row.object_id == obj.pk
    assert row.before["properties"] == {} and row.after["properties"] == {"a": "1", "b": "two words"}
    assert str(row.request_id) == response["X-Request-ID"]
    assert row.message == "Properties set; via the write API, Portal token " + APICredential.objects.get().identifier


def test_post_with_an_existing_key_adds_nothing(api, parent):
    prefix, obj = parent
    obj.properties.create(key="a", value="old")
    response = api("POST", f"{prefix}/extensionproperties", {"new": "1", "a": "x"})
    assert_error(response, 409, 'A property with name "a" already exists for this object, no properties were added.')
    assert props(obj) == {"a": "old"}
    assert not AuditLog.objects.exists()


def test_post_over_the_limit_is_409(api, parent, settings):
    settings.MAX_PROPERTIES_PER_ENTITY = 3
    prefix, obj = parent
    obj.properties.create(key="a", value="1")
    obj.properties.create(key="b", value="2")
    response = api("POST", f"{prefix}/extensionproperties", {"c": "3", "d": "4"})
    assert_error(response, 409, "Property(s) could not be added due to the property limit of 3")
    assert props(obj) == {"a": "1", "b": "2"}


def test_put_upserts(api, parent):
    prefix, obj = parent
    obj.properties.create(key="a", value="old")
    obj.properties.create(key="keep", value="me")
    assert_ok(api("PUT", f"{prefix}/extensionproperties", {"a": "new", "b": "2"}))
    assert props(obj) == {"a": "new", "keep": "me", "b": "2"}
    row = AuditLog.objects.get()
    assert row.before["properties"]["a"] == "old" and row.after["properties"]["a"] == "new"


def test_put_over_the_limit_is_409_but_updates_at_the_limit_pass(api, parent, settings):
    settings.MAX_PROPERTIES_PER_ENTITY = 2
    prefix, obj = parent
    obj.properties.create(key="a", value="1")
    obj.properties.create(key="b", value="2")
    assert_error(api("PUT", f"{prefix}/extensionproperties", {"a": "9", "c": "3"}), 409, "property limit of 2")
    assert props(obj) == {"a": "1", "b": "2"}
    assert_ok(api("PUT", f"{prefix}/extensionproperties", {"a": "9"}))
    assert props(obj) == {"a": "9", "b": "2"}


def test_delete_listed_keys(api, parent, owner):
    prefix, obj = parent
    for key in "abc":
        obj.properties.create(key=key, value=f"value-{key}")
    assert_ok(api("DELETE", f"{prefix}/extensionproperties", {"a": "value-a", "b": "", "c": None}))
    assert props(obj) == {}
    row = AuditLog.objects.get()
    assert row.user == owner and row.after["properties"] == {}


def test_delete_some_keys_keeps_the_others(api, parent):
    prefix, obj = parent
    for key in "abc":
        obj.properties.create(key=key, value="v")
    assert_ok(api("DELETE", f"{prefix}/extensionproperties", {"a": "", "b": "v"}))
    assert props(obj) == {"c": "v"}


def test_delete_with_an_unknown_key_deletes_nothing(api, parent):
    prefix, obj = parent
    obj.properties.create(key="a", value="1")
    response = api("DELETE", f"{prefix}/extensionproperties", {"a": "", "missing": ""})
    assert_error(response, 404, 'A property with key "missing" could not be found for')
    assert props(obj) == {"a": "1"}
    assert not AuditLog.objects.exists()


def test_delete_reports_an_unknown_key_before_a_value_mismatch(api, parent):
    prefix, obj = parent
    obj.properties.create(key="b", value="2")
    response = api("DELETE", f"{prefix}/extensionproperties", {"b": "other", "missing": ""})
    assert_error(response, 404, 'A property with key "missing" could not be found for')
    assert props(obj) == {"b": "2"} and not AuditLog.objects.exists()


def test_post_with_an_oversized_or_repeated_key_adds_nothing(api, parent):
    prefix, obj = parent
    assert api("POST", f"{prefix}/extensionproperties", {"a": "1", "k" * 300: "v"}).status_code == 400
    assert api("POST", f"{prefix}/extensionproperties", {"a": "1", " a": "2"}).status_code == 400
    assert props(obj) == {} and not AuditLog.objects.exists()


def test_delete_with_a_value_mismatch_deletes_nothing(api, parent):
    prefix, obj = parent
    obj.properties.create(key="a", value="1")
    obj.properties.create(key="b", value="2")
    response = api("DELETE", f"{prefix}/extensionproperties", {"a": "1", "b": "other"})
    assert_error(response, 409, 'The value provided for the property with key "b" does not match the existing one')
    assert props(obj) == {"a": "1", "b": "2"}


def test_delete_without_body_deletes_all(api, parent):
    prefix, obj = parent
    for key in "ab":
        obj.properties.create(key=key, value="v")
    assert_ok(api("DELETE", f"{prefix}/extensionproperties"))
    assert props(obj) == {}
    assert AuditLog.objects.count() == 1


def test_delete_all_of_none_is_a_no_op(api, parent):
    prefix, _ = parent
    assert_ok(api("DELETE", f"{prefix}/extensionproperties"))
    assert not AuditLog.objects.exists()


def test_keys_are_case_sensitive(api, site):
    site.properties.create(key="Key", value="v")
    assert_error(api("DELETE", f"v5/site/{site.pk}/extensionproperties", {"key": ""}), 404, "could not be found")
    assert_ok(api("POST", f"v5/site/{site.pk}/extensionproperties", {"key": "other"}))
    assert props(site) == {"Key": "v", "key": "other"}


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_writing_properties_needs_a_body(api, site, method):
    response = api(method, f"v5/site/{site.pk}/extensionproperties")
    assert_error(response, 400, "For methods other than 'DELETE' a value or set of values must be provided.")


# ---------------------------------------------------------------- extension properties, one key


def test_single_key_post_put_delete(api, parent):
    prefix, obj = parent
    path = f"{prefix}/extensionproperties/colour"
    assert_ok(api("POST", path, {"value": "blue"}))
    assert_error(api("POST", path, {"value": "red"}), 409, 'A property with name "colour" already exists')
    assert_ok(api("PUT", path, {"value": "red"}))
    assert props(obj) == {"colour": "red"}
    assert_error(api("DELETE", path, {"value": "blue"}), 409, "does not match the existing one")
    assert_ok(api("DELETE", path, {"value": "red"}))
    assert props(obj) == {}
    assert_error(api("DELETE", path), 404, 'A property with key "colour" could not be found')
    assert AuditLog.objects.count() == 3


def test_single_key_delete_without_body(api, parent):
    prefix, obj = parent
    obj.properties.create(key="a", value="1")
    obj.properties.create(key="b", value="2")
    assert_ok(api("DELETE", f"{prefix}/extensionproperties/a"))
    assert props(obj) == {"b": "2"}


def test_single_key_with_spaces_and_symbols(api, site):
    assert_ok(api("PUT", f"v5/site/{site.pk}/extensionproperties/{quote('my key[0]+@x')}", {"value": "v"}))
    assert props(site) == {"my key[0]+@x": "v"}


@pytest.mark.parametrize("key", ["bad<key", "a%00b", "%C3%A9", "x" * 256, "semi;colon", "a%7Fb", "a%1Bb"])
def test_single_key_in_the_url_is_validated(api, site, key):
    response = api("PUT", f"v5/site/{site.pk}/extensionproperties/{key}", {"value": "v"})
    assert response.status_code == 400, response.content
    assert props(site) == {}


def test_line_break_in_the_path_is_not_routed(api, site):
    """Django's path converter stops at line breaks, so such a URL is a plain 404 and reaches no view."""
    response = api("PUT", f"v5/site/{site.pk}/extensionproperties/a%0Ab", {"value": "v"})
    assert response.status_code == 404
    assert props(site) == {}


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_single_key_needs_a_value(api, site, method):
    response = api(method, f"v5/site/{site.pk}/extensionproperties/a")
    assert_error(response, 400, "For methods other than 'DELETE' a value or set of values must be provided.")


def test_single_key_value_must_be_a_string(api, site):
    assert_error(api("PUT", f"v5/site/{site.pk}/extensionproperties/a", {"value": 5}), 400, "must be a JSON string")


# ---------------------------------------------------------------- service fields

SERVICE_VALUES = [
    ("hostname", "renamed.example.org", "hostname"),
    ("description", "A renamed compute service", "description"),
    ("host_dn", "/C=NL/O=Example/CN=renamed.example.org", "dn"),
    ("host_ip", "192.0.2.10", "ip_address"),
    ("host_ip_v6", "2001:db8::1/64", "ipv6_address"),
    ("host_os", "Linux (AlmaLinux 9)", "operating_system"),
    ("host_arch", "x86_64", "architecture"),
    ("url", "https://renamed.example.org:8443/path?x=1&y=2", "url"),
    ("email", "ops@example.org; security@example.org", "email"),
]


@pytest.mark.parametrize(("prop", "value", "field"), SERVICE_VALUES)
def test_put_service_text_fields(api, service, owner, prop, value, field):
    assert_ok(api("PUT", f"v5/service/{service.pk}/{prop}", {"value": value}))
    service.refresh_from_db()
    assert getattr(service, field) == value
    row = AuditLog.objects.get()
    assert row.user == owner and row.action == "update" and row.after[field] == value
    assert row.content_type.model == "service" and row.object_id == service.pk


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("hostname", "nodot", "is not valid"),
        ("hostname", "host.example.org:443", "is not valid"),
        ("hostname", "", "is not valid"),
        ("hostname", 42, "must be a JSON string"),
        ("description", "", "is not valid"),
        ("description", "bad; character", "is not valid"),
        ("host_dn", "CN=host,O=Example", "is not valid"),
        ("host_ip", "999.1", "is not valid"),
        ("host_ip_v6", "zz::1", "is not valid"),
        ("host_ip_v6", "2001:db8::1/0", "is not valid"),
        ("host_os", "x" * 256, "may not be more than 255 characters"),
        ("host_arch", "<arm>", "is not valid"),
        ("url", "https://example.org/a b", "is not valid"),
        ("url", True, "must be a JSON string"),
        ("email", "not-an-address", "is not valid"),
        ("production", "true", "must be a JSON boolean"),
        ("monitored", 1, "must be a JSON boolean"),
        ("beta", "N", "must be a JSON boolean"),
    ],
)
def test_invalid_service_values_are_400(api, service, prop, value, message):
    before = Service.objects.get(pk=service.pk).snapshot()
    assert_error(api("PUT", f"v5/service/{service.pk}/{prop}", {"value": value}), 400, message)
    assert Service.objects.get(pk=service.pk).snapshot() == before
    assert not AuditLog.objects.exists()


def test_post_sets_an_empty_text_field_only(api, service):
    assert_ok(api("POST", f"v5/service/{service.pk}/url", {"value": "https://a.example.org/"}))
    assert Service.objects.get(pk=service.pk).url == "https://a.example.org/"
    response = api("POST", f"v5/service/{service.pk}/url", {"value": "https://b.example.org/"})
    assert_error(response, 409, "url has already been set for this service. Consider using a PUT request.")
    assert_error(api("POST", f"v5/service/{service.pk}/hostname", {"value": "x.example.org"}), 409, "already been set")
    assert Service.objects.get(pk=service.pk).url == "https://a.example.org/"


@pytest.mark.parametrize("prop", ["production", "beta", "monitored", "notify"])
def test_post_of_a_flag_is_405(api, service, prop):
    response = api("POST", f"v5/service/{service.pk}/{prop}", {"value": True})
    assert_error(response, 405, "The post method is not supported for boolean values.")


@pytest.mark.parametrize(("prop", "value"), [("beta", True), ("notify", True), ("production", False)])
def test_put_service_flags(api, service, prop, value):
    assert_ok(api("PUT", f"v5/service/{service.pk}/{prop}", {"value": value}))
    assert getattr(Service.objects.get(pk=service.pk), prop) is value


def test_production_service_must_stay_monitored(api, service):
    response = api("PUT", f"v5/service/{service.pk}/monitored", {"value": False})
    assert_error(response, 403, "A production service must be monitored")
    assert Service.objects.get(pk=service.pk).monitored is True
    assert not AuditLog.objects.exists()


def test_unmonitored_service_cannot_go_into_production(api, site):
    service = ServiceFactory(site=site, production=False, monitored=False)
    response = api("PUT", f"v5/service/{service.pk}/production", {"value": True})
    assert_error(response, 403, "A production service must be monitored")
    assert Service.objects.get(pk=service.pk).production is False


def test_monitoring_exempt_types_may_be_unmonitored_in_production(api, site):
    service = ServiceFactory(site=site, service_type=service_type("VOMS"))
    assert_ok(api("PUT", f"v5/service/{service.pk}/monitored", {"value": False}))
    assert Service.objects.get(pk=service.pk).monitored is False


def test_hostname_taken_at_another_site_is_409(api, service):
    ServiceFactory(hostname="taken.example.org", service_type=service.service_type)
    response = api("PUT", f"v5/service/{service.pk}/hostname", {"value": "taken.example.org"})
    assert_error(response, 409, "service named taken.example.org already exists")


def test_delete_of_a_service_field(api, service):
    assert_error(
        api("DELETE", f"v5/service/{service.pk}/url", {"value": "https://x.example.org/"}),
        405,
        '"DELETE" is not currently a supported request method for altering service\'s url',
    )
    assert_error(api("DELETE", f"v5/service/{service.pk}/url"), 400, "only supports deleting without specifying values")


def test_service_field_with_a_key_segment_is_400(api, service):
    response = api("PUT", f"v5/service/{service.pk}/hostname/extra", {"value": "a.example.org"})
    assert_error(response, 400, "only supports specifying a key (5th URL element)")


def test_service_with_legacy_invalid_data_gets_a_clear_400(api, service):
    """full_clean() runs over the whole service: a stored value that no longer validates is reported."""
    Service.objects.filter(pk=service.pk).update(email="not-an-address")
    response = api("PUT", f"v5/service/{service.pk}/beta", {"value": True})
    assert_error(response, 400, "email:")
    assert Service.objects.get(pk=service.pk).beta is False


# ---------------------------------------------------------------- the endpoints of a service


def test_post_endpoint_with_case_insensitive_keys_and_defaults(api, site, owner):
    service = ServiceFactory(site=site, production=False, monitored=False)
    body = {"Name": "api", "URL": "https://api.example.org:5000/v3", "Description": "Identity"}
    assert_ok(api("POST", f"v5/service/{service.pk}/endpoint", body))
    endpoint = service.endpoints.get()
    assert (endpoint.name, endpoint.url, endpoint.description) == ("api", body["URL"], "Identity")
    assert endpoint.interface_name == service.service_type.name
    assert endpoint.monitored is False
    row = AuditLog.objects.get()
    assert row.action == "create" and row.user == owner and row.object_id == endpoint.pk


def test_post_endpoint_monitoring_defaults_to_the_services(api, service):
    assert_ok(api("POST", f"v5/service/{service.pk}/endpoint", {"name": "api", "url": "https://a.example.org"}))
    assert service.endpoints.get().monitored is True


def test_post_endpoint_with_every_field(api, service):
    body = {
        "name": "swift",
        "url": "https://s.example.org/v1",
        "interfacename": "org.openstack.swift",
        "description": "Object store",
        "email": "ops@example.org",
        "monitored": False,
    }
    assert_ok(api("POST", f"v5/service/{service.pk}/endpoint", body))
    endpoint = service.endpoints.get()
    assert (endpoint.interface_name, endpoint.email, endpoint.monitored) == (
        "org.openstack.swift",
        body["email"],
        False,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "https://a.example.org"}, "A name must be specified when adding new endpoints."),
        ({"name": "", "url": "https://a.example.org"}, "is not valid"),
        ({"name": "x"}, "A URL must be specified when adding new endpoints."),
        ({"name": "x", "url": ""}, "A URL must be specified when adding new endpoints."),
        ({"name": "x", "url": "https://a.example.org", "colour": "red"}, '"colour" is not an endpoint field'),
        ({"name": "x", "NAME": "y", "url": "https://a.example.org"}, 'The endpoint field "name" is given twice'),
        ({"name": "x", "url": "https://a.example.org", "monitored": "yes"}, "must be a JSON boolean"),
        ({"name": "x", "url": "https://a.example.org/<script>"}, "is not valid"),
        ({"name": "bad/name", "url": "https://a.example.org"}, "is not valid"),
        ({"name": "x", "url": "https://a.example.org", "description": "a;b"}, "is not valid"),
        ({"name": "x\u0000", "url": "https://a.example.org"}, "contains a control character"),
    ],
)
def test_invalid_endpoint_bodies_are_400(api, service, body, message):
    assert_error(api("POST", f"v5/service/{service.pk}/endpoint", body), 400, message)
    assert not service.endpoints.exists()


def test_post_endpoint_with_an_existing_name_is_409(api, service, endpoint):
    response = api("POST", f"v5/service/{service.pk}/endpoint", {"name": "main", "url": "https://b.example.org"})
    assert_error(response, 409, f"An endpoint named main already exists for the {service.hostname} service.")
    assert service.endpoints.count() == 1


def test_put_endpoint_updates_by_name(api, service, endpoint):
    url = endpoint.url
    assert_ok(api("PUT", f"v5/service/{service.pk}/endpoint", {"NAME": "main", "description": "Updated"}))
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.url) == ("Updated", url)
    assert service.endpoints.count() == 1
    assert AuditLog.objects.get().action == "update"


def test_put_endpoint_creates_when_the_name_is_new(api, service, endpoint):
    assert_error(api("PUT", f"v5/service/{service.pk}/endpoint", {"name": "other"}), 400, "A URL must be specified")
    assert_ok(api("PUT", f"v5/service/{service.pk}/endpoint", {"name": "other", "url": "https://o.example.org"}))
    assert sorted(service.endpoints.values_list("name", flat=True)) == ["main", "other"]


def test_endpoint_body_with_a_key_segment_is_400(api, service):
    response = api("POST", f"v5/service/{service.pk}/endpoint/5", {"name": "x", "url": "https://a.example.org"})
    assert_error(response, 400, "only supports specifying a key (5th URL element)")


def test_delete_endpoint(api, service, endpoint, owner):
    assert_ok(api("DELETE", f"v5/service/{service.pk}/endpoint/{endpoint.pk}"))
    assert not EndpointLocation.objects.filter(pk=endpoint.pk).exists()
    row = AuditLog.objects.get()
    assert row.action == "delete" and row.user == owner and row.object_id == endpoint.pk


def test_delete_endpoint_errors(api, site, service, endpoint):
    elsewhere = EndpointFactory(service=ServiceFactory(site=site))
    path = f"v5/service/{service.pk}/endpoint"
    assert_error(api("DELETE", f"{path}/987654"), 404, "An endpoint with the specified ID could not be found")
    assert_error(api("DELETE", f"{path}/{'9' * 25}"), 404, "could not be found")
    assert_error(api("DELETE", f"{path}/{elsewhere.pk}"), 400, "does not belong to the service specified")
    assert_error(api("DELETE", f"{path}/abc"), 400, "The ID of the endpoint must be an integer.")
    assert_error(api("DELETE", path), 400, "The ID of the endpoint must be specified.")
    assert_error(api("DELETE", f"{path}/{endpoint.pk}", {"name": "main"}), 400, "no request body")
    assert EndpointLocation.objects.filter(pk__in=[endpoint.pk, elsewhere.pk]).count() == 2
    assert not AuditLog.objects.exists()


# ---------------------------------------------------------------- endpoint fields

ENDPOINT_VALUES = [
    ("name", "renamed endpoint", "name"),
    ("url", "https://e.example.org:9000/v2", "url"),
    ("interfacename", "org.openstack.swift", "interface_name"),
    ("description", "Object storage", "description"),
    ("email", "ops@example.org", "email"),
    ("monitored", True, "monitored"),
]


@pytest.mark.parametrize(("prop", "value", "field"), ENDPOINT_VALUES)
def test_put_endpoint_fields(api, endpoint, owner, prop, value, field):
    assert_ok(api("PUT", f"v5/endpoint/{endpoint.pk}/{prop}", {"value": value}))
    endpoint.refresh_from_db()
    assert getattr(endpoint, field) == value
    row = AuditLog.objects.get()
    assert row.user == owner and row.content_type.model == "endpointlocation" and row.after[field] == value


def test_post_endpoint_fields(api, endpoint):
    assert_ok(api("POST", f"v5/endpoint/{endpoint.pk}/description", {"value": "Now described"}))
    assert_error(api("POST", f"v5/endpoint/{endpoint.pk}/description", {"value": "x"}), 409, "already been set")
    assert_error(api("POST", f"v5/endpoint/{endpoint.pk}/name", {"value": "x"}), 409, "name has already been set")
    assert_error(api("POST", f"v5/endpoint/{endpoint.pk}/monitored", {"value": True}), 405, "boolean values")
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.description) == ("main", "Now described")


def test_endpoint_name_unique_within_its_service(api, service, endpoint):
    EndpointFactory(service=service, name="taken")
    response = api("PUT", f"v5/endpoint/{endpoint.pk}/name", {"value": "taken"})
    assert_error(response, 409, "Please provide a unique name for this endpoint.")
    assert EndpointLocation.objects.get(pk=endpoint.pk).name == "main"


def test_endpoint_name_may_repeat_across_services(api, endpoint):
    EndpointFactory(name="shared")
    assert_ok(api("PUT", f"v5/endpoint/{endpoint.pk}/name", {"value": "shared"}))


def test_clearing_the_interface_name_restores_the_default(api, endpoint):
    assert_ok(api("PUT", f"v5/endpoint/{endpoint.pk}/interfacename", {"value": ""}))
    endpoint.refresh_from_db()
    assert endpoint.interface_name == endpoint.service.service_type.name


@pytest.mark.parametrize(
    ("prop", "value"),
    [("name", "bad/name"), ("name", ""), ("url", "https://a b"), ("monitored", "false"), ("email", "x@")],
)
def test_invalid_endpoint_values_are_400(api, endpoint, prop, value):
    assert api("PUT", f"v5/endpoint/{endpoint.pk}/{prop}", {"value": value}).status_code == 400
    assert not AuditLog.objects.exists()


def test_delete_of_an_endpoint_field_is_405(api, endpoint):
    response = api("DELETE", f"v5/endpoint/{endpoint.pk}/url", {"value": "https://x.example.org/"})
    assert_error(response, 405, "request method for altering endpoint's url")


def test_unsupported_endpoint_property_is_501(api, endpoint):
    assert_error(api("PUT", f"v5/endpoint/{endpoint.pk}/service", {"value": "1"}), 501, "Updating a endpoint's service")


# ---------------------------------------------------------------- every successful write is audited


def _successes():
    calls = []
    for kind in ("site", "service", "endpoint"):
        base = f"{kind}/{{{kind}}}/extensionproperties"
        calls += [
            ("POST", base, {"new": "1"}),
            ("PUT", base, {"a": "2"}),
            ("DELETE", base, {"a": "1"}),
            ("DELETE", base, None),
            ("POST", base + "/new", {"value": "1"}),
            ("PUT", base + "/a", {"value": "2"}),
            ("DELETE", base + "/a", None),
        ]
    return calls + [
        ("PUT", "service/{service}/hostname", {"value": "renamed.example.org"}),
        ("POST", "service/{service}/url", {"value": "https://x.example.org/"}),
        ("PUT", "service/{service}/beta", {"value": True}),
        ("POST", "service/{service}/endpoint", {"name": "new", "url": "https://x.example.org/"}),
        ("PUT", "service/{service}/endpoint", {"name": "main", "description": "Updated"}),
        ("PUT", "service/{service}/endpoint", {"name": "other", "url": "https://o.example.org/"}),
        ("DELETE", "service/{service}/endpoint/{endpoint}", None),
        ("PUT", "endpoint/{endpoint}/name", {"value": "renamed"}),
        ("POST", "endpoint/{endpoint}/description", {"value": "Described"}),
        ("PUT", "endpoint/{endpoint}/monitored", {"value": True}),
    ]


@pytest.mark.parametrize(("method", "path", "body"), _successes())
def test_every_successful_write_is_audited(api, site, service, endpoint, owner, method, path, body):
    for obj in (site, service, endpoint):
        obj.properties.create(key="a", value="1")
    path = "v5/" + path.format(site=site.pk, service=service.pk, endpoint=endpoint.pk)
    response = api(method, path, body)
    assert_ok(response)
    rows = list(AuditLog.objects.all())
    assert rows, f"{method} {path} wrote no audit row"
    assert all(row.user == owner and str(row.request_id) == response["X-Request-ID"] for row in rows)


def test_a_user_without_credentials_is_never_the_actor(client, site):
    """A plain user with a role but no credential, logged in or not, cannot write through the API."""
    user = UserFactory()
    grant(user, "SITE_ADMIN", site)
    client.force_login(user)
    response = send(client, "POST", f"v5/site/{site.pk}/extensionproperties", {"a": "1"})
    assert_error(response, 403)
    assert not AuditLog.objects.exists()


@override_settings(PI_CLIENT_DN_HEADER="X-SSL-Client-S-DN", PI_OIDC_SUBJECT_HEADER="X-OIDC-Subject")
@pytest.mark.parametrize("header", ["X-SSL-Client-S-DN", "X-OIDC-Subject"])
@pytest.mark.parametrize("value", ["/CN=a\x00b", "\x00", "CN=x\\00y", "/CN=" + "x" * 5000, "\ud800"])
def test_hostile_identity_headers_are_refused(client, site, header, value):
    response = send(client, "PUT", f"v5/site/{site.pk}/extensionproperties", {"a": "1"}, headers={header: value})
    assert_error(response, 403)
    assert props(site) == {}


@pytest.mark.parametrize("field, value", [("url", "ftp//broken"), ("host_ip", "300.1.1.1")])
def test_service_values_of_the_right_characters_but_no_meaning_are_400(api, service, field, value):
    response = api("PUT", f"v5/service/{service.pk}/{field}", {"value": value})
    assert_error(response, 400, "is not valid")
    service.refresh_from_db()
    assert value not in (service.url, service.ip_address)
