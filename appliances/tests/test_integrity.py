"""The image integrity check against a real local HTTP server (appliances.testing.ImageServer): what it
measures, what it refuses and with which code, and that it closes every connection it opens."""

import datetime
import hashlib
import ipaddress
import os
import ssl
import time

import pytest

from appliances.integrity import (
    CHUNK_SIZE,
    CODES,
    DownloadPolicy,
    IntegrityFailure,
    check_image,
    is_forbidden_address,
    validate_url,
)
from appliances.testing import ImageServer

IMAGE = os.urandom(300_000)
IMAGE_SHA512 = hashlib.sha512(IMAGE).hexdigest()
LOCAL = DownloadPolicy(allow_private_addresses=True)


def local(**limits):
    return DownloadPolicy(allow_private_addresses=True, **limits)


@pytest.fixture
def server():
    """An image server; after each test every connection the checker opened must have been closed."""
    with ImageServer() as image_server:
        image_server.add("/image.qcow2", IMAGE)
        yield image_server
        assert image_server.wait_idle(5), "the checker left a connection open"


def refused(code, url, **kwargs):
    with pytest.raises(IntegrityFailure) as caught:
        check_image(url, **kwargs)
    assert caught.value.code == code, caught.value.message
    assert caught.value.message
    return caught.value


def test_good_image_is_measured_with_head_first(server):
    result = check_image(server.url("/image.qcow2"), policy=LOCAL)

    assert result.size == len(IMAGE)
    assert result.sha512 == IMAGE_SHA512
    assert result.final_url == server.url("/image.qcow2")
    assert result.content_type == "application/octet-stream"
    assert result.headers["Content-Length"] == str(len(IMAGE))
    assert set(result.headers) <= {"Content-Type", "Content-Length", "Last-Modified", "ETag", "Server"}
    assert server.methods() == ["HEAD", "GET"]
    # The exact bytes are hashed: the server is asked not to compress them.
    assert server.requests[1].headers["Accept-Encoding"] == "identity"


def test_empty_image_is_measured(server):
    server.add("/empty.raw", b"")
    result = check_image(server.url("/empty.raw"), policy=LOCAL, expected_size=0)
    assert (result.size, result.sha512) == (0, hashlib.sha512(b"").hexdigest())


def test_declared_checksum_matches_in_any_case_and_spacing(server):
    result = check_image(
        server.url("/image.qcow2"),
        policy=LOCAL,
        expected_sha512=f"  {IMAGE_SHA512.upper()}\n",
        expected_size=len(IMAGE),
    )
    assert result.sha512 == IMAGE_SHA512


def test_declared_checksum_mismatch_is_refused(server):
    failure = refused("checksum_mismatch", server.url("/image.qcow2"), policy=LOCAL, expected_sha512="ab" * 64)
    assert IMAGE_SHA512 in failure.message and "ab" * 64 in failure.message


@pytest.mark.parametrize("value", ["ab" * 63, "zz" * 64, "ab" * 64 + "00", "", 12, b"ab" * 64])
def test_malformed_declared_checksum_is_a_programming_error(server, value):
    with pytest.raises(ValueError):
        check_image(server.url("/image.qcow2"), policy=LOCAL, expected_sha512=value)
    assert server.requests == []


@pytest.mark.parametrize("value", [-1, "300000", 1.5, True])
def test_malformed_declared_size_is_a_programming_error(server, value):
    with pytest.raises(ValueError):
        check_image(server.url("/image.qcow2"), policy=LOCAL, expected_size=value)


@pytest.mark.parametrize("status", [404, 500, 403, 204])
def test_error_status_is_refused(server, status):
    server.add_status("/broken", status)
    failure = refused("http_status", server.url("/broken"), policy=LOCAL)
    assert str(status) in failure.message
    assert server.methods() == ["HEAD"]


def test_error_on_get_after_good_head_is_refused(server):
    server.add("/get-fails", b"gone", status=410, head_status=200)
    failure = refused("http_status", server.url("/get-fails"), policy=LOCAL)
    assert "410" in failure.message and "GET" in failure.message


def test_redirect_is_refused_without_following_it(server):
    server.add_redirect("/latest", "/image.qcow2")
    failure = refused("redirect", server.url("/latest"), policy=LOCAL)
    assert f"redirects are not followed: {server.url('/image.qcow2')}" in failure.message
    assert server.methods() == ["HEAD"]


def test_redirect_is_followed_when_allowed(server):
    server.add_redirect("/latest", "/image.qcow2", status=301)
    result = check_image(server.url("/latest"), policy=local(max_redirects=1))
    assert result.sha512 == IMAGE_SHA512
    assert result.final_url == server.url("/image.qcow2")
    assert [(r.method, r.path) for r in server.requests] == [
        ("HEAD", "/latest"),
        ("HEAD", "/image.qcow2"),
        ("GET", "/image.qcow2"),
    ]


