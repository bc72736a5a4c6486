"""WeChat's retries never produce a second answer: the dedupe stores (SQLite and Redis) and
duplicate pushes through HTTP, one after another, concurrently, and across two workers.

SQLite records expire by the injected clock; Redis records by the TTL Redis was given, so
expiry is tested without waiting for either."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from fastapi.testclient import TestClient

from connectors.wechat.dedupe import RedisDedupe, SQLiteDedupe
from core.clock import ManualClock
from tests.connectors.conftest import PUSHED_AT, Harness, make_channel, serve, wx_push, wx_query
from tests.utils.wechat import FakeOnMessage, FakeWeChatServer, text_xml, wx_decrypt

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_reason() -> str:
    """Empty when the local Redis answers, else why the Redis tests are skipped."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL}: {exc}"
    return ""


REDIS_SKIP = _redis_reason()
if REDIS_SKIP:
    print(f"skipping Redis dedupe tests: {REDIS_SKIP}")
needs_redis = pytest.mark.skipif(bool(REDIS_SKIP), reason=REDIS_SKIP or "Redis reachable")


Store = SQLiteDedupe | RedisDedupe


@dataclass
class Backend:
    """Stores sharing one backend, as two workers would, and a way to let a record's TTL run out."""

    make: Callable[[int], Store]
    expire: Callable[[str, int], None]  # (key, ttl the store was given)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=needs_redis)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made: list[Store] = []
    prefix = f"govbot:test:{uuid.uuid4().hex}:"
    clock = ManualClock()

    def make(ttl: int = 600) -> Store:
        store: Store
        if request.param == "sqlite":
            store = SQLiteDedupe(tmp_path / "wechat.sqlite", ttl, clock=clock)
        else:
            store = RedisDedupe(REDIS_URL, ttl, prefix=prefix)
        made.append(store)
        return store

    def expire(key: str, ttl: int) -> None:
        if request.param == "sqlite":
            clock.advance(seconds=ttl - 1)
            assert not made[0].claim(key)  # one second before the TTL runs out: still taken
            clock.advance(seconds=2)
            return
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            assert 0 < client.pttl(prefix + key) <= ttl * 1000  # the claim set Redis's TTL
            assert client.pexpire(prefix + key, 0)  # and now it has run out: Redis drops the key
        finally:
            client.close()

    yield Backend(make, expire)
    for store in made:
        store.close()


def test_claim_once_then_outcome(stores: Backend) -> None:
    worker_a, worker_b = stores.make(600), stores.make(600)
    assert worker_a.claim("wx:msg:1")
    assert not worker_a.claim("wx:msg:1")
    assert not worker_b.claim("wx:msg:1")
    assert worker_b.outcome("wx:msg:1") is None  # still being answered
    worker_a.finish("wx:msg:1", '{"reply": "答复"}')
    assert worker_b.outcome("wx:msg:1") == '{"reply": "答复"}'
    assert worker_b.claim("wx:msg:2")
    worker_a.release("wx:msg:2")
    assert worker_b.claim("wx:msg:2")


def test_concurrent_claims_have_one_winner(stores: Backend) -> None:
    workers = [stores.make(600) for _ in range(3)]
    barrier = threading.Barrier(9)

    def claim(i: int) -> bool:
        barrier.wait()
        return workers[i % 3].claim("wx:msg:race")

    with ThreadPoolExecutor(9) as pool:
        results = list(pool.map(claim, range(9)))
    assert results.count(True) == 1


def test_records_expire(stores: Backend) -> None:
    store = stores.make(600)
    assert store.claim("wx:msg:old")
    assert not store.claim("wx:msg:old")
    stores.expire("wx:msg:old", 600)
    assert store.claim("wx:msg:old")


