"""The image integrity check: download an image as the sites' tools will, and measure it.

`check_image(url, ...)` validates the URL, asks the server with HEAD first (like AppDB's pre-check: 200
required, redirects not followed unless the policy allows some), then streams the body once, computing its
SHA-512 and byte count, and returns a `Result` with what the HEPiX list publishes (`hv:size`,
`sl:checksum:sha512`). Every refusal raises `IntegrityFailure(code, message)`, the message written for the
appliance's author. The module is pure: no models, no database; the services and Celery tasks that record
results call it.

Why some choices:
- The exact bytes at the URL are hashed (consumers compare the SHA-512 of what they download): the request asks
  for `Accept-Encoding: identity` and the body is read undecoded, so a server's gzip does not change the sum.
- The portal fetches URLs chosen by outside authors, so unless allowed it refuses to connect to loopback,
  private, link-local or multicast addresses: checked on each address a connection is actually opened to
  (after DNS resolution, also for redirect targets), so a name that resolves to an internal service is caught.
- No proxies, no .netrc, no environment CA bundle (`trust_env` off): a proxy would hide the real address.
- Sessions are opened per check and closed on every path, so that no connection outlives a check.
"""

import hashlib
import http
import ipaddress
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException, IncompleteRead
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

__all__ = [
    "CHUNK_SIZE",
    "CODES",
    "DownloadPolicy",
    "IntegrityFailure",
    "Result",
    "check_image",
    "is_forbidden_address",
    "validate_url",
]

CHUNK_SIZE = 1024 * 1024  # progress and cancellation are looked at every MiB
MAX_URL_LENGTH = 2048
GiB = 1024**3
SAFE_HEADERS = ("Content-Type", "Content-Length", "Last-Modified", "ETag", "Server")
MAX_HEADER_VALUE = 256  # header values are shown on the version page: keep them short
USER_AGENT = "EGI-Portal-image-check/1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HEAD_UNSUPPORTED = frozenset({405, 501})

CODES = frozenset(
    {
        "bad_url",
        "forbidden_address",
        "unreachable",
        "timeout",
        "http_status",
        "redirect",
        "too_large",
        "size_mismatch",
        "checksum_mismatch",
        "cancelled",
    }
)

# RFC 3986's characters (unreserved, reserved and '%'): anything else (spaces, controls, NUL, backslashes,
# non-ASCII) is refused rather than quietly re-quoted, because the URL is published as it is typed.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SHA512 = re.compile(r"[0-9a-f]{128}")


