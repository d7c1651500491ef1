"""The cache on Redis that fails open, and atomic fixed-window counters (rate limits, login throttling).

When Redis is unreachable the portal keeps answering: reads miss, writes are dropped and counters
count nothing, so nothing that only speeds up or limits requests turns into a 500. One warning is
logged when Redis goes away (not a traceback per request), and for RETRY_SECONDS afterwards no
request waits on it again. /healthz asks Redis itself (ping), so it says when the cache is down.
"""

import logging
import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5

# INCRBY and an expiry in one step: a key never lives on without one, whichever client comes first.
COUNT_SCRIPT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return value
"""


class _Outage:
    """Per process: whether Redis was found unreachable, and until when nobody asks it again."""

    def __init__(self):
        self.lock = threading.Lock()
        self.retry_at = None

    def skipping(self):
        retry_at = self.retry_at  # read once: another thread may end the outage meanwhile
        return retry_at is not None and time.monotonic() < retry_at

    def failed(self, exc):
        with self.lock:
            first = self.retry_at is None
            self.retry_at = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning("Redis is unreachable (%s): the cache and rate limits are off until it is back.", exc)

    def succeeded(self):
        if self.retry_at is None:  # the usual case, without taking the lock
            return
        with self.lock:
            back = self.retry_at is not None
            self.retry_at = None
        if back:
            logger.warning("Redis is reachable again: the cache and rate limits are back on.")


outage = _Outage()


class FailOpenRedisCacheClient(RedisCacheClient):
    """Django's Redis client whose every operation answers as an empty cache when Redis is unreachable."""

    def _guarded(self, operation, fallback, *args):
        if outage.skipping():
            return fallback
        try:
            result = operation(self, *args)
        except self._lib.RedisError as exc:
            outage.failed(exc)
            return fallback
        outage.succeeded()
        return result

    def get(self, key, default):
        return self._guarded(RedisCacheClient.get, default, key, default)

    def add(self, key, value, timeout):
        return self._guarded(RedisCacheClient.add, False, key, value, timeout)

    def set(self, key, value, timeout):
        return self._guarded(RedisCacheClient.set, None, key, value, timeout)

    def touch(self, key, timeout):
        return self._guarded(RedisCacheClient.touch, False, key, timeout)

    def delete(self, key):
        return self._guarded(RedisCacheClient.delete, False, key)

    def get_many(self, keys):
        return self._guarded(RedisCacheClient.get_many, {}, keys)

    def has_key(self, key):
        return self._guarded(RedisCacheClient.has_key, False, key)

    def incr(self, key, delta):
        missing = object()  # as for a key that is not there: ValueError
        result = self._guarded(RedisCacheClient.incr, missing, key, delta)
        if result is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unreachable).")
        return result

    def set_many(self, data, timeout):
        return self._guarded(RedisCacheClient.set_many, None, data, timeout)

    def delete_many(self, keys):
        return self._guarded(RedisCacheClient.delete_many, None, keys)

    def clear(self):
        return self._guarded(RedisCacheClient.clear, False)

    def count(self, key, delta, timeout):
        def script(client, key, delta, timeout):
            return client.get_client(key, write=True).eval(COUNT_SCRIPT, 1, key, delta, timeout)

        return self._guarded(script, None, key, delta, timeout)

    def ping(self):
        """Ask Redis, whatever the outage state (for /healthz); raises if it is unreachable."""
        self.get_client(write=True).ping()
        outage.succeeded()


class FailOpenRedisCache(RedisCache):
    """The Redis cache backend of settings.CACHES: fails open (FailOpenRedisCacheClient)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient

    def count(self, key, delta, timeout):
        """Add `delta` to the counter `key` atomically, which expires `timeout` seconds after it was made."""
        return self._cache.count(self.make_and_validate_key(key), delta, timeout)

    def ping(self):
        self._cache.ping()


class Count(NamedTuple):
    value: int
    retry_after: float  # seconds until the window ends
    key: str


def count(key, window, delta=1):
    """Add `delta` to `key`'s counter in the current fixed window of `window` seconds (atomically, also
    between processes on Redis). The new Count, or None when the cache is unreachable (count nothing)."""
    now = time.time()
    index = int(now // window)
    window_key = f"{key}:{index}"
    value = _count(window_key, delta, window + 1)
    return None if value is None else Count(value, (index + 1) * window - now, window_key)


def uncount(counted):
    """Take back one that `count` added (the same window, even when the next one has begun)."""
    if counted is not None:
        _count(counted.key, -1, 1 + int(counted.retry_after))


def _count(key, delta, timeout):
    if hasattr(cache, "count"):
        return cache.count(key, delta, timeout)
    # Other backends (the local-memory cache without Redis): add and incr are atomic in each of them.
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key, delta)
    except ValueError:  # expired between add and incr
        cache.set(key, delta, timeout)
        return delta


def status():
    """(ok, backend or error text) of the default cache: a real round trip, not the fail-open answer."""
    backend = settings.CACHES["default"]["BACKEND"]
    try:
        if hasattr(cache, "ping"):
            cache.ping()
            return True, backend
        cache.set("healthz", "1", 5)
        return cache.get("healthz") == "1", backend
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return False, str(exc)
