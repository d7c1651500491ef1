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
