"""Live handoff (转人工) through the real app: the web door, the agents' inbox, working hours.

Time is a ManualClock (Monday 2026-11-23 10:00 Beijing unless moved): working hours, presence
and the wait notice are judged by it, never by the machine's clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.clock import ManualClock
from server.app import create_app
from tests.server.conftest import ADMIN_TOKEN, AGENT_TOKEN, server_settings
from tests.utils.ticketdb import copy_data_dir

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}
OTHER_AGENT = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # admin: "agent or above"
PHONE, ID_CARD = "13812345678", "110101199003071234"


class Served:
    def __init__(self, client: TestClient, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock
        self.live = client.app.state.live  # type: ignore[attr-defined]

    def say(self, session: str, text: str) -> dict:
        response = self.client.post(
            "/api/v1/chat", json={"session_id": session, "text": text, "channel": "web"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def inbox(self, headers: dict[str, str] = AGENT) -> dict:
        response = self.client.get("/api/v1/handoff/inbox", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def lines(self, handoff: dict, after: int = 0) -> dict:
        response = self.client.get(
            f"/api/v1/handoff/{handoff['conversation']}/lines",
            params={"token": handoff["token"], "after": after},
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def served(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("handoff") / "data"
    copy_data_dir(prepared_dir, data_dir)  # on PostgreSQL: its own schema too
    clock = ManualClock()
    app = create_app(server_settings(data_dir))
    app.state.desk.clock = clock
    for engine in app.state.service.engines:  # whichever engine answers keeps the test's time
        engine.clock = clock
    with TestClient(app) as client:
        yield Served(client, clock)


@pytest.fixture(autouse=True)
def monday_morning(served: Served) -> None:
    served.clock.set_local("2026-11-23 10:00")


def test_nobody_in_the_console_means_an_honest_no_and_a_ticket_offer(served: Served) -> None:
    served.clock.set_local("2026-11-23 10:30")  # working hours, but no inbox has been open
    served.clock.advance(hours=24 * 7)  # a week later: any earlier heartbeat has long expired
    session = uuid.uuid4().hex
    reply = served.say(session, "转人工")
    assert reply["action"] == "handoff"
    assert reply["handoff"]["status"] == "no_agent" and reply["handoff"]["offer_ticket"] is True
    assert "没有人工客服在线" in reply["reply"] and "提交诉求" in reply["reply"]
    assert "请稍候" not in reply["reply"]  # no promise of a transfer that will not happen
    form = served.say(session, "好的")  # the offer taken: the ticket form starts
    assert form["action"] == "ticket" and form["form"] is not None


def test_outside_working_hours_the_citizen_hears_when_agents_are_back(served: Served) -> None:
    served.clock.set_local("2026-11-28 10:00")  # a Saturday
    served.inbox()  # an agent's inbox is open, yet it is not live-chat time
    reply = served.say(uuid.uuid4().hex, "转人工")
    assert reply["handoff"]["status"] == "closed"
    assert "周一至周五 09:00-18:00" in reply["reply"]
    assert "11月30日09:00" in reply["reply"]  # Monday's start, in local time and in words
    assert "请稍候" not in reply["reply"]
    served.clock.set_local("2026-11-23 18:30")  # a weekday evening: back tomorrow
    evening = served.say(uuid.uuid4().hex, "转人工")
    assert evening["handoff"]["status"] == "closed" and "明天09:00" in evening["reply"]


def test_web_citizen_and_agents_from_queue_to_ticket(served: Served) -> None:
    served.inbox()  # agent 1 opens the inbox: present
    citizen = uuid.uuid4().hex
    answer = served.say(citizen, "居住证怎么办理")
    opened = served.say(citizen, "我要转人工")
    handoff = opened["handoff"]
    assert opened["action"] == "handoff" and handoff["status"] == "waiting"
    assert handoff["ahead"] == 0 and "下一位" in opened["reply"]

    # The agent sees it waiting, with the bot's transcript so far and the wait growing.
    served.clock.advance(seconds=40)
    waiting = [c for c in served.inbox()["conversations"] if c["id"] == handoff["conversation"]]
    assert waiting and waiting[0]["status"] == "waiting" and waiting[0]["wait_seconds"] == 40
    waiting_line = served.say(citizen, f"我的电话是{PHONE}，身份证{ID_CARD}，社保断缴了想问问")
    assert waiting_line["handoff"]["status"] == "waiting" and "下一位" in waiting_line["reply"]
    detail = served.client.get(f"/api/v1/handoff/{handoff['conversation']}", headers=AGENT).json()
    texts = [line["text"] for line in detail["lines"]]
    assert "居住证怎么办理" in texts and answer["reply"] in texts  # the transcript came along
    shown = "\n".join(texts)
    assert "138****5678" in shown and PHONE not in shown and ID_CARD not in shown

    # Only one agent gets it.
    taken = served.client.post(f"/api/v1/handoff/{handoff['conversation']}/take", headers=AGENT)
    assert taken.status_code == 200 and taken.json()["agent"] == "token-1"
    again = served.client.post(f"/api/v1/handoff/{handoff['conversation']}/take", headers=OTHER_AGENT)
    assert again.status_code == 409
    intruder = served.client.post(
        f"/api/v1/handoff/{handoff['conversation']}/reply", json={"text": "我来"}, headers=OTHER_AGENT
    )
    assert intruder.status_code == 409

    said = served.client.post(
        f"/api/v1/handoff/{handoff['conversation']}/reply",
        json={"text": "您好，我是12345客服。"},
        headers=AGENT,
    )
    assert said.status_code == 200
    got = served.lines(handoff)
    assert got["status"] == "active"
    assert [line["kind"] for line in got["lines"]] == ["joined", "text"]
    assert got["lines"][-1]["text"] == "您好，我是12345客服。" and got["lines"][-1]["author"] is None
    assert served.lines(handoff, after=got["lines"][-1]["id"])["lines"] == []
    wrong = served.client.get(f"/api/v1/handoff/{handoff['conversation']}/lines", params={"token": "x" * 32})
    assert wrong.status_code == 404

    # A line typed now reaches the agent, not the bot; the reply hands over what was not yet shown.
    relayed = served.say(citizen, "好的，我在线等")
    assert relayed["action"] == "handoff" and relayed["reply"] == ""
    assert [line["text"] for line in relayed["handoff"]["lines"]][-1] == "您好，我是12345客服。"

    # Closed as a ticket: filed through intake with the transcript attached.
    closed = served.client.post(
        f"/api/v1/handoff/{handoff['conversation']}/close", json={"outcome": "ticket"}, headers=AGENT
    )
    assert closed.status_code == 200, closed.text
    ticket_no = closed.json()["ticket_no"]
    ticket = served.client.get(f"/api/v1/tickets/{ticket_no}", headers=AGENT).json()
    assert ticket["phone"] == "138****5678" and ticket["created_by"] == "token-1"
    transcript = "\n".join(line["text"] for line in ticket["transcript"])
    assert "您好，我是12345客服。" in transcript and "138****5678" in transcript
    assert PHONE not in transcript and ID_CARD not in transcript
    assert served.lines(handoff)["status"] == "closed"

    # The conversation is over: the bot answers again.
    after = served.say(citizen, "居住证怎么办理")
    assert after["action"] != "handoff"


def test_a_citizen_nobody_takes_is_told_so_once_and_can_leave_for_a_ticket(served: Served) -> None:
    served.inbox()
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    one = served.say(first, "转人工")["handoff"]
    two = served.say(second, "转人工")
    assert two["handoff"]["ahead"] >= 1 and f"{two['handoff']['ahead']} 位" in two["reply"]
    served.clock.advance(minutes=6)
    served.inbox()  # the agent is still there, just busy
    told = served.live.store.overdue()
    assert one["conversation"] in [c for c, _, _ in told]
    assert served.live.store.overdue() == []  # once
    notice = served.lines(one)["lines"][-1]
    assert notice["kind"] == "wait" and "提交诉求" in notice["text"]
    leaving = served.say(first, "提交诉求")
    assert leaving["action"] == "ticket" and leaving["form"] is not None
    assert served.lines(one)["status"] == "closed"
    gone = [c["id"] for c in served.inbox()["conversations"]]
    assert one["conversation"] not in gone and two["handoff"]["conversation"] in gone
    # tidy: close the other so later tests start with an empty queue
    served.client.post(f"/api/v1/handoff/{two['handoff']['conversation']}/take", headers=AGENT)
    served.client.post(
        f"/api/v1/handoff/{two['handoff']['conversation']}/close", json={"outcome": "resolved"}, headers=AGENT
    )


def test_the_inbox_needs_an_agent(served: Served) -> None:
    assert served.client.get("/api/v1/handoff/inbox").status_code == 401


def test_presence_expires_without_heartbeats(served: Served) -> None:
    served.inbox()
    served.clock.advance(seconds=served.live.settings.presence_seconds + 1)
    reply = served.say(uuid.uuid4().hex, "转人工")
    assert reply["handoff"]["status"] == "no_agent"


def test_an_agent_who_logs_out_no_longer_counts_as_present(served: Served) -> None:
    served.clock.advance(seconds=served.live.settings.presence_seconds + 1)  # earlier heartbeats expire
    desk = served.client.app.state.desk  # type: ignore[attr-defined]
    desk.add_user("shift-end", "a-long-enough-passw0rd", role="agent", department=None)
    login = {"username": "shift-end", "password": "a-long-enough-passw0rd"}
    token = served.client.post("/api/v1/auth/login", json=login).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    served.inbox(headers)
    assert served.live.store.agents_present() == 1
    assert served.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert served.live.store.agents_present() == 0  # at once, not when the presence window ends
    reply = served.say(uuid.uuid4().hex, "转人工")
    assert reply["handoff"]["status"] == "no_agent"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/api/v1/handoff/2309323004803993460277248/take"),
        ("GET", "/api/v1/handoff/22337916781715878675818217472/events?token=" + "x" * 16),
        ("GET", "/api/v1/handoff/1/lines?after=99999999999999999999&token=" + "x" * 16),
        ("GET", "/api/v1/tickets/search?offset=493664082960793731072"),
        ("GET", "/api/v1/tickets?offset=9223372036854775808"),
    ],
)
def test_ids_and_offsets_past_what_the_database_holds_are_refused(
    served: Served, method: str, url: str
) -> None:
    """Schemathesis found these answered 500 (the integer overflowed in the query); now 422."""
    response = served.client.request(method, url, headers=AGENT)
    assert response.status_code == 422, response.text
