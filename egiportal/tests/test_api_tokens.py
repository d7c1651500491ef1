"""Personal API tokens: the model (digest only, prefix, expiry, revocation, lookup), the REST API
authentication, read-only permission and rate limiting classes (through real DRF views called with
APIRequestFactory requests), and the browser pages on which users create and revoke their tokens."""

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from egiportal import services
from egiportal.api.authentication import TokenAuthentication
from egiportal.api.permissions import TokenWritePermission
from egiportal.api.throttling import TokenRateThrottle
from egiportal.choices import AuditAction
from egiportal.models import APIToken, AuditLog
from egiportal.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

factory = APIRequestFactory()
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


@api_view(ALL_METHODS)
@authentication_classes([TokenAuthentication, SessionAuthentication])
@permission_classes([IsAuthenticated, TokenWritePermission])
@throttle_classes([TokenRateThrottle])
def whoami(request):
    """A protected endpoint: who is calling, with which token."""
    return Response({"user": request.user.username, "token": getattr(request.auth, "pk", None)})


@api_view(["GET"])
@authentication_classes([TokenAuthentication, SessionAuthentication])
@permission_classes([AllowAny])
@throttle_classes([TokenRateThrottle])
def public(request):
    return Response({"ok": True})


@pytest.fixture(autouse=True)
def private_cache(settings):
    """A cache of this test alone, so throttling budgets never leak between tests (nor touch Redis)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tokens"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner():
    return UserFactory(username="owner")


@pytest.fixture
def other():
    return UserFactory(username="other")


def issue(user, write=False, expires=None, description="CI robot"):
    """A token of `user` made through the service, and its secret."""
    return services.create_api_token(user, description, expires, write)


def call(view, method="GET", auth=None, user=None, address="127.0.0.1", **headers):
    """Call a DRF function view with an Authorization header, or as a logged-in (session) user."""
    headers = {"HTTP_AUTHORIZATION": auth, **headers} if auth is not None else headers
    request = getattr(factory, method.lower())("/api/v1/", REMOTE_ADDR=address, **headers)
    if user is not None:
        request.user = user  # what AuthenticationMiddleware sets from the session
    request._dont_enforce_csrf_checks = True
    return view(request)


def drf_request(method="GET", auth=None):
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    return Request(getattr(factory, method.lower())("/api/v1/", **headers))


def stored_values(token):
    return [str(v) for v in APIToken.objects.filter(pk=token.pk).values().first().values()]


# --- the model --------------------------------------------------------------------------------------


def test_only_an_hmac_digest_and_a_short_prefix_are_stored(owner, settings):
    token, secret = issue(owner)
    assert secret.startswith("egit_") and len(secret) > 40
    expected = hmac.new(settings.SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()
    assert token.digest == expected and len(token.digest) == 64
    assert token.digest != hashlib.sha256(secret.encode()).hexdigest()  # keyed, not a plain hash
    assert token.prefix == secret[:10] + "…"
    assert not any(secret in value for value in stored_values(token))
    assert str(token) == f"API token {token.prefix}"
    second, other_secret = issue(owner)
    assert other_secret != secret and second.digest != token.digest


def test_for_secret_returns_usable_tokens_only(owner):
    usable, secret = issue(owner, expires=timezone.now() + timedelta(days=1))
    never, never_secret = issue(owner)
    revoked, revoked_secret = issue(owner)
    services.revoke_api_token(owner, revoked)
    expired, expired_secret = issue(owner, expires=timezone.now() + timedelta(days=1))
    APIToken.objects.filter(pk=expired.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert APIToken.objects.for_secret(secret) == usable and usable.is_usable
    assert APIToken.objects.for_secret(never_secret) == never
    assert APIToken.objects.for_secret(revoked_secret) is None
    assert APIToken.objects.for_secret(expired_secret) is None
    assert APIToken.objects.for_secret(secret + "x") is None
    assert APIToken.objects.for_secret(secret.upper()) is None
    assert set(APIToken.objects.usable()) == {usable, never}
    assert APIToken.objects.get(pk=revoked.pk).is_usable is False
    assert APIToken.objects.get(pk=expired.pk).is_usable is False


@pytest.mark.parametrize("secret", ["", None, 12345, "egit_" + "a" * 196, "x" * 100_000])
def test_empty_odd_or_oversized_secrets_are_refused_without_a_query(owner, secret, django_assert_num_queries):
    issue(owner)
    with django_assert_num_queries(0):
        assert APIToken.objects.for_secret(secret) is None


def test_a_new_secret_key_invalidates_every_token(owner, settings):
    _, secret = issue(owner)
    settings.SECRET_KEY = "another secret key " * 3
    assert APIToken.objects.for_secret(secret) is None


def test_touch_records_use_at_most_once_a_minute(owner, django_assert_num_queries):
    token, _ = issue(owner)
    with django_assert_num_queries(1):
        token.touch()
    first = APIToken.objects.get(pk=token.pk).last_used
    assert first is not None
    with django_assert_num_queries(0):
        token.touch()
    APIToken.objects.filter(pk=token.pk).update(last_used=first - timedelta(minutes=2))
    token.refresh_from_db()
    with django_assert_num_queries(1):
        token.touch()
    assert APIToken.objects.get(pk=token.pk).last_used > first - timedelta(minutes=2)


def test_deleting_a_user_deletes_their_tokens(owner, other):
    issue(owner)
    kept, _ = issue(other)
    owner.delete()
    assert list(APIToken.objects.all()) == [kept]


def test_the_services_refuse_bad_requests(owner, other):
    with pytest.raises(ValidationError, match="in the future"):
        issue(owner, expires=timezone.now() - timedelta(minutes=1))
    for nobody in (None, UserFactory(is_active=False)):
        with pytest.raises(PermissionDenied):
            issue(nobody)
    token, _ = issue(owner)
    with pytest.raises(PermissionDenied, match="only your own"):
        services.revoke_api_token(other, token)
    with pytest.raises(ValidationError, match="description"):
        issue(owner, description="x" * 201)
    assert APIToken.objects.count() == 1 and APIToken.objects.get().revoked is None
    assert AuditLog.objects.filter(content_type__model="apitoken").count() == 1
    APIToken.objects.all().delete()
    with pytest.raises(ValidationError, match="no longer exists"):
        services.revoke_api_token(owner, token)


# --- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "token", "BEARER"])
def test_token_and_bearer_headers_authenticate_as_the_owner(owner, keyword):
    token, secret = issue(owner)
    response = call(whoami, auth=f"{keyword} {secret}")
    assert response.status_code == 200
    assert response.data == {"user": "owner", "token": token.pk}
    assert APIToken.objects.get(pk=token.pk).last_used is not None


def test_authenticate_returns_the_user_and_the_token(owner):
    token, secret = issue(owner)
    user, auth = TokenAuthentication().authenticate(drf_request(auth=f"Token {secret}"))
    assert user == owner and auth == token
    assert TokenAuthentication().authenticate_header(drf_request()) == "Token"


def revoked_secret(user):
    token, secret = issue(user)
    services.revoke_api_token(user, token)
    return secret


def expired_secret(user):
    token, secret = issue(user, expires=timezone.now() + timedelta(days=1))
    APIToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(seconds=1))
    return secret


def inactive_user_secret(user):
    _, secret = issue(user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    return secret


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


REFUSED = [
    ("unknown token", lambda u: "Token egit_" + "A" * 43, "Unknown or revoked token."),
    ("unknown bearer token", lambda u: "Bearer egit_" + "A" * 43, "Unknown or revoked token."),
    ("unknown site token", lambda u: "Bearer egip_" + "A" * 43, "Unknown or revoked token."),
    ("not a token at all", lambda u: "Token hunter2", "Unknown or revoked token."),
    ("oversized", lambda u: "Token " + "a" * 100_000, "Unknown or revoked token."),
    ("revoked", lambda u: "Token " + revoked_secret(u), "Unknown or revoked token."),
    ("revoked bearer", lambda u: "Bearer " + revoked_secret(u), "Unknown or revoked token."),
    ("revoked basic", lambda u: basic("argo", revoked_secret(u)), "Unknown or revoked token."),
    ("expired", lambda u: "Token " + expired_secret(u), "Expired token"),
    ("inactive user", lambda u: "Bearer " + inactive_user_secret(u), "The account of this token is disabled."),
    ("no value", lambda u: "Token", "the token is missing"),
    ("spaces", lambda u: "Token egit_a egit_b", "without spaces"),
    ("bearer with spaces", lambda u: "Bearer egit_a b", "without spaces"),
    ("not ascii", lambda u: "Token egit_é", "printable ASCII"),
    ("basic not base64", lambda u: "Basic %%%", "Invalid Basic authorization header"),
    ("basic without colon", lambda u: "Basic " + base64.b64encode(b"egit_x").decode(), "Invalid Basic"),
    ("basic not utf-8", lambda u: "Basic " + base64.b64encode(b"\xff:egit_x").decode(), "Invalid Basic"),
    ("basic empty", lambda u: "Basic", "Invalid Basic authorization header"),
    ("basic unknown token", lambda u: basic("", "egit_" + "B" * 43), "Unknown or revoked token."),
]


@pytest.mark.parametrize("header, message", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_bad_tokens_are_refused_with_401_and_www_authenticate(owner, header, message):
    value = header(owner)
    # Even on an open endpoint a bad token is an error, not an anonymous request.
    for view in (whoami, public):
        response = call(view, "GET", auth=value)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert message in str(response.data["detail"])


@pytest.mark.parametrize(
    "header",
    [
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2ln",  # a Check-in access token
        "Bearer",
        "Basic b3duZXI6cHc=",
        "",
    ],
)
def test_other_credentials_are_left_to_other_authentication_classes(owner, header):
    issue(owner)
    assert TokenAuthentication().authenticate(drf_request(auth=header)) is None
    response = call(whoami, auth=header)
    assert response.status_code == 401
    assert response.data["detail"] == "Authentication credentials were not provided."
    assert call(public, auth=header).status_code == 200


def test_sessions_still_authenticate_without_a_token(owner):
    response = call(whoami, user=owner)
    assert response.status_code == 200 and response.data == {"user": "owner", "token": None}


# --- read-only tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_read_only_tokens_are_refused_on_writes(owner, method):
    _, secret = issue(owner, write=False)
    response = call(whoami, method, auth=f"Token {secret}")
    assert response.status_code == 403
    assert response.data["detail"].startswith("Read-only token")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_read_only_tokens_may_read(owner, method):
    _, secret = issue(owner, write=False)
    assert call(whoami, method, auth=f"Bearer {secret}").status_code == 200


@pytest.mark.parametrize("method", ALL_METHODS)
def test_write_enabled_tokens_and_sessions_may_write(owner, method):
    _, secret = issue(owner, write=True)
    assert call(whoami, method, auth=f"Token {secret}").status_code == 200
    assert call(whoami, method, user=owner).status_code == 200


def test_the_permission_concerns_only_api_tokens(owner):
    read_only, _ = issue(owner, write=False)
    writer, _ = issue(owner, write=True)
    permission = TokenWritePermission()
    cases = [("POST", read_only, False), ("DELETE", read_only, False), ("GET", read_only, True)]
    cases += [("PATCH", writer, True), ("PUT", None, True), ("POST", "a Check-in token", True)]
    for method, auth, allowed in cases:
        request = drf_request(method)
        request.auth = auth
        assert permission.has_permission(request, None) is allowed, (method, auth)


# --- rate limiting ----------------------------------------------------------------------------------


@pytest.fixture
def three_a_minute(settings):
    settings.API_RATE_LIMIT = "3/min"


def test_the_fourth_request_in_a_minute_gets_429_with_retry_after(owner, three_a_minute):
    _, secret = issue(owner)
    for _ in range(3):
        assert call(whoami, auth=f"Token {secret}").status_code == 200
    response = call(whoami, auth=f"Token {secret}")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "throttled" in str(response.data["detail"])


def test_every_token_session_and_client_address_has_its_own_budget(owner, other, three_a_minute):
    (_, first), (_, second) = issue(owner), issue(owner)
    for _ in range(3):
        call(whoami, auth=f"Token {first}")
    assert call(whoami, auth=f"Token {first}").status_code == 429
    assert call(whoami, auth=f"Bearer {first}").status_code == 429  # same token, other header form
    for _ in range(3):
        assert call(whoami, auth=f"Token {second}").status_code == 200
        assert call(whoami, user=owner).status_code == 200
        assert call(public, address="192.0.2.1").status_code == 200
    assert call(whoami, auth=f"Token {second}").status_code == 429
    assert call(whoami, user=owner).status_code == 429
    assert call(public, address="192.0.2.1").status_code == 429
    assert call(whoami, user=other).status_code == 200
    assert call(public, address="192.0.2.2").status_code == 200


def test_a_forwarded_for_header_from_the_client_buys_no_new_budget(settings, three_a_minute):
    for number in range(3):
        assert call(public, address="192.0.2.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}").status_code == 200
    assert call(public, address="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429
    # Behind the TLS proxy, the address it appended is the client's.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    forwarded = "192.0.2.1, 203.0.113.7"  # the client's own claim, then what the proxy saw
    for _ in range(3):
        assert call(public, address="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code == 200
    assert call(public, address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert call(public, address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200


def test_cache_keys_name_the_token_the_user_or_the_address(owner):
    token, _ = issue(owner)
    throttle = TokenRateThrottle()
    request = drf_request()
    request.user, request.auth = owner, token
    assert throttle.get_cache_key(request, None) == f"throttle_api_token-{token.pk}"
    request.auth = None
    assert throttle.get_cache_key(request, None) == f"throttle_api_user-{owner.pk}"
    anonymous = Request(factory.get("/api/v1/", REMOTE_ADDR="198.51.100.7"))
    assert throttle.get_cache_key(anonymous, None) == "throttle_api_anon-198.51.100.7"


def test_the_rate_comes_from_settings(settings):
    settings.API_RATE_LIMIT = "5/hour"
    assert (TokenRateThrottle().num_requests, TokenRateThrottle().duration) == (5, 3600)
    settings.API_RATE_LIMIT = "1200/min"
    assert (TokenRateThrottle().num_requests, TokenRateThrottle().duration) == (1200, 60)
    settings.API_RATE_LIMIT = ""
    assert TokenRateThrottle().allow_request(drf_request(), None) is True
    for bad in ["lots", "5", "5/", "5/fortnight", "x/min"]:
        settings.API_RATE_LIMIT = bad
        with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
            TokenRateThrottle()


# --- browser pages ----------------------------------------------------------------------------------

LIST = reverse("api_tokens")


def as_user(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def revoke_url(token):
    return reverse("api_token_revoke", args=[token.pk])


def is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def issued_secret(response):
    """The token secret on the page shown after creating a token."""
    return response.content.decode().split('id="token"')[1].split('value="')[1].split('"')[0]


def audit_rows(token):
    return list(AuditLog.objects.filter(content_type__model="apitoken", object_id=token.pk).order_by("id"))


def create(client, **data):
    return client.post(LIST, {"description": "Nightly sync", "expiry": "90", **data})


def test_anonymous_users_are_sent_to_log_in_and_change_nothing(owner):
    token, _ = issue(owner)
    client = Client()
    assert is_login_redirect(client.get(LIST))
    assert is_login_redirect(create(client))
    assert is_login_redirect(client.get(revoke_url(token)))
    assert is_login_redirect(client.post(revoke_url(token)))
    assert APIToken.objects.count() == 1 and APIToken.objects.get().revoked is None


def test_users_see_and_revoke_only_their_own_tokens(owner, other):
    mine, _ = issue(owner, description="Mine")
    theirs, _ = issue(other, description="Theirs")
    client = as_user(owner)
    page = client.get(LIST).content.decode()
    assert mine.prefix in page and "Mine" in page
    assert theirs.prefix not in page and "Theirs" not in page
    assert client.get(revoke_url(theirs)).status_code == 404
    assert client.post(revoke_url(theirs)).status_code == 404
    assert APIToken.objects.get(pk=theirs.pk).revoked is None and len(audit_rows(theirs)) == 1
    assert client.get(reverse("api_token_revoke", args=[999999])).status_code == 404


def test_the_nav_links_to_the_tokens_page(owner):
    assert f'href="{LIST}"' in as_user(owner).get(reverse("home")).content.decode()


def test_a_new_token_is_shown_once_and_only_its_digest_is_kept(owner, settings):
    client = as_user(owner)
    response = create(client, write_enabled="on")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = issued_secret(response)
    assert secret.startswith("egit_") and page.count(secret) == 1
    assert "this is the only time it is shown" in page
    assert f'curl -H "Authorization: Token &lt;token&gt;" {settings.PORTAL_URL}/api/v1/' in page
    token = APIToken.objects.get()
    assert token.user == owner and token.write_enabled and token.description == "Nightly sync"
    assert token.digest == APIToken.digest_of(secret) and token.prefix == secret[:10] + "…"
    assert not any(secret in value for value in stored_values(token))
    assert secret not in str(dict(client.session.items()))
    listing = client.get(LIST).content.decode()
    assert secret not in listing and token.prefix in listing
    # The browser-made token works against the API, as its owner.
    assert call(whoami, "POST", auth=f"Token {secret}").data == {"user": "owner", "token": token.pk}


def test_creating_is_audited_without_the_digest(owner):
    create(as_user(owner))
    token = APIToken.objects.get()
    (row,) = audit_rows(token)
    assert row.action == AuditAction.CREATE and row.user == owner and row.message == "API token created"
    assert row.before is None
    assert row.after == {
        "user": "owner",
        "description": "Nightly sync",
        "prefix": token.prefix,
        "write_enabled": False,
        "expires": token.expires.isoformat(),
        "revoked": None,
    }
    assert token.digest not in str(row.after) and token.digest not in row.object_repr


@pytest.mark.parametrize("choice, days", [("30", 30), ("90", 90), ("365", 365), ("never", None)])
def test_the_expiry_choices(owner, choice, days):
    before = timezone.now()
    create(as_user(owner), expiry=choice)
    token = APIToken.objects.get()
    assert token.write_enabled is False
    if days is None:
        assert token.expires is None
    else:
        assert before + timedelta(days=days) <= token.expires <= timezone.now() + timedelta(days=days)


def test_revoking_asks_first_then_revokes_and_audits(owner):
    token, secret = issue(owner)
    client = as_user(owner)
    confirm = client.get(revoke_url(token))
    assert confirm.status_code == 200 and token.prefix in confirm.content.decode()
    assert APIToken.objects.get(pk=token.pk).revoked is None
    response = client.post(revoke_url(token), follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    assert f"Revoked {token.prefix}" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked is not None and not token.is_usable
    _, row = audit_rows(token)
    assert row.action == AuditAction.UPDATE and row.message == "API token revoked" and row.user == owner
    assert row.before["revoked"] is None and row.after["revoked"] == token.revoked.isoformat()
    assert token.digest not in str(row.before) + str(row.after)
    # Refused from now on; the list marks it and offers no second revocation.
    assert call(whoami, auth=f"Token {secret}").status_code == 401
    page = client.get(LIST).content.decode()
    assert ">revoked " in page and revoke_url(token) not in page
    again = client.post(revoke_url(token), follow=True)
    assert "This API token is already revoked." in again.content.decode()
    assert len(audit_rows(token)) == 2


def test_expired_tokens_are_marked(owner):
    expired_secret(owner)
    token, _ = issue(owner)
    page = as_user(owner).get(LIST).content.decode()
    assert page.count(">expired<") == 1 and revoke_url(token) in page


def test_writes_need_the_csrf_token(owner):
    token, _ = issue(owner)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert create(client).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    assert APIToken.objects.count() == 1 and APIToken.objects.get().revoked is None


HOSTILE = [
    ({"description": ""}, "description", "This field is required."),
    ({"description": "   "}, "description", "This field is required."),
    ({"description": "d" * 201}, "description", "at most 200 characters"),
    ({"description": "d" * 100_000}, "description", "at most 200 characters"),
    ({"description": "<script>alert(1)</script>"}, "description", "are not allowed"),
    ({"description": "robot'; DROP TABLE egiportal_apitoken; --"}, "description", "are not allowed"),
    ({"description": "two\nlines"}, "description", "single line"),
    ({"description": "bell\x07"}, "description", "single line"),
    ({"description": "nul\x00byte"}, "description", "Null characters"),
    ({"description": "evil\u202etxt.exe"}, "description", "single line"),
    ({"description": "zero\u200bwidth"}, "description", "single line"),
    ({"expiry": ""}, "expiry", "This field is required."),
    ({"expiry": "7"}, "expiry", "Select a valid choice"),
    ({"expiry": "-30"}, "expiry", "Select a valid choice"),
    ({"expiry": "36500"}, "expiry", "Select a valid choice"),
    ({"expiry": "never' OR 1=1"}, "expiry", "Select a valid choice"),
    ({"expiry": "9" * 10_000}, "expiry", "Select a valid choice"),
]


@pytest.mark.parametrize("data, field, message", HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_or_oversized_input_is_a_form_error_and_saves_nothing(owner, data, field, message):
    response = create(as_user(owner), write_enabled="on", **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors[field]
    assert "<script>alert(1)" not in response.content.decode()
    assert 'id="token"' not in response.content.decode()
    assert not APIToken.objects.exists() and not AuditLog.objects.filter(content_type__model="apitoken")


def count_queries(client, target):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(target)
    assert response.status_code == 200
    return len(captured)


def test_the_tokens_page_query_count_does_not_grow_with_tokens(owner, other):
    client = as_user(owner)
    issue(owner)
    few = count_queries(client, LIST)
    for i in range(10):
        issue(owner, write=bool(i % 2), description=f"robot {i}")
        expired_secret(owner)
        revoked_secret(owner)
        issue(other)
    page = client.get(LIST).content.decode()
    assert page.count("<code>egit_") == 31 and page.count(">expired<") == 10
    assert count_queries(client, LIST) == few