def test_redirects_beyond_the_allowed_number_are_refused(server):
    server.add_redirect("/a", "/b")
    server.add_redirect("/b", "/image.qcow2")
    failure = refused("redirect", server.url("/a"), policy=local(max_redirects=1))
    assert "more than 1" in failure.message
    assert server.methods("/image.qcow2") == []


@pytest.mark.parametrize(
    "location", ["ftp://127.0.0.1/image.qcow2", "file:///etc/passwd", "http://user:pw@127.0.0.1/x", "javascript:x"]
)
def test_redirect_to_a_refused_url_is_not_followed(server, location):
    server.add_redirect("/latest", location)
    failure = refused("redirect", server.url("/latest"), policy=local(max_redirects=3))
    assert "refused" in failure.message
    assert server.methods() == ["HEAD"]


def test_too_large_by_content_length_is_refused_before_download(server):
    failure = refused("too_large", server.url("/image.qcow2"), policy=local(max_size=len(IMAGE) - 1))
    assert "not downloaded" in failure.message
    assert server.methods() == ["HEAD"]


def test_too_large_without_content_length_stops_early(server):
    block = os.urandom(64 * 1024)
    route = server.add("/endless.raw", block, repeat=1024, content_length=False)  # 64 MiB, no length
    refused("too_large", server.url("/endless.raw"), policy=local(max_size=100_000))
    assert server.wait_idle(5)
    get = server.requests[-1]
    assert get.method == "GET"
    assert get.bytes_sent < route.size / 2


def test_size_declared_differently_from_content_length_is_refused_before_download(server):
    refused("size_mismatch", server.url("/image.qcow2"), policy=LOCAL, expected_size=len(IMAGE) + 1)
    assert server.methods() == ["HEAD"]


def test_size_declared_differently_from_streamed_count_is_refused(server):
    server.add("/unannounced", IMAGE, content_length=False)
    refused("size_mismatch", server.url("/unannounced"), policy=LOCAL, expected_size=len(IMAGE) + 1)
    failure = refused("size_mismatch", server.url("/unannounced"), policy=LOCAL, expected_size=1000)
    assert "stopped" in failure.message


def test_image_without_content_length_is_measured(server):
    server.add("/unannounced", IMAGE, content_length=False)
    result = check_image(server.url("/unannounced"), policy=LOCAL)
    assert (result.size, result.sha512) == (len(IMAGE), IMAGE_SHA512)
    assert "Content-Length" not in result.headers


def test_body_shorter_than_its_content_length_is_unreachable(server):
    server.add("/truncated", IMAGE, content_length=len(IMAGE) + 10)
    failure = refused("unreachable", server.url("/truncated"), policy=LOCAL)
    assert "before the end" in failure.message


def test_connection_dropped_mid_body_is_unreachable(server):
    server.add("/dropped", IMAGE, drop_after=100_000)
    failure = refused("unreachable", server.url("/dropped"), policy=LOCAL)
    assert "100,000 bytes" in failure.message


def test_closed_port_is_unreachable(server):
    with ImageServer() as gone:
        url = gone.url("/image.qcow2")
    refused("unreachable", url, policy=LOCAL)


def _self_signed_context(tmp_path):
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_self_signed_https_is_refused(tmp_path):
    # The tools at sites verify image servers' certificates (cloudkeeper against the grid CAs only), so the
    # check does too: an image behind a self-signed certificate would fail at every site.
    with ImageServer(ssl_context=_self_signed_context(tmp_path)) as tls_server:
        tls_server.add("/image.qcow2", IMAGE)
        failure = refused("unreachable", tls_server.url("/image.qcow2"), policy=LOCAL)
        assert "certificate" in failure.message, failure.message
        assert tls_server.requests == []
        assert tls_server.wait_idle(5)


def test_slow_body_times_out_between_chunks(server):
    server.add("/slow", IMAGE, chunk_size=10_000, delay=0.5)
    started = time.monotonic()
    failure = refused("timeout", server.url("/slow"), policy=local(read_timeout=0.2))
    assert time.monotonic() - started < 2
    assert "sent nothing" in failure.message


def test_trickling_body_times_out_in_total(server):
    server.add("/trickle", IMAGE, chunk_size=1000, delay=0.05)
    started = time.monotonic()
    failure = refused("timeout", server.url("/trickle"), policy=local(read_timeout=1, total_timeout=0.5))
    assert time.monotonic() - started < 2
    assert "longer than" in failure.message


def test_head_405_falls_back_to_get(server):
    server.add("/no-head", IMAGE, head_status=405)
    result = check_image(server.url("/no-head"), policy=LOCAL)
    assert result.sha512 == IMAGE_SHA512
    assert server.methods() == ["HEAD", "GET"]


