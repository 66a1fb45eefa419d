"""services.cache: both backends keep values, expire them, keep prefixes apart, and
a Redis that does not answer only means a miss."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from services import cache

REDIS_TEST_URL = os.environ.get("SCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip(prefix: str) -> cache.RedisCache:
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_TEST_URL}: {exc.__class__.__name__}")
    return cache.RedisCache(REDIS_TEST_URL, prefix=prefix)


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    prefix = f"scope-test-{uuid.uuid4().hex[:10]}:"
    c = cache.MemoryCache(prefix=prefix) if request.param == "memory" else _redis_or_skip(prefix)
    yield c
    c.clear()


def test_values_round_trip_as_json(backend):
    key = cache.make_key("view", "stamp-1", {"start": "2026-08-03", "department": None})
    assert backend.get(key) is None
    value = {"kpis": {"received": 12, "rate": 0.25, "none": None}, "periods": ["2026-10-01"]}
    backend.set(key, value, ttl=60)
    assert backend.get(key) == value


def test_values_expire(backend):
    backend.set("short", [1, 2], ttl=1)
    assert backend.get("short") == [1, 2]
    time.sleep(1.3)
    assert backend.get("short") is None


def test_keys_differ_by_filters_and_stamp():
    base = cache.make_key("dashboard.view", "100", {"start": "2026-08-03", "line": None})
    assert base == cache.make_key("dashboard.view", "100", {"line": None, "start": "2026-08-03"})
    assert base != cache.make_key("dashboard.view", "101", {"start": "2026-08-03", "line": None})
    assert base != cache.make_key("dashboard.view", "100", {"start": "2026-08-03", "line": "auto"})


def test_cached_computes_once_per_key(backend):
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    assert cache.cached("k1", compute, cache=backend) == {"n": 1}
    assert cache.cached("k1", compute, cache=backend) == {"n": 1}
    assert cache.cached("k2", compute, cache=backend) == {"n": 2}


def test_clear_only_touches_its_own_prefix(backend):
    other = (cache.MemoryCache(prefix="scope-test-other:") if backend.backend == "memory"
             else cache.RedisCache(REDIS_TEST_URL, prefix=f"scope-test-other-{uuid.uuid4().hex[:8]}:"))
    if backend.backend == "memory":  # two in-process caches do not share a dict; share one to test prefixes
        other._data = backend._data
    try:
        other.set("k", 1)
        backend.set("k", 2)
        backend.clear()
        assert backend.get("k") is None and other.get("k") == 1
    finally:
        other.clear()


def test_memory_cache_stays_bounded():
    c = cache.MemoryCache(max_entries=10, prefix="bounded:")
    for i in range(50):
        c.set(f"k{i}", i)
    assert len(c._data) <= 10 and c.get("k49") == 49


def test_an_unreachable_redis_is_a_miss_not_an_error():
    c = cache.RedisCache("redis://127.0.0.1:1/0", prefix="scope-test-down:")
    c.set("k", 1)
    assert c.get("k") is None
    assert cache.cached("k", lambda: 7, cache=c) == 7


def test_build_picks_the_backend_from_the_environment():
    assert cache.build(None).backend == "memory"
    assert cache.build("redis://127.0.0.1:6379/15").backend == "redis"
    assert cache.build("redis://127.0.0.1:6379/15", "off").backend == "off"
    assert cache.cached("k", lambda: 3, cache=cache.NullCache()) == 3
