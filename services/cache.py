"""A small read-through cache for values computed from the rollups.

Two backends behind one interface:
* Redis when ``REDIS_URL`` is set, shared by every web worker and host;
* an in-process dict with expiry times otherwise. That is the single-process
  default (``scope run`` with one worker, tests): each extra process keeps its
  own copy, which is only wasteful, never wrong, because callers put the rollup's
  refresh stamp in the key (a refresh makes every older key unreachable) and
  entries expire after ``ttl`` seconds anyway.

Values go through JSON, never pickle: a shared cache must not be able to run
code in the web process. Callers store plain JSON types (dates as ISO text).
A Redis that does not answer makes ``get`` miss and ``set`` a no-op, so the
page falls back to the database instead of failing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)
DEFAULT_TTL = 300
PREFIX = "scope:cache:"
_MISSING = object()


def make_key(*parts: Any) -> str:
    """A fixed-length key from any JSON-able parts (filters, stamps, names)."""
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


class MemoryCache:
    """Per-process TTL dict; old entries are swept when it grows past ``max_entries``."""

    backend = "memory"

    def __init__(self, max_entries: int = 2000, prefix: str = PREFIX):
        self.prefix = prefix
        self.max_entries = max_entries
        self._data: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            item = self._data.get(self.prefix + key)
            if item is None:
                return None
            expires, payload = item
            if expires < time.monotonic():
                del self._data[self.prefix + key]
                return None
        return json.loads(payload)

    def set(self, key: str, value, ttl: int = DEFAULT_TTL) -> None:
        payload = json.dumps(value, separators=(",", ":"))
        now = time.monotonic()
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data = {k: v for k, v in self._data.items() if v[0] >= now}
                if len(self._data) >= self.max_entries:  # still full of live entries: drop the oldest half
                    keep = sorted(self._data.items(), key=lambda kv: kv[1][0])[len(self._data) // 2:]
                    self._data = dict(keep)
            self._data[self.prefix + key] = (now + ttl, payload)

    def clear(self) -> None:
        with self._lock:
            self._data = {k: v for k, v in self._data.items() if not k.startswith(self.prefix)}


class RedisCache:
    backend = "redis"

    def __init__(self, url: str, prefix: str = PREFIX, client=None):
        import redis

        self.prefix = prefix
        # Short timeouts: a slow or absent Redis must cost a page milliseconds, not seconds.
        self.client = client or redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)

    def get(self, key: str):
        import redis

        try:
            payload = self.client.get(self.prefix + key)
        except redis.RedisError as exc:
            log.warning("cache get failed (%s); reading the database", exc.__class__.__name__)
            return None
        return None if payload is None else json.loads(payload)

    def set(self, key: str, value, ttl: int = DEFAULT_TTL) -> None:
        import redis

        try:
            self.client.set(self.prefix + key, json.dumps(value, separators=(",", ":")), ex=max(1, int(ttl)))
        except redis.RedisError as exc:
            log.warning("cache set failed (%s)", exc.__class__.__name__)

    def clear(self) -> None:
        import redis

        try:
            keys = list(self.client.scan_iter(match=self.prefix + "*", count=500))
            if keys:
                self.client.delete(*keys)
        except redis.RedisError as exc:
            log.warning("cache clear failed (%s)", exc.__class__.__name__)


class NullCache:
    """Caching switched off (SCOPE_CACHE=off): every read goes to the database."""

    backend = "off"

    def get(self, key: str):
        return None

    def set(self, key: str, value, ttl: int = DEFAULT_TTL) -> None:
        return None

    def clear(self) -> None:
        return None


_cache = None
_cache_lock = threading.Lock()


def build(redis_url: str | None, mode: str | None = None):
    if (mode or "").lower() == "off":
        return NullCache()
    return RedisCache(redis_url) if redis_url else MemoryCache()


def get_cache():
    """The process's cache, built once from REDIS_URL and SCOPE_CACHE."""
    global _cache
    if _cache is None:
        with _cache_lock:
            if _cache is None:
                _cache = build(os.environ.get("REDIS_URL") or None, os.environ.get("SCOPE_CACHE"))
    return _cache


def set_cache(cache) -> None:
    """Replace the process's cache (the app factory, benchmarks and tests)."""
    global _cache
    _cache = cache


def cached(key: str, compute: Callable[[], Any], ttl: int = DEFAULT_TTL, cache=None):
    """The cached value for ``key``, computing and storing it on a miss."""
    cache = cache or get_cache()
    value = cache.get(key)
    if value is not None:
        return value
    value = compute()
    cache.set(key, value, ttl)
    return value
