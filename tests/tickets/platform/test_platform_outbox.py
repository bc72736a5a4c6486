"""Pushing tickets to the 12345 platform through the transactional outbox, against a fake
platform on loopback that goes down and comes back: nothing lost, nothing created twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import text

from core.retry import RetryPolicy
from core.settings import Settings
from core.vocab import ACCEPTED, DISPATCHED
from jobs.platform import PlatformLink
from tests.tickets.helpers import AGENT, walk_to
from tests.tickets.platform.helpers import outbox
from tests.utils.factories import ticket_data
from tests.utils.fake_platform import FakePlatform, LoopbackServer
from tests.utils.ticketdb import FakeClock
from tickets import crud
from tickets.chat_gateway import SqlTicketGateway
from tickets.intake import TicketRequest
from tickets.platform.push import claim_due
from tickets.platform.recorder import CREATE, STATUS, record_consent
from tickets.service import TicketDesk

MakeLink = Callable[[], tuple[TicketDesk, PlatformLink]]


def test_rows_are_written_in_the_ticket_transaction(make_link: MakeLink) -> None:
    desk, _ = make_link()
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    walk_to(desk, ticket.ticket_no, ACCEPTED)
    rows = outbox(desk)
    assert [(r.kind, r.ticket_no) for r in rows] == [(CREATE, ticket.ticket_no), (STATUS, ticket.ticket_no)]
    assert rows[1].payload["status"] == ACCEPTED and rows[1].payload["previous_status"] == "待受理"
    assert rows[0].payload["title"] == ticket.title and "phone" not in rows[0].payload
    assert len({r.key for r in rows}) == 2

    class Crash(Exception):
        pass

    def create_then_crash(session: object) -> None:
        crud.create_ticket(
            session=session,  # type: ignore[arg-type]
            data=ticket_data(title="回滚的工单"),
            actor=AGENT.name,
            policy=desk.policy,
            router=desk.router,
            taxonomy=desk.taxonomy,
            now=desk.clock(),
        )
        raise Crash

    with pytest.raises(Crash):
        desk.db.run(create_then_crash)
    assert len(outbox(desk)) == 2  # the rolled-back ticket left no row to send


def test_disabled_link_records_nothing(
    ticket_settings: Settings, make_desk: Callable[[], TicketDesk]
) -> None:
    ticket_settings.hotline_platform.enabled = False
    desk = make_desk()
    desk.create(ticket_data(), actor=AGENT.name)
    assert outbox(desk) == []


def test_down_platform_loses_nothing_and_creates_nothing_twice(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform, clock: FakeClock
) -> None:
    desk, link = make_link()
    numbers = [desk.create(ticket_data(title=f"路灯坏了{i}"), actor=AGENT.name).ticket_no for i in range(5)]

    report = link.push()  # nothing listens: connection refused
    assert report.delivered == [] and len(report.retrying) == 5
    rows = outbox(desk)
    assert all(r.delivered_at is None for r in rows)
    assert all("ConnectError" in (r.last_error or "") for r in rows if r.attempts)

    server.start()
    fake.mode = "503"
    clock.advance(hours=2)
    report = link.push()
    assert report.delivered == [] and report.retrying
    assert fake.requests == [] and all(r.delivered_at is None for r in outbox(desk))

    fake.mode = "up"
    clock.advance(hours=2)
    _, restarted = make_link()  # a new process: nothing was held in memory
    report = restarted.push()
    assert sorted(report.delivered) == sorted(r.key for r in rows)
    assert sorted(fake.tickets) == sorted(numbers)
    assert len(fake.requests) == len(fake.keys) == 5 and fake.bad_signatures == 0
    assert {r.key for r in outbox(desk)} == fake.keys

    clock.advance(hours=2)
    assert link.push().delivered == [] and len(fake.requests) == 5  # delivered rows stay delivered
    sent = fake.tickets[numbers[0]]
    assert sent["category"] == "城乡建设" and sent["urgency"] == "normal" and "phone" not in sent
    assert sent["feedback_deadline"] and sent["received_at"] and sent["location"] == "幸福小区东门"


def test_retries_back_off_exponentially(make_link: MakeLink, clock: FakeClock) -> None:
    desk, link = make_link()
    desk.create(ticket_data(), actor=AGENT.name)
    start = clock()
    link.push()
    assert outbox(desk)[0].next_attempt_at == start + timedelta(seconds=30)
    clock.advance(seconds=10)
    assert link.push().retrying == []  # not due yet
    assert outbox(desk)[0].attempts == 1
    clock.advance(seconds=20)
    link.push()
    row = outbox(desk)[0]
    assert row.attempts == 2 and row.next_attempt_at == clock() + timedelta(seconds=60)


def test_a_repeat_after_a_timeout_is_dropped_by_the_platform(
    make_link: MakeLink,
    server: LoopbackServer,
    fake: FakePlatform,
    clock: FakeClock,
    platform_settings: Settings,
) -> None:
    platform_settings.hotline_platform.timeout_seconds = 0.2
    desk, link = make_link()
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    server.start()
    fake.mode = "hold_once"  # processed, but the answer is held until we have timed out
    try:
        report = link.push()
    finally:
        fake.release.set()
    assert report.retrying and "Timeout" in (outbox(desk)[0].last_error or "")
    assert list(fake.tickets) == [ticket.ticket_no]
    clock.advance(minutes=1)
    platform_settings.hotline_platform.timeout_seconds = 5.0
    _, patient = make_link()
    report = patient.push()
    assert len(report.delivered) == 1
    assert len(fake.requests) == 2 and len(fake.keys) == 1  # sent twice, one key
    assert len(fake.tickets) == 1 and outbox(desk)[0].delivered_at is not None


def test_status_changes_follow_the_creation_in_order(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform, clock: FakeClock
) -> None:
    desk, link = make_link()
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    link.push()  # down: the creation waits, and so must the changes after it
    walk_to(desk, ticket.ticket_no, DISPATCHED)
    server.start()
    clock.advance(minutes=1)
    link.push()
    assert [r.event for r in fake.requests] == ["ticket.create", "ticket.status", "ticket.status"]
    assert fake.statuses == [(ticket.ticket_no, ACCEPTED), (ticket.ticket_no, DISPATCHED)]
    assert fake.requests[2].path == f"/tickets/{ticket.ticket_no}/status"


def test_two_pushers_send_each_row_once(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform
) -> None:
    desk, _ = make_link()
    for i in range(12):
        desk.create(ticket_data(title=f"噪音扰民{i}"), actor=AGENT.name)
    server.start()
    links = [make_link()[1], make_link()[1]]
    reports: list[list[str]] = []
    barrier = threading.Barrier(2)

    def run(link: PlatformLink) -> None:
        barrier.wait()
        reports.append(link.push().delivered)

    threads = [threading.Thread(target=run, args=(link,)) for link in links]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = [key for report in reports for key in report]
    assert len(delivered) == len(set(delivered)) == 12
    assert len(fake.requests) == len(fake.keys) == 12 and len(fake.tickets) == 12


def test_the_phone_goes_only_with_consent(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform
) -> None:
    desk, link = make_link()
    agreed = desk.create(ticket_data(phone="13900001111"), actor=AGENT.name)
    silent = desk.create(ticket_data(phone="13900002222", title="另一件事"), actor=AGENT.name)
    desk.db.run(
        lambda s: record_consent(session=s, ticket_no=agreed.ticket_no, actor=AGENT.name, now=desk.clock())
    )
    server.start()
    link.push()
    assert fake.tickets[agreed.ticket_no]["phone"] == "13900001111"
    assert "phone" not in fake.tickets[silent.ticket_no]
    assert all("phone" not in r.payload for r in outbox(desk))  # never copied into the outbox


def test_a_rejected_request_is_not_repeated(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform, platform_settings: Settings
) -> None:
    platform_settings.secrets.platform_secret = "a-different-secret"  # the platform answers 401
    desk, link = make_link()
    desk.create(ticket_data(), actor=AGENT.name)
    server.start()
    assert len(link.push().failed) == 1
    row = outbox(desk)[0]
    assert row.failed and (row.last_error or "").startswith("HTTP 401") and fake.bad_signatures == 1


def test_postgres_pushers_skip_the_rows_another_one_holds(
    make_link: MakeLink, db_url: str, clock: FakeClock
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is the PostgreSQL claim; SQLite writers queue on BEGIN IMMEDIATE instead")
    desk, _ = make_link()
    for i in range(6):
        desk.create(ticket_data(title=f"占道经营{i}"), actor=AGENT.name)
    retry = RetryPolicy(lease_seconds=10)
    with desk.db.sessions.begin() as first:
        held = claim_due(session=first, now=clock(), retry=retry, limit=4)  # not committed: rows locked
        with desk.db.sessions.begin() as second:
            second.execute(text("SET LOCAL lock_timeout = '3s'"))  # waiting instead of skipping fails
            other = claim_due(session=second, now=clock(), retry=retry, limit=10)
    assert len(held) == 4 and len(other) == 2
    assert not {c.message.key for c in held} & {c.message.key for c in other}
    assert all(r.attempts == 1 for r in outbox(desk))


def test_after_no_consent_the_push_carries_no_phone_or_id_in_any_field(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform
) -> None:
    """不同意 at the chat form's consent step: the citizen's numbers, typed into the title,
    content and place as well as given as the phone, reach the platform in no field; a citizen
    who consented (a consent row) has them sent in clear."""
    desk, link = make_link()
    gateway = SqlTicketGateway(desk)
    phone, id_number = "13700139000", "44010619850712351X"
    words = {
        "title": f"身份证{id_number}办不了社保",
        "content": f"我的身份证{id_number}在窗口办不了社保，请回电 {phone[:3]} {phone[3:7]} {phone[7:]}",
        "location": f"天河区体育西路1号（联系{phone}）",
        "phone": phone,
        "channel": "web",
        "category": "城乡建设",
    }
    refused = gateway.create(TicketRequest(**words, contact_consent=False))
    agreed = gateway.create(TicketRequest(**words, contact_consent=True))
    desk.db.run(
        lambda s: record_consent(session=s, ticket_no=agreed.ticket_no, actor=AGENT.name, now=desk.clock())
    )
    walk_to(desk, refused.ticket_no, ACCEPTED)
    server.start()
    link.push()
    sent = [
        json.dumps(r.body, ensure_ascii=False)
        for r in fake.requests
        if r.body["ticket_no"] == refused.ticket_no
    ]
    assert len(sent) == 2  # the creation and the 受理
    for body in sent:
        assert phone not in body and id_number not in body and "1370" not in body.replace("137****9000", "")
        assert "0712351" not in body
    assert "137****9000" in fake.tickets[refused.ticket_no]["content"]  # masked, still recognisable
    assert fake.tickets[agreed.ticket_no]["phone"] == phone
    assert id_number in fake.tickets[agreed.ticket_no]["content"]
    for row in outbox(desk):  # at rest the outbox keeps no number, whoever consented
        assert phone not in json.dumps(row.payload, ensure_ascii=False)
        assert id_number not in json.dumps(row.payload, ensure_ascii=False)
