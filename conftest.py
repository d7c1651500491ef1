"""Test-wide fixtures for every app: eager Celery tasks, a real Celery worker on Redis, the local OpenID
provider. With CI=true the real services are required: a missing one fails the run."""

import email
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() == "true"
WORKER_START_TIMEOUT = 60


def pytest_sessionstart(session):
    if not IN_CI:
        return
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(f"CI=true but {', '.join(missing)} not set: PostgreSQL and Redis are required in CI")
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
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


# ---------------------------------------------------------------- reference data

# The data migrations write (countries, scopes, service types, catalogue categories): a transactional
# test's flush removes it, so tests that need it after one (the demo loaders) load it again.
REFERENCE_DATA = (
    ("sites.migrations.0002_reference_data", "load"),
    ("endpoints.migrations.0002_service_types", "load"),
    ("appliances.migrations.0002_categories", "add"),
)


@pytest.fixture
def reference_data(db):
    from importlib import import_module

    from django.apps import apps

    for module, function in REFERENCE_DATA:
        getattr(import_module(module), function)(apps, None)  # each is idempotent (get_or_create)


# ---------------------------------------------------------------- Celery


def require_or_skip(condition, reason):
    """Skip when a real service is missing on a developer's machine; fail in CI, where it must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def shared_database_url(settings_dict):
    """A DATABASE_URL for the database pytest is using, or None when another process cannot share it."""
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        return None  # pytest-django's SQLite test database lives in this process's memory
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    host = settings_dict.get("HOST") or ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def _reset_producers(app):
    """Drop the app's cached broker connections so that a changed broker_url takes effect."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in this process (CI sets REDIS_URL, which otherwise makes them asynchronous)."""
    from egiportal.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def broker_down():
    """A context manager: inside it this process publishes tasks (not eagerly) to a Redis address where
    nothing listens, as during a Redis outage; on leaving, the broker and eager mode are as before."""
    from egiportal.celery import app

    @contextmanager
    def down():
        saved = app.conf.task_always_eager, app.conf.broker_url
        app.conf.task_always_eager, app.conf.broker_url = False, "redis://127.0.0.1:1/0"
        _reset_producers(app)
        try:
            yield
        finally:
            app.conf.task_always_eager, app.conf.broker_url = saved
            _reset_producers(app)

    return down


@dataclass
class Worker:
    """A running `celery worker` subprocess and where its e-mails land."""

    process: subprocess.Popen
    mail_dir: Path
    log_path: Path
    portal_url: str
    env: dict = field(repr=False)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def messages(self):
        """Every e-mail the worker has written so far, parsed."""
        found = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_text().split("-" * 79):
                if chunk.strip():
                    found.append(email.message_from_string(chunk.strip()))
        return found

    def kill(self):
        """SIGKILL the worker, as the kernel's OOM killer or a lost machine would: no warm shutdown, the
        message it is running stays unacknowledged."""
        self.process.kill()
        self.process.wait(timeout=10)

    def restart(self, pool="solo", **env):
        """Start a new worker in place of a stopped one, with the same mail directory and log; `env`
        overrides the worker's environment. The queue is not purged: messages waiting there are its work."""
        _stop(self.process)
        logged = len(self.log())
        self.process = _spawn(self.log_path, {**self.env, **env}, purge=False, pool=pool)
        _wait_until_ready(self, since=logged)
        return self

    def wait_for_messages(self, count=1, timeout=60):
        """Wait (bounded) until at least `count` complete e-mails are written; fail with the log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"The worker exited with {self.process.returncode}:\n{self.log()}")
            messages = self.messages()
            if len(messages) >= count and all(m.get_payload() for m in messages):
                return messages
            time.sleep(0.2)
        pytest.fail(f"No e-mail from the worker within {timeout} s. Worker log:\n{self.log()}")


def _start_worker(tmp_path, redis_url, database_url):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    portal_url = "https://portal.worker-test.example.org"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "egiportal.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PORTAL_URL": portal_url,
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    log_path = tmp_path / "worker.log"
    # --purge drops messages left in the queue by earlier runs, so only this test's tasks are seen.
    return Worker(_spawn(log_path, env, purge=True), mail_dir, log_path, portal_url, env)


def _spawn(log_path, env, purge, pool="solo"):
    celery = Path(sys.executable).with_name("celery")
    if not celery.exists():
        celery = Path(django_settings.BASE_DIR) / ".venv" / "bin" / "celery"
    command = [str(celery), "-A", "egiportal", "worker", f"--pool={pool}", "--concurrency=1"]
    command += ["--purge"] if purge else []
    command += ["--loglevel=INFO", "--without-gossip", "--without-mingle", "--hostname", f"roles-test-{os.getpid()}@%h"]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_until_ready(worker, since=0):
    """Wait until the worker logs that it is ready (after character `since` of the log: a restarted
    worker appends to the log of the one before)."""
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            pytest.fail(f"The worker exited with {worker.process.returncode}:\n{worker.log()}")
        if " ready." in worker.log()[since:]:
            return
        time.sleep(0.2)
    pytest.fail(f"The worker was not ready within {WORKER_START_TIMEOUT} s:\n{worker.log()}")


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A real Celery worker (solo pool) on REDIS_URL, reading pytest's PostgreSQL test database and
    writing e-mails to files. Tasks enqueued by this process go to it (not eager) while it runs.

    Depends on transactional_db so that rows are committed (the worker sees them) and so that the
    worker is stopped before the tables are flushed. An earlier transactional test may have flushed
    the rows that migrations seed (scopes, countries): tests using this fixture create what they need.
    """
    from egiportal.celery import app

    redis_url = os.environ.get("REDIS_URL", "")
    require_or_skip(redis_url, "REDIS_URL is not set: the real-worker test needs a Redis broker")
    database_url = shared_database_url(connection.settings_dict)
    require_or_skip(
        database_url,
        "the real-worker test needs PostgreSQL (DATABASE_URL=postgres://...): "
        "a worker process cannot share pytest's in-memory SQLite database",
    )
    worker = _start_worker(tmp_path, redis_url, database_url)
    saved = {key: getattr(app.conf, key) for key in ("task_always_eager", "broker_url")}
    try:
        _wait_until_ready(worker)
        app.conf.task_always_eager = False
        app.conf.broker_url = redis_url
        _reset_producers(app)
        yield worker
    finally:
        for key, value in saved.items():
            setattr(app.conf, key, value)
        _reset_producers(app)
        _stop(worker.process)
