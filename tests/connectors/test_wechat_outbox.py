"""The customer-service API path against a fake WeChat server on loopback: token caching and
refresh, outages (connection refused, HTTP 500), restarts, and delivery exactly once afterwards."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.wechat.api_client import ApiError, TokenStore, WeChatApi
from connectors.wechat.outbox import Outbox, OutboxRow
from core.channel_settings import OutboxSettings
from core.clock import ManualClock
from tests.connectors.conftest import APP_SECRETS, make_channel, serve
from tests.utils.wechat import (
    OPENID,
    FakeOnMessage,
    FakeWeChatServer,
    encrypted_push,
    fake_wechat,
    wait_until,
)

SETTINGS = OutboxSettings()  # as shipped: 2 s back-off doubling to 300 s, given up after 48 hours


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server() -> Iterator[FakeWeChatServer]:
    with fake_wechat(APP_SECRETS) as server:
        yield server


def _api(server: FakeWeChatServer, path: Path, clock: ManualClock | None = None) -> WeChatApi:
    return WeChatApi(
        api_base=server.base,
        secrets=dict(APP_SECRETS),
        tokens=TokenStore(path),
        timeout=5,
        clock=clock or ManualClock(),
    )


def test_token_is_cached_and_refreshed_when_rejected(server: FakeWeChatServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        api = _api(server, tmp_path / "wechat.sqlite")
        try:
            for i in range(3):
                await api.send_text("wxmini", OPENID, f"消息{i}")
            assert server.api.token_requests == 1
            server.api.expire_tokens()  # WeChat answers 40001 to the cached token
            await api.send_text("wxmini", OPENID, "消息3")
            assert server.api.token_requests == 2
        finally:
            await api.close()

    asyncio.run(scenario())
    assert server.api.contents() == ["消息0", "消息1", "消息2", "消息3"]


def test_token_is_refreshed_before_it_expires(tmp_path: Path, clock: ManualClock) -> None:
    """WeChat's token lives expires_in seconds; govbot fetches a new one 300 s before that."""
    with fake_wechat(APP_SECRETS, expires_in=301) as server:

        async def scenario() -> None:
            api = _api(server, tmp_path / "wechat.sqlite", clock)
            try:
                await api.send_text("wxmini", OPENID, "一")
                await api.send_text("wxmini", OPENID, "二")
                assert server.api.token_requests == 1
                clock.advance(seconds=1.2)
                await api.send_text("wxmini", OPENID, "三")
                assert server.api.token_requests == 2
            finally:
                await api.close()

        asyncio.run(scenario())


def test_token_is_shared_by_workers(server: FakeWeChatServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        first, second = _api(server, tmp_path / "w.sqlite"), _api(server, tmp_path / "w.sqlite")
        try:
            await first.send_text("wxmini", OPENID, "甲")
            await second.send_text("wxmini", OPENID, "乙")
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())
    assert server.api.token_requests == 1


