"""Test-wide fixtures. With CI=true the real services are required: a missing one fails the run."""

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_sessionstart(session):
    if not IN_CI:
        return
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(f"CI=true but {', '.join(missing)} not set: PostgreSQL and Redis are required in CI")
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("CI=true requires PostgreSQL as the test database")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Factories hash a password per user; the deliberately slow default hasher dominated test time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _local_op(redirect_uris, post_logout_uris):
    """A LocalOP (start it with `with`); when node or its packages are missing: fail under CI=true, else skip."""
    from egiportal.testing_oidc import LocalOP, unavailable_reason

    reason = unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but the local OpenID provider cannot run: {reason}")
        pytest.skip(reason)
    return LocalOP(redirect_uris=redirect_uris, post_logout_uris=post_logout_uris)


@pytest.fixture(scope="session")
def oidc_op(live_server):
    """The local OP with the live server's /oidc/callback/ registered, for end-to-end login tests."""
    with _local_op([f"{live_server.url}/oidc/callback/"], [f"{live_server.url}/"]) as op:
        yield op


@pytest.fixture(scope="session")
def oidc_op_standalone():
    """A local OP for token-only tests: nobody listens on its redirect URI, LocalOP.tokens() never fetches it."""
    with _local_op(["http://127.0.0.1:9/oidc/callback/"], ["http://127.0.0.1:9/"]) as op:
        yield op


def use_provider(settings, op):
    """Point the portal at a local provider as at Check-in: the issuer and the client, nothing else."""
    settings.OIDC_OP_ISSUER = op.issuer
    settings.OIDC_RP_CLIENT_ID = op.client_id
    settings.OIDC_RP_CLIENT_SECRET = op.client_secret
    return op


@pytest.fixture
def checkin(settings, oidc_op):
    """The portal configured for the local provider of the live server (login tests)."""
    return use_provider(settings, oidc_op)


@pytest.fixture
def checkin_api(settings, oidc_op_standalone):
    """The portal configured for a local provider that only issues tokens (API tests)."""
    return use_provider(settings, oidc_op_standalone)
