"""The outbox engine on SQLite and PostgreSQL, driven by a ManualClock: claim, lease expiry and
the stale-claim guard, capped back-off, give-up policies, per-key order and release."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from core.clock import ManualClock
from core.db import make_engine
from core.outbox import DELIVERED, FAILED, RETRYING, STALE, Attempt, Outbox, OutboxColumns, drain
from core.retry import RetryPolicy
from tests.utils.ticketdb import BACKENDS, database_url


class _Base(DeclarativeBase):
    pass


class Row(OutboxColumns, _Base):
    __tablename__ = "test_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(20))


@dataclass(frozen=True)
class Msg:
    key: str


def _load(_session: Session, row: Row) -> Msg:
    return Msg(row.key)


POLICY = RetryPolicy(backoff_base_seconds=2, backoff_max_seconds=300, lease_seconds=30)


@dataclass
class Store:
    sessions: sessionmaker[Session]
    clock: ManualClock

    def run(self, job: Callable[[Session], Any]) -> Any:
        with self.sessions.begin() as session:
            return job(session)

    def add(self, *keys: str, topic: str = "t") -> None:
        now = self.clock()
        self.run(
            lambda s: s.add_all(
                [
                    Row(key=k, topic=topic, created_at=now, next_attempt_at=now, attempts=0, failed=False)
                    for k in keys
                ]
            )
        )

    def row(self, key: str) -> Row:
        return self.run(lambda s: s.scalar(select(Row).where(Row.key == key)))  # type: ignore[no-any-return]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        _Base.metadata.create_all(engine)
        yield Store(sessionmaker(engine, expire_on_commit=False), ManualClock())
        engine.dispose()


def outbox(policy: RetryPolicy = POLICY, order: str | None = None) -> Outbox[Msg]:
    return Outbox(Row, policy, load=_load, name="test.outbox", order_column=order)


def test_claim_takes_due_rows_oldest_first_under_one_lease(store: Store) -> None:
    box = outbox()
    store.add("a", "b", "c")
    store.clock.advance(seconds=1)
    store.add("later")  # due only from now on
    claimed = store.run(lambda s: box.claim(s, now=store.clock() - timedelta(seconds=1), limit=2))
    assert [c.message.key for c in claimed] == ["a", "b"] and len({c.token for c in claimed}) == 1
    assert all(c.attempts == 1 for c in claimed)
    a = store.row("a")
    assert (
        a.claim == claimed[0].token
        and a.next_attempt_at == store.clock() - timedelta(seconds=1) + POLICY.lease
    )
    rest = store.run(lambda s: box.claim(s, now=store.clock(), limit=10))
    assert [c.message.key for c in rest] == ["c", "later"]  # held rows are not claimed twice
    assert store.run(lambda s: box.claim(s, now=store.clock(), limit=10)) == []
    assert store.run(box.pending) == 4


def test_an_expired_lease_is_reclaimed_and_the_old_claim_cannot_settle(store: Store) -> None:
    box = outbox()
    store.add("a")
    (first,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))
    store.clock.advance(seconds=29)
    assert store.run(lambda s: box.claim(s, now=store.clock(), limit=1)) == []  # lease still held
    store.clock.advance(seconds=2)
    (second,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))  # the worker died?
    assert second.token != first.token and second.attempts == 2

    for late in (Attempt(), Attempt("HTTP 500"), Attempt("HTTP 401", permanent=True)):
        assert store.run(lambda s, r=late: box.settle(s, first, r, now=store.clock())) == STALE
    row = store.row("a")
    assert (
        row.delivered_at is None and not row.failed and row.last_error is None and row.claim == second.token
    )
    assert store.run(lambda s: box.release(s, first, now=store.clock())) is False

    assert store.run(lambda s: box.settle(s, second, Attempt(), now=store.clock())) == DELIVERED
    assert store.row("a").delivered_at == store.clock()
    assert store.run(lambda s: box.settle(s, second, Attempt(), now=store.clock())) == STALE  # once only


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 2), (2, 4), (3, 8), (8, 256), (9, 300), (40, 300), (500, 300)],
)
def test_backoff_doubles_up_to_the_cap(attempts: int, seconds: float) -> None:
    assert POLICY.delay(attempts) == timedelta(seconds=seconds)


def test_failed_sends_are_retried_after_the_capped_backoff(store: Store) -> None:
    box = outbox()
    store.add("a")
    waits = []
    for _ in range(10):
        (claim,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))
        assert store.run(lambda s, c=claim: box.settle(s, c, Attempt("boom"), now=store.clock())) == RETRYING
        row = store.row("a")
        assert row.claim is None and row.last_error == "boom"
        waits.append((row.next_attempt_at - store.clock()).total_seconds())
        store.clock.advance(seconds=waits[-1] - 1)
        assert store.run(lambda s: box.claim(s, now=store.clock(), limit=1)) == []  # not due yet
        store.clock.advance(seconds=1)
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


@pytest.mark.parametrize(
    ("policy", "failures", "age_hours", "outcome"),
    [
        ({"give_up_attempts": 3}, 2, 0, RETRYING),
        ({"give_up_attempts": 3}, 3, 0, FAILED),
        ({"give_up_hours": 48}, 5, 47, RETRYING),
        ({"give_up_hours": 48}, 1, 48, FAILED),
        ({"give_up_attempts": 3, "give_up_hours": 48}, 1, 49, FAILED),
        ({}, 60, 24 * 365, RETRYING),  # forever
    ],
    ids=["attempts-left", "attempts-used", "young", "too-old", "either-limit", "forever"],
)
def test_give_up_policies(
    store: Store, policy: dict[str, Any], failures: int, age_hours: float, outcome: str
) -> None:
    box = outbox(POLICY.model_copy(update=policy))
    store.add("a")
    store.clock.advance(hours=age_hours)
    store.run(lambda s: s.execute(text("UPDATE test_outbox SET attempts = :n"), {"n": failures - 1}))
    (claim,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))
    assert claim.attempts == failures
    assert store.run(lambda s: box.settle(s, claim, Attempt("HTTP 503"), now=store.clock())) == outcome
    assert store.row("a").failed is (outcome == FAILED)


def test_a_permanent_error_fails_at_once_even_when_retried_forever(store: Store) -> None:
    box = outbox()
    store.add("a")
    (claim,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))
    assert (
        store.run(lambda s: box.settle(s, claim, Attempt("HTTP 401", permanent=True), now=store.clock()))
        == FAILED
    )
    store.clock.advance(days=1)
    assert store.run(lambda s: box.claim(s, now=store.clock(), limit=1)) == []


def test_rows_of_one_key_go_out_in_order(store: Store) -> None:
    box = outbox(order="topic")
    store.add("x1", "x2", topic="x")
    store.add("y1", topic="y")
    first = store.run(lambda s: box.claim(s, now=store.clock(), limit=10))
    assert [c.message.key for c in first] == ["x1", "y1"]  # x2 waits for x1
    store.run(lambda s: box.settle(s, first[0], Attempt("down"), now=store.clock()))
    store.clock.advance(seconds=10)  # past x1's 2 s back-off, inside y1's 30 s lease
    again = store.run(lambda s: box.claim(s, now=store.clock(), limit=10))
    assert [c.message.key for c in again] == ["x1"]  # retried before x2 goes (y1 still leased)
    store.run(lambda s: box.settle(s, again[0], Attempt(), now=store.clock()))
    assert [c.message.key for c in store.run(lambda s: box.claim(s, now=store.clock(), limit=10))] == ["x2"]


def test_release_gives_a_row_back_without_counting_the_attempt(store: Store) -> None:
    box = outbox()
    store.add("a")
    (claim,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))
    assert store.run(lambda s: box.release(s, claim, now=store.clock())) is True
    row = store.row("a")
    assert row.attempts == 0 and row.claim is None
    (again,) = store.run(lambda s: box.claim(s, now=store.clock(), limit=1))  # due at once
    assert again.attempts == 1


def test_drain_delivers_and_stops_when_the_receiver_is_down(store: Store) -> None:
    box = outbox()
    store.add("a", "b", "c")
    sent: list[str] = []

    def down(message: Msg) -> Attempt:
        sent.append(message.key)
        return Attempt("ConnectError")

    report = drain(box, run=store.run, send=down, clock=store.clock, batch_size=2)
    assert report.retrying == ["a", "b"] and sent == ["a", "b"]  # one round, then it stops trying
    store.clock.advance(seconds=2)
    report = drain(box, run=store.run, send=lambda m: Attempt(), clock=store.clock, batch_size=2)
    assert sorted(report.delivered) == ["a", "b", "c"] and store.run(box.pending) == 0


def test_postgres_claimers_skip_locked_rows(store: Store) -> None:
    if store.sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is the PostgreSQL claim; SQLite writers queue on BEGIN IMMEDIATE")
    box = outbox()
    store.add(*"abcdef")
    with store.sessions.begin() as first:
        held = box.claim(first, now=store.clock(), limit=4)  # not committed: rows locked
        with store.sessions.begin() as second:
            second.execute(text("SET LOCAL lock_timeout = '3s'"))  # waiting instead of skipping fails
            other = box.claim(second, now=store.clock(), limit=10)
    assert [c.message.key for c in held] == ["a", "b", "c", "d"]
    assert [c.message.key for c in other] == ["e", "f"]


def test_a_table_without_the_columns_is_refused() -> None:
    class Bare(_Base):
        __tablename__ = "bare"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    with pytest.raises(TypeError, match="next_attempt_at"):
        Outbox(Bare, POLICY, load=_load, name="x")
