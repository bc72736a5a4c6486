"""Rate limits per client address and per chat session (fixed one-minute windows).

In one process the counters live in memory; with REDIS_URL set they live in Redis
(INCR + EXPIRE), so every worker and machine counts against the same limit. While Redis
cannot be reached, each worker counts in memory (a warning and `govbot_degraded_total`):
limits get per-worker, never absent, and requests keep being answered.
"""

from __future__ import annotations

import threading
from typing import Protocol

from core import degraded
from core.clock import Clock, system_clock
from core.errors import RateLimitedError as RateLimitedError  # raised here, caught by connectors

WINDOW_SECONDS = 60
REDIS_RETRY_SECONDS = 5


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> int:
        """Count one request for `key`; return seconds to wait (0 when allowed)."""
        ...


class MemoryRateLimiter:
    def __init__(self, *, clock: Clock = system_clock) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, key: str, limit: int) -> int:
        now = self._clock().timestamp()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            if len(self._counts) > 100_000:  # drop old windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        return 0 if count <= limit else int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "govbot:rate:", *, clock: Clock = system_clock) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._prefix = prefix
        self._clock = clock
        self.fallback = MemoryRateLimiter(clock=clock)
        self._down_until = 0.0  # after a failure, skip Redis for a few seconds (no 1 s wait per request)

    def hit(self, key: str, limit: int) -> int:
        now = self._clock().timestamp()
        if now < self._down_until:
            return self._degraded(key, limit)
        window = int(now // WINDOW_SECONDS)
        name = f"{self._prefix}{key}:{window}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS * 2)
            count = int(pipe.execute()[0])
        except self._errors as exc:
            self._down_until = now + REDIS_RETRY_SECONDS
            degraded.report("redis", "rate_limit", exc)
            return self.fallback.hit(key, limit)
        return 0 if count <= limit else int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1

    def ping(self) -> None:
        """Raises when Redis cannot be reached (for /readyz)."""
        self._redis.ping()

    def _degraded(self, key: str, limit: int) -> int:
        degraded.report("redis", "rate_limit")
        return self.fallback.hit(key, limit)


def make_rate_limiter(redis_url: str = "", redis_prefix: str = "govbot:") -> RateLimiter:
    return RedisRateLimiter(redis_url, prefix=f"{redis_prefix}rate:") if redis_url else MemoryRateLimiter()
