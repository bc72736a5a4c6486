"""Lockouts after repeated failures: wrong last-4 answers to a status look-up, failed log-ins.

Failures are counted per key (a ticket number, a client, a username) across sessions and
workers: in Redis when REDIS_URL is set, otherwise in the ticket database (`guard_strikes`).
When Redis cannot be reached, the database counts instead (logged), so a Redis outage never
opens the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core import degraded
from core.clock import Clock
from tickets.db import TicketDB
from tickets.models import GuardStrike

MAX_LOCK_SECONDS = 86_400


class StrikeStore(Protocol):
    def locked_for(self, key: str) -> int:
        """Seconds `key` stays locked (0: not locked)."""
        ...

    def strike(self, key: str, *, window_seconds: int) -> int:
        """Count one failure for `key` (the count restarts after a quiet window); the new count."""
        ...

    def lock(self, key: str, seconds: int) -> None: ...

    def clear(self, key: str) -> None: ...


class DbStrikeStore:
    """Counters in the `guard_strikes` table, on the desk's clock."""

    def __init__(self, db: TicketDB, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def locked_for(self, key: str) -> int:
        def job(s: Session) -> int:
            row = s.get(GuardStrike, key)
            if row is None or row.locked_until is None:
                return 0
            return max(0, int((row.locked_until - self.clock()).total_seconds() + 0.999))

        return self.db.run(job)

    def strike(self, key: str, *, window_seconds: int) -> int:
        def job(s: Session) -> int:
            now = self.clock()
            row = s.get(GuardStrike, key, with_for_update=True)
            if row is None:
                row = GuardStrike(key=key, count=0, window_ends=now)
                s.add(row)
            if row.window_ends <= now:
                row.count = 0
            row.count += 1
            row.window_ends = now + timedelta(seconds=window_seconds)
            s.flush()
            return row.count

        return self.db.run(job, retry_integrity=True)

    def lock(self, key: str, seconds: int) -> None:
        def job(s: Session) -> None:
            row = s.get(GuardStrike, key)
            if row is not None:
                row.locked_until = self.clock() + timedelta(seconds=seconds)

        self.db.run(job)

    def clear(self, key: str) -> None:
        def job(s: Session) -> None:
            row = s.get(GuardStrike, key)
            if row is not None:
                s.delete(row)

        self.db.run(job)


class RedisStrikeStore:
    """Counters in Redis (`<prefix>strike:<key>`, `<prefix>lock:<key>`); the database counts
    while Redis is down."""

    def __init__(self, url: str, prefix: str, fallback: StrikeStore) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._prefix = prefix
        self.fallback = fallback

    def _try(self, name: str, key: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self, f"_{name}")(key, *args, **kwargs)
        except self._errors as exc:
            degraded.report("redis", "lockout", exc)
            return getattr(self.fallback, name)(key, *args, **kwargs)

    def locked_for(self, key: str) -> int:
        return int(self._try("locked_for", key))

    def strike(self, key: str, *, window_seconds: int) -> int:
        return int(self._try("strike", key, window_seconds=window_seconds))

    def lock(self, key: str, seconds: int) -> None:
        self._try("lock", key, seconds)

    def clear(self, key: str) -> None:
        self._try("clear", key)

    def _locked_for(self, key: str) -> int:
        ttl = int(self._redis.ttl(f"{self._prefix}lock:{key}"))  # type: ignore[arg-type]
        return max(ttl, 0)

    def _strike(self, key: str, *, window_seconds: int) -> int:
        name = f"{self._prefix}strike:{key}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds)
        return int(pipe.execute()[0])

    def _lock(self, key: str, seconds: int) -> None:
        self._redis.set(f"{self._prefix}lock:{key}", b"1", ex=max(1, seconds))

    def _clear(self, key: str) -> None:
        self._redis.delete(f"{self._prefix}strike:{key}", f"{self._prefix}lock:{key}")


def open_strike_store(
    db: TicketDB, clock: Clock, redis_url: str = "", redis_prefix: str = "govbot:"
) -> StrikeStore:
    """Redis when configured (shared by workers and machines), the ticket database otherwise."""
    store = DbStrikeStore(db, clock)
    return RedisStrikeStore(redis_url, f"{redis_prefix}guard:", store) if redis_url else store


@dataclass(frozen=True)
class Lockout:
    """`max_failures` failures of one key within the window lock it for `lock_seconds`; with
    `backoff`, each further failure doubles the lock (capped at a day)."""

    store: StrikeStore
    max_failures: int
    lock_seconds: int
    backoff: bool = False

    def locked_for(self, *keys: str) -> int:
        return max((self.store.locked_for(k) for k in keys), default=0)

    def fail(self, *keys: str) -> int:
        """Count a failure on every key; the longest lock that results (0: none)."""
        longest = 0
        for key in keys:
            count = self.store.strike(key, window_seconds=max(self.lock_seconds, 60) * 4)
            if count >= self.max_failures:
                extra = count - self.max_failures if self.backoff else 0
                seconds = min(self.lock_seconds * 2 ** min(extra, 20), MAX_LOCK_SECONDS)
                self.store.lock(key, seconds)
                longest = max(longest, seconds)
        return longest

    def succeed(self, *keys: str) -> None:
        for key in keys:
            self.store.clear(key)
