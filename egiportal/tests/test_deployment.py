"""The production way to run the portal (README "Running in production"): the secret key rule, the
security settings behind the TLS proxy, `check --deploy`, the Content-Security-Policy, and
gunicorn.conf.py streaming an unpaged PI reply that outlasts the worker timeout."""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from lxml import etree

from conftest import require_or_skip, shared_database_url

ROOT = Path(settings.BASE_DIR)
README = (ROOT / "README.md").read_text()


def portal_env(**values):
    """The environment of a fresh portal process: none of this one's portal settings, then `values`."""
    names = set(re.findall(r"^\| `([A-Z_]+)`", README, re.MULTILINE)) | {"DEMO", "DEBUG", "SECRET_KEY"}
    env = {key: value for key, value in os.environ.items() if key not in names}
    return {**env, "DJANGO_SETTINGS_MODULE": "egiportal.settings", **values}


def run_python(code, **values):
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=portal_env(**values), capture_output=True, text=True, timeout=120
    )


def production_settings():
    """The environment file of the README's production section, with its placeholders filled in."""
    section = README.split("## Running in production", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    pairs = dict(line.split("=", 1) for line in block.splitlines() if line.strip())
    assert pairs["SECRET_KEY"].startswith("<")  # a placeholder: the README publishes no key
    return {**pairs, "SECRET_KEY": secrets.token_urlsafe(50)}


SHOW = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY == s.DEVELOPMENT_SECRET_KEY)"


def test_the_development_key_is_refused_outside_demo_and_debug_mode():
    refused = run_python(SHOW)
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr
    for mode in ({"DEMO": "true"}, {"DEBUG": "true"}):
        allowed = run_python(SHOW, **mode)
        assert allowed.returncode == 0, allowed.stderr
        assert allowed.stdout.strip() == "True"
    own = run_python(SHOW, SECRET_KEY=secrets.token_urlsafe(50))
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip() == "False"
    same = run_python(SHOW, SECRET_KEY="insecure-dev-key")  # naming the development key is no way round it
    assert same.returncode != 0


def test_behind_the_tls_proxy_https_is_enforced():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    behind = run_python(code, DEMO="true", BEHIND_TLS_PROXY="true")
    assert behind.stdout.strip().split(maxsplit=4) == [
        "True",
        "31536000",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO', 'https')",
    ]
    local = run_python(code.replace(", s.SECURE_PROXY_SSL_HEADER", ""), DEMO="true")
    assert local.stdout.split() == ["False", "0", "False", "False"]


def test_check_deploy_is_clean_with_the_readme_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=portal_env(**production_settings()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_https_redirect_and_hsts(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS = True, 31536000
    plain = client.get("/sites/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/sites/"
    assert client.get("/healthz").status_code != 301  # the probes speak plain http
    secure = client.get("/sites/", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/sites/", "/api/v1/", "/gocdbpi/public/?method=get_site_list", "/nowhere/"])
def test_every_response_carries_the_content_security_policy(client, path):
    response = client.get(path)
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_api_docs_need_no_inline_script(client):
    """Swagger UI's set-up script is served by the portal (a CSP of 'self' forbids inline scripts)."""
    page = client.get("/api/v1/docs/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", page), "an inline script would be blocked"
    assert client.get("/api/v1/docs/?script=").status_code == 200


# ---------------------------------------------------------------- gunicorn.conf.py and long streams


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slow_read(port, path, seconds):
    """GET `path` and read the reply in small pieces over at least `seconds`, as a slow client on a long
    link would; returns (status line, body). A small receive buffer keeps the server waiting on us."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        sock.settimeout(60)
        data, started = bytearray(), time.monotonic()
        while chunk := sock.recv(8192):
            data += chunk
            if time.monotonic() - started < seconds:
                time.sleep(0.01)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], dechunk(body) if b"chunked" in head.lower() else body


def dechunk(body):
    out, rest = bytearray(), body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def start_gunicorn(port, database_url, **values):
    env = portal_env(
        DEMO="true", DATABASE_URL=database_url, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", **values
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "egiportal.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.2)
    process.kill()
    pytest.fail("gunicorn did not start")


@pytest.fixture(scope="module")
def federation(django_db_setup, django_db_blocker):
    """A small synthetic federation, committed so that gunicorn's worker reads it; removed afterwards."""
    from importlib import import_module

    from django.apps import apps
    from django.core.management import call_command

    from sites.synthetic import flush_synthetic

    database_url = shared_database_url(settings.DATABASES["default"])
    require_or_skip(database_url, "the gunicorn test needs PostgreSQL (DATABASE_URL=postgres://...)")
    with django_db_blocker.unblock():
        for migration in ("sites.migrations.0002_reference_data", "endpoints.migrations.0002_service_types"):
            import_module(migration).load(apps, None)  # a transactional test's flush removes them
        call_command("seed_federation", "--sites", "60", "--seed", "3", verbosity=0)
        yield database_url
        flush_synthetic()


@pytest.mark.parametrize(("worker_class", "threads", "complete"), [("gthread", "8", True), ("sync", "1", False)])
def test_an_unpaged_reply_outlasting_the_worker_timeout_arrives_whole(federation, worker_class, threads, complete):
    """get_downtime unpaged, read by a slow client over three times the (lowered) worker timeout: the
    shipped threaded workers deliver well-formed XML; gunicorn's default sync worker (one thread, or
    gunicorn makes it gthread) is killed mid-stream, as in production, so the test tells them apart."""
    port = free_port()
    process = start_gunicorn(
        port, federation, GUNICORN_TIMEOUT="2", GUNICORN_WORKER_CLASS=worker_class, GUNICORN_THREADS=threads
    )
    try:
        status, body = slow_read(port, "/gocdbpi/public/?method=get_downtime", seconds=7)
    finally:
        process.terminate()
        process.wait(30)
    assert status == b"HTTP/1.1 200 OK"
    if complete:
        root = etree.fromstring(body)
        assert root.tag == "results"
        assert len(root.findall("DOWNTIME")) > 500
        assert len(body) > 1_000_000
    else:
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(body)