def test_wrong_secret_and_permanent_errors(server: FakeWeChatServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        api = WeChatApi(
            api_base=server.base, secrets={"wxmini": "wrong"}, tokens=TokenStore(tmp_path / "t.sqlite")
        )
        try:
            with pytest.raises(ApiError, match="40125") as refused:
                await api.send_text("wxmini", OPENID, "x")
            assert not refused.value.permanent
            with pytest.raises(ApiError, match="no AppSecret"):
                await api.send_text("wxother", OPENID, "x")
        finally:
            await api.close()

    asyncio.run(scenario())
    assert server.api.sent == []


def _drain_until_empty(outbox: Outbox, api: WeChatApi, rounds: int = 40) -> int:
    """Drain, moving the outbox's clock past the longest back-off between rounds (no sleeping)."""

    async def scenario() -> int:
        delivered = 0
        try:
            for _ in range(rounds):
                delivered += await outbox.drain_once(
                    lambda row: api.send_text(row.app_id, row.touser, row.content)
                )
                if set(outbox.counts()) <= {"done", "failed"}:
                    break
                assert isinstance(outbox.clock, ManualClock)
                outbox.clock.advance(seconds=outbox.settings.retry.backoff_max_seconds)
        finally:
            await api.close()
        return delivered

    return asyncio.run(scenario())


def test_outage_restart_and_recovery_deliver_everything_once(
    server: FakeWeChatServer, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "wechat.sqlite"
    outbox = Outbox(path, SETTINGS, clock=clock)
    outbox.add(app_id="wxmini", touser="userA", parts=["A第一段", "A第二段"], msg_key="wxmini:msg:1")
    outbox.add(app_id="wxmini", touser="userB", parts=["B答复"], msg_key="wxmini:msg:2")
    outbox.add(app_id="wxmini", touser="userA", parts=["A再一条"], msg_key="wxmini:msg:3")
    assert outbox.add(app_id="wxmini", touser="userA", parts=["重复"], msg_key="wxmini:msg:1") == 0

    server.stop()  # connection refused
    assert _drain_until_empty(outbox, _api(server, path), rounds=3) == 0
    assert outbox.counts() == {"pending": 4}

    server.start()
    server.api.failing = True  # HTTP 500
    assert _drain_until_empty(outbox, _api(server, path), rounds=3) == 0
    outbox.close()  # the worker restarts; its rows stay in the data directory

    server.api.failing = False
    server.api.expire_tokens()
    reopened = Outbox(path, SETTINGS, clock=clock)
    assert reopened.counts() == {"pending": 4}
    assert _drain_until_empty(reopened, _api(server, path)) == 4
    assert reopened.counts() == {"done": 4}
    sent = [(m["touser"], m["text"]["content"]) for m in server.api.sent]
    assert sorted(sent) == sorted(
        [("userA", "A第一段"), ("userA", "A第二段"), ("userB", "B答复"), ("userA", "A再一条")]
    )
    assert [c for u, c in sent if u == "userA"] == ["A第一段", "A第二段", "A再一条"]  # order kept
    with sqlite3.connect(path) as conn:  # delivered answers are not kept at rest
        assert {row[0] for row in conn.execute("SELECT content FROM wechat_sends")} == {""}
    assert _drain_until_empty(reopened, _api(server, path), rounds=2) == 0
    assert len(server.api.sent) == 4


def test_permanent_error_and_give_up_mark_rows_failed(
    server: FakeWeChatServer, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "wechat.sqlite"
    outbox = Outbox(path, SETTINGS, clock=clock)
    outbox.add(app_id="wxmini", touser="u1", parts=["超过48小时"], msg_key="k1")
    server.api.errcode = 45015
    _drain_until_empty(outbox, _api(server, path), rounds=3)
    assert outbox.counts() == {"failed": 1}

    server.api.errcode = 0
    server.api.failing = True
    patient = Outbox(path, SETTINGS, clock=clock)
    patient.add(app_id="wxmini", touser="u2", parts=["过期"], msg_key="k2")
    _drain_until_empty(patient, _api(server, path), rounds=3)
    assert patient.counts() == {"failed": 1, "pending": 1}  # failing, but inside the 48 hours
    clock.advance(hours=48)
    _drain_until_empty(patient, _api(server, path), rounds=3)
    assert patient.counts() == {"failed": 2}
    server.api.failing = False
    assert _drain_until_empty(patient, _api(server, path), rounds=2) == 0
    assert server.api.sent == []


def test_two_workers_draining_one_outbox_send_each_row_once(
    server: FakeWeChatServer, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "wechat.sqlite"
    first, second = Outbox(path, SETTINGS, clock=clock), Outbox(path, SETTINGS, clock=clock)
    for i in range(20):
        first.add(app_id="wxmini", touser=f"user{i}", parts=[f"答复{i}"], msg_key=f"k{i}")

    async def scenario() -> None:
        api_a, api_b = _api(server, path), _api(server, path)

        async def send_a(row: OutboxRow) -> None:
            await asyncio.sleep(0)  # let the other worker run between claims
            await api_a.send_text(row.app_id, row.touser, row.content)

        async def send_b(row: OutboxRow) -> None:
            await asyncio.sleep(0)
            await api_b.send_text(row.app_id, row.touser, row.content)

        try:
            await asyncio.gather(first.drain_once(send_a), second.drain_once(send_b))
        finally:
            await api_a.close()
            await api_b.close()

    asyncio.run(scenario())
    assert sorted(server.api.contents()) == sorted(f"答复{i}" for i in range(20))
    assert first.counts() == {"done": 20}


def test_channel_restart_keeps_undelivered_answers(tmp_path: Path) -> None:
    """A mini-program answer queued while WeChat's API is down is sent after a restart."""
    with fake_wechat(APP_SECRETS) as server:
        server.api.failing = True
        inner = json.dumps(
            {
                "ToUserName": "g",
                "FromUserName": OPENID,
                "CreateTime": 1,
                "MsgType": "text",
                "Content": "户口迁移",
            }
            | {"MsgId": 99}
        )
        query, body = encrypted_push(inner, "wxmini", json_body=True)
        channel = make_channel(tmp_path, server.base)
        with TestClient(serve(channel, FakeOnMessage())) as client:
            assert (
                client.post("/connectors/wechat/wxmini", params=query, content=body.encode()).text
                == "success"
            )
            assert channel.outbox is not None
            outbox = channel.outbox
            assert wait_until(lambda: outbox.counts() == {"pending": 1})
        server.api.failing = False
        bot = FakeOnMessage()
        restarted = make_channel(tmp_path, server.base)
        with TestClient(serve(restarted, bot)):
            assert wait_until(lambda: server.api.contents() == ["关于“户口迁移”的答复。"])
            # the retry WeChat may still send after the restart is recognised
            retry = TestClient(serve(restarted, bot))
            assert (
                retry.post("/connectors/wechat/wxmini", params=query, content=body.encode()).text == "success"
            )
        assert bot.calls == []
        assert server.api.contents() == ["关于“户口迁移”的答复。"]


def test_cancelled_round_gives_its_rows_back(tmp_path: Path, clock: ManualClock) -> None:
    """A worker stopped mid-send leaves no row leased: the next worker takes them at once."""
    outbox = Outbox(tmp_path / "wechat.sqlite", SETTINGS, clock=clock)
    outbox.add(app_id="wxmini", touser="u", parts=["一", "二"], msg_key="k")

    async def scenario() -> None:
        sending = asyncio.Event()

        async def hang(row: OutboxRow) -> None:
            sending.set()
            await asyncio.Event().wait()  # never answers

        round_ = asyncio.create_task(outbox.drain_once(hang))
        await sending.wait()
        assert outbox.counts() == {"sending": 1, "pending": 1}
        round_.cancel()
        await asyncio.gather(round_, return_exceptions=True)

    asyncio.run(scenario())
    assert outbox.counts() == {"pending": 2}
    delivered: list[str] = []

    async def record(row: OutboxRow) -> None:
        delivered.append(row.content)

    assert asyncio.run(Outbox(tmp_path / "wechat.sqlite", SETTINGS, clock=clock).drain_once(record)) == 2
    assert delivered == ["一", "二"]


def test_a_lost_lease_cannot_settle_and_the_row_is_sent_again(tmp_path: Path, clock: ManualClock) -> None:
    """A worker that outlives its lease finds the row taken over: its outcome is not recorded."""
    slow, fast = (Outbox(tmp_path / "wechat.sqlite", SETTINGS, clock=clock) for _ in range(2))
    slow.add(app_id="wxmini", touser="u", parts=["一"], msg_key="k")
    sent: list[str] = []

    async def scenario() -> None:
        sending, answer = asyncio.Event(), asyncio.Event()

        async def stuck(row: OutboxRow) -> None:
            sending.set()
            await answer.wait()
            sent.append("slow")

        async def quick(row: OutboxRow) -> None:
            sent.append("fast")

        round_ = asyncio.create_task(slow.drain_once(stuck))
        await sending.wait()
        assert await fast.drain_once(quick) == 0  # still leased to the slow worker
        clock.advance(seconds=SETTINGS.retry.lease_seconds + 1)
        assert await fast.drain_once(quick) == 1  # the lease ran out: taken over and delivered
        answer.set()
        assert await round_ == 0  # the slow worker's late success is "stale", not counted

    asyncio.run(scenario())
    assert sent == ["fast", "slow"] and fast.counts() == {"done": 1}


def test_rows_of_the_old_table_are_adopted(tmp_path: Path, clock: ManualClock) -> None:
    """A wechat.sqlite written before the shared engine keeps its undelivered answers."""
    import sqlite3

    path = tmp_path / "wechat.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE wechat_outbox (id INTEGER PRIMARY KEY, app_id TEXT, touser TEXT, content TEXT,"
            " msg_key TEXT, part INTEGER, status TEXT, attempts INTEGER, next_at REAL, lease_until REAL,"
            " created_at REAL, done_at REAL, last_error TEXT);"
            "INSERT INTO wechat_outbox VALUES"
            " (1, 'wxmini', 'u', '旧的', 'k', 0, 'pending', 2, 0, 0, 0, NULL, 'x'),"
            " (2, 'wxmini', 'u', '已发', 'j', 0, 'done', 1, 0, 0, 0, 1, '');"
        )
    outbox = Outbox(path, SETTINGS, clock=clock)
    assert outbox.counts() == {"pending": 1}
    delivered: list[str] = []

    async def record(row: OutboxRow) -> None:
        delivered.append(row.content)

    assert asyncio.run(outbox.drain_once(record)) == 1 and delivered == ["旧的"]