def test_progress_is_reported_per_mib_with_increasing_counts(server):
    body = os.urandom(CHUNK_SIZE * 3 + CHUNK_SIZE // 2)
    server.add("/big", body)
    calls = []
    result = check_image(server.url("/big"), policy=LOCAL, progress=lambda done, total: calls.append((done, total)))
    assert result.sha512 == hashlib.sha512(body).hexdigest()
    assert calls == [
        (CHUNK_SIZE, len(body)),
        (2 * CHUNK_SIZE, len(body)),
        (3 * CHUNK_SIZE, len(body)),
        (len(body),) * 2,
    ]


def test_progress_without_content_length_has_no_total(server):
    server.add("/unannounced", IMAGE, content_length=False)
    calls = []
    check_image(server.url("/unannounced"), policy=LOCAL, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(len(IMAGE), None)]


def test_cancelled_mid_way_stops_the_download(server):
    body = os.urandom(64 * 1024)
    route = server.add("/big", body, repeat=512)  # 32 MiB
    calls = []
    failure = refused(
        "cancelled",
        server.url("/big"),
        policy=LOCAL,
        progress=lambda done, total: calls.append(done),
        cancelled=lambda: len(calls) >= 2,
    )
    assert calls == [CHUNK_SIZE, 2 * CHUNK_SIZE]
    assert "2,097,152 bytes" in failure.message
    assert server.wait_idle(5)
    assert server.requests[-1].bytes_sent < route.size / 2


def test_cancelled_before_download(server):
    refused("cancelled", server.url("/image.qcow2"), policy=LOCAL, cancelled=lambda: True)
    assert server.methods() == ["HEAD"]


HOSTILE_URLS = [
    "ftp://127.0.0.1/image.qcow2",
    "http://",
    "http:///image.qcow2",
    "javascript:alert(1)",
    "//127.0.0.1/image.qcow2",
    "image.qcow2",
    "",
    "http://127.0.0.1/a\x00b",
    "http://127.0.0.1/my image.qcow2",
    " http://127.0.0.1/image.qcow2",
    "http://127.0.0.1/image.qcow2\n",
    "http://127.0.0.1\\@example.org/",
    "http://127.0.0.1/imäge.qcow2",
    "http://127.0.0.1/%zz",
    "http://127.0.0.1:99999/image.qcow2",
    "http://127.0.0.1:port/image.qcow2",
    "http://" + "a" * 5000 + ".org/",
    None,
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_are_refused_without_a_request(server, url):
    refused("bad_url", url, policy=LOCAL)
    assert server.requests == []


@pytest.mark.parametrize("template", ["http://user:pw@127.0.0.1:{port}/image.qcow2", "http://user@127.0.0.1:{port}/"])
def test_credentials_in_url_are_refused(server, template):
    failure = refused("bad_url", template.format(port=server.port), policy=LOCAL)
    assert "password" in failure.message
    assert server.requests == []


def test_url_length_limit():
    base = "https://images.example.org/"
    assert validate_url(base + "a" * (2048 - len(base)))
    with pytest.raises(IntegrityFailure, match="2049 characters"):
        validate_url(base + "a" * (2049 - len(base)))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_is_refused_before_connecting(server, host):
    failure = refused("forbidden_address", server.url("/image.qcow2", host=host), policy=DownloadPolicy())
    assert "127.0.0.1" in failure.message
    assert server.requests == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_forbidden_addresses(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "193.0.14.129", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert not is_forbidden_address(address)


def test_policy_from_settings(settings):
    settings.IMAGE_MAX_SIZE = 1234
    settings.IMAGE_TOTAL_TIMEOUT = 60.0
    settings.IMAGE_MAX_REDIRECTS = 2
    settings.IMAGE_ALLOW_PRIVATE_ADDRESSES = False
    policy = DownloadPolicy.from_settings()
    assert (policy.max_size, policy.total_timeout, policy.max_redirects) == (1234, 60.0, 2)
    assert policy.allow_private_addresses is False
    assert (policy.connect_timeout, policy.read_timeout, policy.allowed_schemes) == (10.0, 30.0, ("http", "https"))


def test_demo_settings_allow_local_image_servers(server):
    # The tests run in demo mode, where the demo's image server on 127.0.0.1 must be usable.
    assert DownloadPolicy.from_settings().allow_private_addresses is True
    assert check_image(server.url("/image.qcow2")).sha512 == IMAGE_SHA512


def test_settings_limit_applies_without_a_policy(server, settings):
    settings.IMAGE_MAX_SIZE = 1000
    refused("too_large", server.url("/image.qcow2"))


def test_unknown_failure_code_is_a_programming_error():
    assert "timeout" in CODES
    with pytest.raises(ValueError):
        IntegrityFailure("nope", "message")
