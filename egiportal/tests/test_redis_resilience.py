"""Redis as the cache and the rate limiter's counter: parallel clients get exactly the REST rate limit
through (the count is atomic in Redis), and without Redis the REST API, the pages and the PI keep
answering (cache and throttle fail open) with one warning in the log."""

import logging
import os
import runpy
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings as django_settings

from conftest import require_or_skip
from egiportal import caching

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def fresh_outage(monkeypatch):
    """This test's own record of a Redis outage (none yet)."""
    monkeypatch.setattr(caching, "outage", caching._Outage())
    return caching.outage


def configured_caches(monkeypatch, redis_url):
    """settings.CACHES exactly as egiportal/settings.py builds it for this REDIS_URL."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    return runpy.run_path(os.path.join(django_settings.BASE_DIR, "egiportal", "settings.py"))["CACHES"]


@pytest.fixture
def redis_cache(settings, monkeypatch):
    """The portal's cache on this run's Redis (REDIS_URL), under a key prefix of this test alone."""
    redis_url = os.environ.get("REDIS_URL", "")
    require_or_skip(redis_url, "needs Redis (REDIS_URL)")
    caches = configured_caches(monkeypatch, redis_url)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches
    from django.core.cache import cache

    yield cache
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(f"{caches['default']['KEY_PREFIX']}:*"):
        client.delete(key)


@pytest.mark.django_db(transaction=True)
def test_parallel_clients_get_exactly_the_rate_limit_through(live_server, settings, redis_cache):
    settings.API_RATE_LIMIT = "100/day"  # one window for the whole test
    url = f"{live_server.url}/api/v1/"

    def client(_):
        with requests.Session() as session:
            return [session.get(url, timeout=30).status_code for _ in range(20)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [code for codes in pool.map(client, range(8)) for code in codes]
    assert (codes.count(200), codes.count(429)) == (100, 60)


def test_the_counter_expires_with_its_window(redis_cache):
    first = caching.count("window-test", 60)
    assert first.value == 1 and 0 < first.retry_after <= 60
    assert caching.count("window-test", 60).value == 2
    ttl = redis_cache._cache.get_client(write=True).ttl(redis_cache.make_and_validate_key(first.key))
    assert 0 < ttl <= 61
    caching.uncount(first)
    assert caching.count("window-test", 60).value == 2


@pytest.mark.django_db
def test_without_redis_the_api_pages_and_pi_answer_and_one_warning_is_logged(
    client, settings, monkeypatch, fresh_outage, caplog
):
    settings.CACHES = configured_caches(monkeypatch, DEAD_REDIS)
    settings.API_RATE_LIMIT = "2/min"
    with caplog.at_level(logging.WARNING, logger="egiportal.caching"):
        for _ in range(4):  # more than the rate limit: nothing is counted, nothing refused
            assert client.get("/api/v1/sites/").status_code == 200
        assert client.get("/sites/").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/gocdbpi/public/?method=get_site_list").status_code == 200
        fresh_outage.retry_at = 0  # the retry time has come: Redis is asked again, and still down
        assert client.get("/api/v1/sites/").status_code == 200
    warnings = [record for record in caplog.records if record.name == "egiportal.caching"]
    assert len(warnings) == 1, [record.getMessage() for record in warnings]
    assert "Redis is unreachable" in warnings[0].getMessage() and warnings[0].exc_info is None


def test_the_dead_cache_answers_as_an_empty_one(settings, monkeypatch, fresh_outage):
    from django.core.cache import cache

    settings.CACHES = configured_caches(monkeypatch, DEAD_REDIS)
    assert cache.get("key", "default") == "default"
    assert cache.set("key", 1) is None and cache.add("key", 1) is False
    assert cache.get_many(["key"]) == {} and cache.delete("key") is False
    with pytest.raises(ValueError):
        cache.incr("key")
    assert caching.count("key", 60) is None
    assert caching.status()[0] is False


def test_while_redis_is_found_down_nobody_waits_on_it_and_its_return_is_noticed(redis_cache, fresh_outage, caplog):
    fresh_outage.failed(ConnectionError("as if it had gone"))
    redis_cache.set("key", "value")  # skipped: the outage is recent
    assert redis_cache.get("key") is None and caching.count("key", 60) is None
    fresh_outage.retry_at = 0  # the retry time has come; this Redis answers
    with caplog.at_level(logging.WARNING, logger="egiportal.caching"):
        redis_cache.set("key", "value")
    assert redis_cache.get("key") == "value" and caching.count("key", 60).value == 1
    assert fresh_outage.retry_at is None and "reachable again" in caplog.text
