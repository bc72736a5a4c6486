"""The sweeper: at-risk and overdue flags, 督办 once per state, signed webhooks delivered
exactly once across restarts (a new engine over the same database), and on-time rates."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from core.vocab import ACCEPTED, FEEDBACK, IN_PROGRESS
from tests.tickets.helpers import AGENT, HANDLER, SUPERVISOR, walk_to
from tests.utils.factories import ticket_data
from tests.utils.ticketdb import FakeClock
from tickets.lifecycle import TransitionRequest
from tickets.service import TicketDesk, sweep_forever

SECRET = "test-webhook-secret"


class Receiver:
    """A webhook endpoint (httpx MockTransport) that checks signatures and can be made to fail."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[dict[str, object]] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        stamp = request.headers["X-Govbot-Timestamp"]
        expected = hmac.new(
            SECRET.encode(), f"{stamp}.".encode() + request.content, hashlib.sha256
        ).hexdigest()
        assert request.headers["X-Govbot-Signature"] == f"sha256={expected}"
        if self.fail:
            self.fail -= 1
            return httpx.Response(500)
        body = json.loads(request.content)
        body["delivery"] = request.headers["X-Govbot-Delivery"]
        self.received.append(body)
        return httpx.Response(204)


def test_urgent_ticket_is_flagged_escalated_and_notified_once(
    make_desk: Callable[[], TicketDesk], clock: FakeClock
) -> None:
    desk = make_desk()
    receiver = Receiver()
    urgent = desk.create(ticket_data(content="饭店有人食物中毒，燃气泄漏"), actor=AGENT.name)
    normal = desk.create(ticket_data(), actor=AGENT.name)
    assert urgent.urgency == "urgent"

    clock.advance(minutes=60)  # half the 2-hour window left: nothing yet
    report, delivery = desk.sweep(client=receiver.client)
    assert report.checked == 2 and report.escalated == [] and receiver.received == []

    clock.advance(minutes=40)  # 20 of 120 minutes left: at risk
    report, delivery = desk.sweep(client=receiver.client)
    assert report.at_risk == [urgent.ticket_no] and report.escalated == [urgent.ticket_no]
    assert [n["event"] for n in receiver.received] == ["ticket.at_risk"]
    assert receiver.received[0]["ticket_no"] == urgent.ticket_no
    assert [t.ticket_no for t in desk.queue(viewer=SUPERVISOR, queue="at_risk")] == [urgent.ticket_no]

    again, _ = desk.sweep(client=receiver.client)  # same state, same kind: flagged, not escalated
    assert again.at_risk == [urgent.ticket_no] and again.escalated == []

    restarted = make_desk()  # a new engine and session over the same database
    after_restart, delivery = restarted.sweep(client=receiver.client)
    assert after_restart.escalated == [] and delivery.delivered == []
    assert len(receiver.received) == 1

    clock.advance(minutes=25)  # past the deadline: overdue is a new escalation
    report, _ = restarted.sweep(client=receiver.client)
    assert report.overdue == [urgent.ticket_no] and report.escalated == [urgent.ticket_no]
    restarted.transition(urgent.ticket_no, TransitionRequest(to=ACCEPTED), viewer=AGENT)
    report, _ = restarted.sweep(client=receiver.client)  # a new state: escalated once more
    assert report.escalated == [urgent.ticket_no]
    report, _ = make_desk().sweep(client=receiver.client)
    assert report.escalated == []

    assert [n["event"] for n in receiver.received] == ["ticket.at_risk", "ticket.overdue", "ticket.overdue"]
    assert len({n["delivery"] for n in receiver.received}) == 3
    view = restarted.show(urgent.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.escalation_level == 3 and view.ticket.supervision_count == 3
    assert view.ticket.overdue and not view.ticket.at_risk
    assert [a["changes"]["kind"] for a in view.audit if a["action"] == "escalate"] == [
        "at_risk",
        "overdue",
        "overdue",
    ]
    assert restarted.show(normal.ticket_no, viewer=SUPERVISOR).ticket.escalation_level == 0


def test_normal_tickets_run_on_working_time(make_desk: Callable[[], TicketDesk], clock: FakeClock) -> None:
    desk = make_desk()
    receiver = Receiver()
    clock.set_local("2026-11-27 17:00")  # Friday; feedback due Monday 17:00
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    clock.set_local("2026-11-29 20:00")  # Sunday evening: 6.5 of 7.5 working hours left
    assert desk.sweep(client=receiver.client)[0].escalated == []
    clock.set_local("2026-11-30 15:30")  # 1.5 h of 7.5 left (20 %): at risk
    assert desk.sweep(client=receiver.client)[0].at_risk == [ticket.ticket_no]
    clock.set_local("2026-11-30 17:00")
    assert desk.sweep(client=receiver.client)[0].overdue == [ticket.ticket_no]
    assert [n["event"] for n in receiver.received] == ["ticket.at_risk", "ticket.overdue"]


def test_failed_deliveries_are_retried_and_survive_a_restart(
    make_desk: Callable[[], TicketDesk], clock: FakeClock
) -> None:
    desk = make_desk()
    desk.create(ticket_data(urgent=True), actor=AGENT.name)
    clock.advance(hours=3)
    failing = Receiver(fail=10)
    report, delivery = desk.sweep(client=failing.client)
    assert report.escalated and delivery.retrying and not delivery.delivered
    assert failing.received == []

    receiver = Receiver()
    restarted = make_desk()
    _, delivery = restarted.sweep(client=receiver.client)  # retry not due yet (60 s back-off)
    assert delivery.delivered == [] and receiver.received == []
    clock.advance(seconds=61)
    _, delivery = restarted.sweep(client=receiver.client)
    assert len(delivery.delivered) == 1 and len(receiver.received) == 1
    clock.advance(hours=1)
    _, delivery = make_desk().sweep(client=receiver.client)
    assert delivery.delivered == [] and len(receiver.received) == 1


def test_a_notification_is_given_up_after_the_last_attempt(
    make_desk: Callable[[], TicketDesk], clock: FakeClock
) -> None:
    desk = make_desk()
    desk.settings.tickets.webhook_retry.give_up_attempts = 2
    desk = make_desk()
    desk.create(ticket_data(urgent=True), actor=AGENT.name)
    clock.advance(hours=3)
    failing = Receiver(fail=100)
    assert desk.sweep(client=failing.client)[1].retrying
    clock.advance(hours=1)
    assert desk.sweep(client=failing.client)[1].failed
    clock.advance(hours=1)
    delivery = desk.sweep(client=failing.client)[1]
    assert not delivery.failed and not delivery.retrying and not delivery.delivered


def test_without_a_webhook_url_notifications_wait_in_the_outbox(
    make_desk: Callable[[], TicketDesk], clock: FakeClock
) -> None:
    desk = make_desk()
    desk.settings.tickets.webhook_url = ""
    quiet = make_desk()
    quiet.create(ticket_data(urgent=True), actor=AGENT.name)
    clock.advance(hours=3)
    receiver = Receiver()
    report, delivery = quiet.sweep(client=receiver.client)
    assert report.escalated and delivery.delivered == [] and receiver.received == []
    desk.settings.tickets.webhook_url = "https://hooks.example.test/12345"
    _, delivery = make_desk().sweep(client=receiver.client)
    assert len(delivery.delivered) == 1 and receiver.received[0]["event"] == "ticket.overdue"


def test_on_time_rates(make_desk: Callable[[], TicketDesk], clock: FakeClock) -> None:
    desk = make_desk()
    start = clock()
    on_time = desk.create(ticket_data(), actor=AGENT.name)
    late = desk.create(ticket_data(), actor=AGENT.name)
    waiting = desk.create(ticket_data(), actor=AGENT.name)
    for ticket in (on_time, late):
        walk_to(desk, ticket.ticket_no, IN_PROGRESS)
    clock.advance(hours=2)
    desk.transition(on_time.ticket_no, TransitionRequest(to=FEEDBACK, note="已处理"), viewer=HANDLER)
    clock.advance(days=2)  # Wednesday: past the feedback deadline
    desk.transition(late.ticket_no, TransitionRequest(to=FEEDBACK, note="已处理"), viewer=HANDLER)
    rates = desk.rates(start, start + timedelta(days=1))
    assert rates.received == 3
    assert (rates.feedback_due, rates.feedback_on_time) == (3, 1)
    assert rates.feedback_rate == pytest.approx(1 / 3)
    assert rates.completion_due == 0 and rates.completion_rate is None
    assert desk.rates(start + timedelta(days=1), start + timedelta(days=2)).received == 0
    assert waiting.ticket_no


def test_the_server_sweeper_runs_in_the_background(
    make_desk: Callable[[], TicketDesk], clock: FakeClock
) -> None:
    desk = make_desk()
    desk.settings.tickets.webhook_url = ""
    quiet = make_desk()
    ticket = quiet.create(ticket_data(urgent=True), actor=AGENT.name)
    clock.advance(hours=3)

    rounds: list[float] = []

    class Stop(Exception):
        pass

    async def pause(seconds: float) -> None:  # no waiting: stop once a round has escalated
        rounds.append(seconds)
        if len(rounds) > 50 or quiet.show(ticket.ticket_no, viewer=SUPERVISOR).ticket.overdue:
            raise Stop

    async def run_briefly() -> None:
        with pytest.raises(Stop):
            await sweep_forever(quiet, 300, pause=pause)

    asyncio.run(run_briefly())
    assert quiet.show(ticket.ticket_no, viewer=SUPERVISOR).ticket.escalation_level == 1
    assert rounds[:2] == [300, 300]  # waited the interval before the round, then stopped