# -- through HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=needs_redis)])
def test_same_msgid_three_times_answers_once(harness: Callable[..., Harness], backend: str) -> None:
    h = harness(redis_url=REDIS_URL if backend == "redis" else "")
    msg_id = str(uuid.uuid4().int % 10**18)
    contents = []
    for _ in range(3):
        query, body = wx_push(text_xml(content="医保怎么转移", msg_id=msg_id), "wxsafe")
        response = h.client.post("/connectors/wechat/wxsafe", params=query, content=body.encode())
        outer = {c.tag: c.text for c in SafeET.fromstring(response.text)}
        inner, _ = wx_decrypt(outer["Encrypt"] or "")
        contents.append({c.tag: c.text for c in SafeET.fromstring(inner)}["Content"])
    assert len(h.bot.calls) == 1
    assert contents == ["关于“医保怎么转移”的答复。"] * 3


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=needs_redis)])
def test_concurrent_retries_wait_for_the_first_answer(harness: Callable[..., Harness], backend: str) -> None:
    """Retries that arrive while the first delivery is being answered get the same reply."""
    h = harness(FakeOnMessage(delay=0.6), redis_url=REDIS_URL if backend == "redis" else "")
    msg_id = str(uuid.uuid4().int % 10**18)
    xml = text_xml(content="不动产登记", msg_id=msg_id)

    def push(_: int) -> str:
        return h.client.post("/connectors/wechat/wxplain", params=wx_query(), content=xml.encode()).text

    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(push, range(3)))
    assert len(h.bot.calls) == 1
    contents = [{c.tag: c.text for c in SafeET.fromstring(r)}["Content"] for r in replies]
    assert contents == ["关于“不动产登记”的答复。"] * 3


def test_two_workers_sharing_the_data_dir_answer_once(tmp_path: Path, wechat_api: FakeWeChatServer) -> None:
    """Two app processes (here: two channels on one data directory) get the same push."""
    bots = [FakeOnMessage(delay=0.4), FakeOnMessage(delay=0.4)]
    clock = ManualClock(PUSHED_AT)

    async def patient(_seconds: float) -> None:  # budget and retry wait never run out: no timing
        await asyncio.get_running_loop().create_future()  # each app runs its own event loop

    channels = [make_channel(tmp_path, wechat_api.base, clock=clock, sleep=patient) for _ in bots]
    xml = text_xml(content="出生证明", msg_id="880088")
    with TestClient(serve(channels[0], bots[0])) as one, TestClient(serve(channels[1], bots[1])) as two:

        def push(client: TestClient) -> str:
            return client.post("/connectors/wechat/wxplain", params=wx_query(), content=xml.encode()).text

        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(push, [one, two, one, two]))
    assert len(bots[0].calls) + len(bots[1].calls) == 1
    assert len({r.split("<CreateTime>")[0] + r.split("</CreateTime>")[1] for r in replies}) == 1


def test_events_are_deduplicated_by_sender_and_time(harness: Callable[..., Harness]) -> None:
    h = harness()
    xml = text_xml(msg_id="", MsgType="event", Event="subscribe", Content="", CreateTime="1700000000")
    first = h.client.post("/connectors/wechat/wxplain", params=wx_query(), content=xml.encode())
    second = h.client.post("/connectors/wechat/wxplain", params=wx_query(), content=xml.encode())
    assert first.status_code == second.status_code == 200
    assert h.dedupe_rows() == 1


@needs_redis
def test_deployments_sharing_one_redis_keep_their_own_records(tmp_path: Path) -> None:
    """The Redis records live under `server.redis_prefix`, so a second deployment on the same
    Redis does not take a push as already answered by the first."""
    from connectors.wechat.dedupe import make_dedupe

    base = f"govbot-test-{uuid.uuid4().hex}:"
    first, second = (
        make_dedupe(data_dir=tmp_path, redis_url=REDIS_URL, ttl_seconds=60, redis_prefix=f"{base}{n}:")
        for n in ("a", "b")
    )
    try:
        assert first.claim("msg-1")
        assert second.claim("msg-1")  # the other deployment has not seen it
        assert not first.claim("msg-1")
    finally:
        first.close()
        second.close()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{base}*"):
            client.delete(key)
