"""A real local HTTP server that serves image files, for the integrity-check tests, the Celery-worker tests and
the demo: `ImageServer` listens on 127.0.0.1 (a free port), serves the routes registered with `add`,
`add_status` and `add_redirect`, and records every request it answers (method, path, headers, body bytes sent),
so that tests can assert what a client did ("HEAD first", "stopped early") instead of mocking it."""

import http.server
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ImageServer", "RecordedRequest", "Route"]


@dataclass
class Route:
    """What the server answers on one path.

    `content_length`: None announces the real length of the body, an int announces that (wrong) value, False
    announces none (the body then ends when the server closes the connection). `head_status` answers HEAD
    with that status instead (405: a server that ignores HEAD). `repeat` sends the body that many times (large
    bodies without holding them in memory); `delay` sleeps before every chunk after the first (a slow server);
    `drop_after` closes the connection abruptly after that many body bytes."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    content_length: int | bool | None = None
    head_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    repeat: int = 1
    chunk_size: int = 64 * 1024
    delay: float = 0.0
    drop_after: int | None = None

    @property
    def size(self):
        return len(self.body) * self.repeat


@dataclass
class RecordedRequest:
    """One request the server answered; `bytes_sent` counts the body bytes it managed to write."""

    method: str
    path: str
    headers: dict[str, str]
    bytes_sent: int = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real image servers do: clients must close what they open
    server_version = "ImageServer/1"

    def setup(self):
        self.server.kit._connection_opened()
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.kit._connection_closed()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # tests read `requests`, not stderr

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _answer(self, head):
        kit = self.server.kit
        record = kit._record(self.command, self.path, dict(self.headers.items()))
        route = kit.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Route(body=b"not found\n", status=404, content_type="text/plain")
        if head and route.head_status is not None:
            route = Route(status=route.head_status, content_type="text/plain", headers={"Allow": "GET"})
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.content_length is False:
            self.close_connection = True  # the end of the connection is the end of the body
            self.send_header("Connection", "close")
        else:
            length = route.size if route.content_length is None else route.content_length
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if not head:
            self._send_body(route, record)

    def _send_body(self, route, record):
        """Writes the body chunk by chunk, pausing and dropping as the route says; a client that hangs up ends
        it (what a real server sees when a download is abandoned)."""
        limit = route.size if route.drop_after is None else min(route.drop_after, route.size)
        try:
            for chunk in _chunks(route.body, route.repeat, route.chunk_size, limit):
                if record.bytes_sent and route.delay:
                    time.sleep(route.delay)
                self.wfile.write(chunk)
                record.bytes_sent += len(chunk)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        if limit < route.size or route.content_length not in (None, False, route.size):
            self.close_connection = True  # hang up mid-body, or after a wrong length: the client sees a short body


def _chunks(body, repeat, chunk_size, limit):
    """The bytes of `body` repeated `repeat` times, in pieces of at most chunk_size, cut off after `limit`."""
    sent = 0
    for _ in range(repeat):
        for start in range(0, len(body), chunk_size):
            piece = body[start : start + chunk_size][: limit - sent]
            if not piece:
                return
            sent += len(piece)
            yield piece


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in a slow body must not hold the test run
    allow_reuse_address = True


class ImageServer:
    """A local HTTP server for image downloads; use it as a context manager.

    >>> with ImageServer() as server:
    ...     server.add("/img.qcow2", b"...")
    ...     url = server.url("/img.qcow2")
    """

    def __init__(self, ssl_context=None):
        """`ssl_context` (a server-side `ssl.SSLContext`) serves https instead of http."""
        self.ssl_context = ssl_context
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._open_connections = 0
        self._server = None
        self._thread = None

    def __enter__(self):
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.kit = self
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="ImageServer", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def port(self):
        return self._server.server_address[1]

    def url(self, path, host="127.0.0.1"):
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{host}:{self.port}{path}"

    def add(self, path, body: bytes, **behaviour) -> Route:
        """Serves `body` at `path`; keyword arguments are the fields of `Route` (slow, dropped, wrong length...)."""
        route = Route(body=body, **behaviour)
        self.routes[path] = route
        return route

    def add_status(self, path, status, body=b"error\n") -> Route:
        return self.add(path, body, status=status, content_type="text/plain")

    def add_redirect(self, path, location, status=302) -> Route:
        return self.add(path, b"", status=status, content_type="text/plain", headers={"Location": location})

    def methods(self, path=None):
        """The methods of the requests received, in order (on `path` only, if given)."""
        return [r.method for r in self.requests if path is None or r.path == path]

    def wait_idle(self, timeout=5.0) -> bool:
        """True once every connection a client opened has been closed again (by either side)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._open_connections == 0, timeout)

    def _record(self, method, path, headers):
        record = RecordedRequest(method, path, headers)
        with self._lock:
            self.requests.append(record)
        return record

    def _connection_opened(self):
        with self._lock:
            self._open_connections += 1

    def _connection_closed(self):
        with self._idle:
            self._open_connections -= 1
            self._idle.notify_all()