class IntegrityFailure(Exception):
    """A refused image: `code` is one of CODES, `message` says what happened and what to do."""

    def __init__(self, code: str, message: str):
        if code not in CODES:
            raise ValueError(f"unknown integrity failure code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self):
        return f"IntegrityFailure({self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class DownloadPolicy:
    """Limits of one check. The defaults are safe; `from_settings()` gives the portal's configured policy."""

    max_size: int = 50 * GiB
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # the longest silence allowed between two pieces of the body
    total_timeout: float = 6 * 3600.0
    max_redirects: int = 0  # AppDB did not follow redirects, and strict consumers at sites may not either
    allowed_schemes: tuple[str, ...] = ("http", "https")
    allow_private_addresses: bool = False

    def __post_init__(self):
        if self.max_size < 0 or self.max_redirects < 0:
            raise ValueError("max_size and max_redirects must not be negative")
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("timeouts must be positive")

    @classmethod
    def from_settings(cls) -> "DownloadPolicy":
        """The policy of the portal's settings (the "Marketplace image downloads" block)."""
        from django.conf import settings

        return cls(
            max_size=settings.IMAGE_MAX_SIZE,
            total_timeout=settings.IMAGE_TOTAL_TIMEOUT,
            max_redirects=settings.IMAGE_MAX_REDIRECTS,
            allow_private_addresses=settings.IMAGE_ALLOW_PRIVATE_ADDRESSES,
        )


@dataclass(frozen=True)
class Result:
    """A downloaded and measured image: `sha512` is lowercase hex, `headers` a few safe ones for display."""

    size: int
    sha512: str
    final_url: str
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def check_image(
    url: str,
    *,
    expected_sha512: str | None = None,
    expected_size: int | None = None,
    policy: DownloadPolicy | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Result:
    """Downloads the image at `url` once and returns its size and SHA-512, or raises IntegrityFailure.

    `expected_sha512` (compared case-insensitively, whitespace stripped) and `expected_size` are what the author
    declared; a malformed one is a programming error (ValueError: the model validates them first).
    `progress(done_bytes, total_or_None)` is called after every MiB and at the end; `cancelled()` is asked at
    the same moments and a true answer stops the download (code `cancelled`)."""
    expected_sha512 = _normalise_sha512(expected_sha512)
    if expected_size is not None and (isinstance(expected_size, bool) or not isinstance(expected_size, int)):
        raise ValueError(f"expected_size must be an int, not {expected_size!r}")
    if expected_size is not None and expected_size < 0:
        raise ValueError("expected_size must not be negative")
    policy = policy or DownloadPolicy.from_settings()
    validate_url(url, policy.allowed_schemes)
    check = _Check(policy, expected_size, progress, cancelled)
    result = check.run(url)
    if expected_sha512 is not None and result.sha512 != expected_sha512:
        raise IntegrityFailure(
            "checksum_mismatch",
            f"The SHA-512 of the downloaded image is {result.sha512}, not the {expected_sha512} that was "
            "declared. Correct the declared checksum, or check that the URL serves the intended file.",
        )
    return result


def validate_url(url: str, allowed_schemes=("http", "https")) -> str:
    """Returns `url` if the checker may fetch it (scheme, host, no credentials, plain characters), or raises
    IntegrityFailure("bad_url")."""
    if not isinstance(url, str) or not url:
        raise IntegrityFailure("bad_url", "The image URL is empty. Enter the http(s) URL of the image file.")
    if len(url) > MAX_URL_LENGTH:
        raise IntegrityFailure(
            "bad_url", f"The image URL is {len(url)} characters long; at most {MAX_URL_LENGTH} are accepted."
        )
    bad = _URL_CHARACTERS.match(url).end()
    if bad < len(url):
        raise IntegrityFailure(
            "bad_url",
            f"The image URL contains a character that URLs may not contain at position {bad + 1} (a space, a "
            "control character, a backslash or a non-ASCII letter). Percent-encode it (a space is %20).",
        )
    if _BAD_PERCENT.search(url):
        raise IntegrityFailure("bad_url", "The image URL has a '%' that is not followed by two hexadecimal digits.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in allowed_schemes:
        raise IntegrityFailure(
            "bad_url",
            f"Only {' and '.join(allowed_schemes)} URLs can be checked and published"
            + (f", not {scheme}: URLs." if scheme else ": this URL has no scheme (e.g. https://)."),
        )
    if "@" in parts.netloc:
        raise IntegrityFailure(
            "bad_url",
            "The image URL contains a user name or password (user:password@host). Images must be downloadable "
            "without credentials, and credentials in a URL would be published in the image list.",
        )
    if not parts.hostname:
        raise IntegrityFailure("bad_url", "The image URL has no host name, e.g. https://images.example.org/a.qcow2.")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise IntegrityFailure("bad_url", "The port of the image URL is not a number between 1 and 65535.") from None
    return url


def is_forbidden_address(address: str) -> bool:
    """True for an address the checker may not connect to unless private addresses are allowed: anything not
    globally routable (loopback, private, link-local such as 169.254.169.254, shared, reserved, unspecified)
    and multicast. IPv4 addresses written as IPv6 (::ffff:a.b.c.d) are judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class _Check:
    """One run of a check: the policy, the deadline, the session, and the download's running counts (which
    the failure messages quote)."""

    def __init__(self, policy, expected_size, progress, cancelled):
        self.policy = policy
        self.expected_size = expected_size
        self.progress = progress or (lambda done, total: None)
        self.cancelled = cancelled or (lambda: False)
        self.deadline = time.monotonic() + policy.total_timeout
        self.redirects_left = policy.max_redirects
        self.done = 0
        self.total = None
        self.url = None

    def run(self, url):
        with _session(self.policy) as session:
            try:
                return self._run(session, url)
            except (requests.RequestException, urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
                raise self._failure(exc) from exc

    def _run(self, session, url):
        with self._request(session, "HEAD", url) as head:
            if head.status_code not in HEAD_UNSUPPORTED:
                self._check_status(head)
                self._check_length(head)
                url = head.url
        self._stop_if_cancelled()
        with self._request(session, "GET", url) as response:
            self._check_status(response)
            self.total = self._check_length(response)
            sha512 = self._stream(response)
            return Result(
                size=self.done,
                sha512=sha512,
                final_url=response.url,
                content_type=_short(response.headers.get("Content-Type", "")),
                headers={name: _short(response.headers[name]) for name in SAFE_HEADERS if name in response.headers},
            )

    def _request(self, session, method, url):
        """Sends `method` to `url`, following at most the redirects the policy has left, each target checked
        like the first URL (the address rules are applied when connecting)."""
        while True:
            self.url = url
            response = session.request(
                method, url, allow_redirects=False, stream=True, timeout=self._timeouts(), headers=_HEADERS
            )
            if response.status_code not in REDIRECT_STATUSES or "Location" not in response.headers:
                return response
            location = urljoin(url, response.headers["Location"])
            response.close()
            if not self.policy.max_redirects:
                raise IntegrityFailure(
                    "redirect",
                    f"The server answered {response.status_code} to {method} {_short(url)}: redirects are not "
                    f"followed: {_short(location)}. Enter the final URL of the image (the tools at sites may not "
                    "follow redirects either).",
                )
            if not self.redirects_left:
                raise IntegrityFailure(
                    "redirect",
                    f"The URL redirects more than {self.policy.max_redirects} time(s) (last to {_short(location)}). "
                    "Enter the final URL of the image.",
                )
            try:
                validate_url(location, self.policy.allowed_schemes)
            except IntegrityFailure as refused:
                raise IntegrityFailure(
                    "redirect", f"The URL redirects to {_short(location)}, which is refused: {refused.message}"
                ) from None
            self.redirects_left -= 1
            url = location

    def _timeouts(self):
        """(connect, read) timeouts, never beyond the total deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._timed_out()
        return (min(self.policy.connect_timeout, left), min(self.policy.read_timeout, left))

    def _check_status(self, response):
        if response.status_code != 200:
            try:
                phrase = http.HTTPStatus(response.status_code).phrase
            except ValueError:
                phrase = "(unknown status)"
            raise IntegrityFailure(
                "http_status",
                f"The server answered {response.status_code} {phrase} to {response.request.method} "
                f"{_short(response.url)}. The image must be downloadable with 200 OK, without logging in: "
                "check the URL and that the file is public.",
            )

    def _check_length(self, response):
        """The announced Content-Length (None if absent or unreadable), refused if over the limits."""
        value = response.headers.get("Content-Length", "").strip()
        if not value.isdigit() or not value.isascii():
            return None
        length = int(value)
        if length > self.policy.max_size:
            raise IntegrityFailure(
                "too_large",
                f"The server announces {_bytes(length)}, more than the {_bytes(self.policy.max_size)} the portal "
                "downloads. The image was not downloaded; publish a smaller image or ask the portal's operators.",
            )
        if self.expected_size is not None and length != self.expected_size:
            raise IntegrityFailure(
                "size_mismatch",
                f"The server announces {_bytes(length)}, but {_bytes(self.expected_size)} were declared. "
                "Correct the declared size, or check that the URL serves the intended file.",
            )
        return length

    def _stream(self, response):
        """Reads the undecoded body once, hashing it; returns the hex SHA-512. Reads return as soon as data
        arrives, so the total deadline is looked at even when a server trickles bytes."""
        digest = hashlib.sha512()
        reported = 0
        while True:
            # Never past the next MiB boundary, so that progress is reported at whole MiBs.
            piece = response.raw.read1(reported + CHUNK_SIZE - self.done, decode_content=False)
            if not piece:
                break
            digest.update(piece)
            self.done += len(piece)
            self._check_running_size()
            if time.monotonic() > self.deadline:
                raise self._timed_out()
            if self.done == reported + CHUNK_SIZE:
                reported = self.done
                self._report()
        if self.done != reported or not self.done:
            self._report()
        if self.expected_size is not None and self.done != self.expected_size:
            raise IntegrityFailure(
                "size_mismatch",
                f"The image has {_bytes(self.done)}, but {_bytes(self.expected_size)} were declared. "
                "Correct the declared size, or check that the URL serves the intended file.",
            )
        return digest.hexdigest()

    def _check_running_size(self):
        if self.done > self.policy.max_size:
            raise IntegrityFailure(
                "too_large",
                f"The image is larger than the {_bytes(self.policy.max_size)} the portal downloads: the download "
                "was stopped. Publish a smaller image or ask the portal's operators.",
            )
        if self.expected_size is not None and self.done > self.expected_size:
            raise IntegrityFailure(
                "size_mismatch",
                f"The image is larger than the {_bytes(self.expected_size)} that were declared: the download was "
                "stopped. Correct the declared size, or check that the URL serves the intended file.",
            )

    def _report(self):
        self.progress(self.done, self.total)
        self._stop_if_cancelled()

    def _stop_if_cancelled(self):
        if self.cancelled():
            raise IntegrityFailure("cancelled", f"The check was cancelled after {self._so_far()}.")

    def _so_far(self):
        if self.total is None:
            return _bytes(self.done)
        return f"{_bytes(self.done)} of {_bytes(self.total)}"

    def _timed_out(self):
        return IntegrityFailure(
            "timeout",
            f"The download of {_short(self.url)} took longer than the {self.policy.total_timeout:g} s allowed "
            f"(after {self._so_far()}). Publish the image on a faster server, or try again later.",
        )

    def _failure(self, exc):
        """The IntegrityFailure for an exception of the network layers."""
        reason = _reason(exc)
        if isinstance(exc, requests.ConnectTimeout | ConnectTimeoutError):
            return IntegrityFailure(
                "timeout",
                f"No connection to {_host(self.url)} within {self.policy.connect_timeout:g} s. Check that the "
                "server is up and reachable from the internet.",
            )
        if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError | TimeoutError):
            return IntegrityFailure(
                "timeout",
                f"The server {_host(self.url)} sent nothing for {self.policy.read_timeout:g} s (after "
                f"{self._so_far()}). Check the server, or try again later.",
            )
        if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
            return IntegrityFailure(
                "unreachable",
                f"The TLS connection to {_host(self.url)} failed: {reason}. The tools at sites refuse such "
                "servers too: serve the image with a certificate from a recognised certificate authority.",
            )
        if self.done or self.total is not None:
            return IntegrityFailure(
                "unreachable",
                f"The connection to {_host(self.url)} broke during the download, after {self._so_far()}: "
                f"{reason}. Try again later; if it persists, check the server.",
            )
        return IntegrityFailure(
            "unreachable",
            f"Could not get {_short(self.url)}: {reason}. Check the host name, and that the server is up and "
            "reachable from the internet.",
        )


_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*"}


class _PublicConnectionMixin:
    """Connects only to addresses that `is_forbidden_address` lets through: resolves the host itself and
    opens the socket to an allowed address, so the address checked is the one connected (no second lookup
    that a hostile DNS server could answer differently)."""

    def _new_conn(self):
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        allowed = [info for info in infos if not is_forbidden_address(info[4][0])]
        if not allowed:
            addresses = ", ".join(sorted({info[4][0] for info in infos}))
            raise IntegrityFailure(
                "forbidden_address",
                f"The host {self.host} has the address {addresses}, which is a loopback, private, link-local or "
                "multicast address: the portal downloads images only from public addresses. Publish the image "
                "on a server reachable from the internet.",
            )
        error = None
        for family, kind, proto, _, address in allowed:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                sock.connect(address)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                sock.close()
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _PublicHTTPConnection(_PublicConnectionMixin, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicConnectionMixin, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


class _Session(requests.Session):
    def resolve_redirects(self, *args, **kwargs):
        # The checker follows redirects itself, one checked hop at a time. requests would otherwise read the
        # whole body of a redirect response into memory (to prepare `Response.next`), however large.
        return iter(())


def _session(policy):
    session = _Session()
    session.trust_env = False
    if not policy.allow_private_addresses:
        session.mount("http://", _PublicOnlyAdapter())
        session.mount("https://", _PublicOnlyAdapter())
    return session


def _normalise_sha512(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected_sha512 must be a string, not {type(value).__name__}")
    value = value.strip().lower()
    if not _SHA512.fullmatch(value):
        raise ValueError("expected_sha512 must be 128 hexadecimal characters")
    return value


def _reason(exc):
    """The innermost cause of a network exception, without urllib3's object reprs."""
    if _caused_by(exc, IncompleteRead):
        return "the server closed the connection before the end of the body it announced"
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException) and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            break
        exc = inner
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*|^\w+\(host=[^)]*\):\s*", "", str(exc)).strip()
    return _short(text or type(exc).__name__)


def _caused_by(exc, kind):
    """True if `kind` is among the exceptions that `exc` wraps (arguments, causes, contexts)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending.extend(item for item in inner if isinstance(item, BaseException))
    return False


def _short(text, limit=MAX_HEADER_VALUE):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host(url):
    return _short(urlsplit(url).netloc)


def _bytes(count):
    if count < 1024:
        return f"{count} bytes"
    for unit, size in (("GiB", GiB), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count:,} bytes ({count / size:.1f} {unit})"
