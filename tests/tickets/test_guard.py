"""Lockouts, idempotent submits, account disabling and the department check, on SQLite and
PostgreSQL with the desk's injected clock (no Redis: the database counts)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import RateLimitedError
from tests.utils.factories import ticket_data
from tests.utils.ticketdb import FakeClock
from tickets.chat_gateway import SqlTicketGateway
from tickets.errors import AuthenticationError, InvalidTicketError, TicketNotFoundError
from tickets.intake import TicketRequest
from tickets.lifecycle import TransitionRequest
from tickets.models import Ticket
from tickets.service import TicketDesk
from tickets.users import Account

AGENT = Account("agent-a", "agent", None)
PASSWORD = "correct-horse-9"


def _tickets(desk: TicketDesk) -> int:
    with desk.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_wrong_last4_answers_lock_the_ticket_number_for_every_client(
    desk: TicketDesk, clock: FakeClock
) -> None:
    ticket = desk.create(ticket_data(phone="13812345678"), actor="a")
    limit = desk.settings.tickets.status_max_misses
    for n in range(limit):
        with pytest.raises(TicketNotFoundError):
            desk.citizen_status(ticket.ticket_no, f"{n:04d}", client=f"10.0.0.{n}")
    # the right answer from a fresh client is refused while the number is locked
    with pytest.raises(RateLimitedError) as locked:
        desk.citizen_status(ticket.ticket_no, "5678", client="10.9.9.9")
    assert 0 < locked.value.retry_after <= desk.settings.tickets.status_lockout_minutes * 60
    clock.advance(minutes=desk.settings.tickets.status_lockout_minutes + 1)
    assert desk.citizen_status(ticket.ticket_no, "5678", client="10.9.9.9").ticket_no == ticket.ticket_no


def test_misses_across_ticket_numbers_lock_the_client(desk: TicketDesk) -> None:
    numbers = [desk.create(ticket_data(phone="13812345678"), actor="a").ticket_no for _ in range(2)]
    limit = desk.settings.tickets.status_max_misses
    for n in range(limit):
        with pytest.raises(TicketNotFoundError):
            desk.citizen_status(f"20990101-{n:04d}", "0000", client="10.1.1.1")
    with pytest.raises(RateLimitedError):
        desk.citizen_status(numbers[0], "5678", client="10.1.1.1")
    assert desk.citizen_status(numbers[1], "5678", client="10.2.2.2").ticket_no == numbers[1]


def test_the_chat_gateway_shares_the_ticket_lockout(desk: TicketDesk) -> None:
    ticket = desk.create(ticket_data(phone="13812345678"), actor="a")
    gateway = SqlTicketGateway(desk)
    for n in range(desk.settings.tickets.status_max_misses):
        assert gateway.status(ticket.ticket_no, f"{n:04d}") is None
    with pytest.raises(RateLimitedError):
        gateway.status(ticket.ticket_no, "5678")
    with pytest.raises(RateLimitedError):  # and the API's look-up of the same number
        desk.citizen_status(ticket.ticket_no, "5678", client="10.3.3.3")


def test_login_lockout_backs_off_and_a_right_password_clears_it(desk: TicketDesk, clock: FakeClock) -> None:
    desk.add_user("alice", PASSWORD, role="agent", department=None)
    first = desk.settings.tickets.login_lockout_seconds
    for _ in range(desk.settings.tickets.login_max_failures):
        with pytest.raises(AuthenticationError):
            desk.login("alice", "wrong-password")
    with pytest.raises(RateLimitedError) as locked:
        desk.login("alice", PASSWORD)  # even the right password, while locked
    assert locked.value.retry_after == first
    clock.advance(seconds=first + 1)
    with pytest.raises(AuthenticationError):
        desk.login("alice", "wrong-again")
    with pytest.raises(RateLimitedError) as doubled:
        desk.login("alice", PASSWORD)
    assert doubled.value.retry_after == 2 * first
    clock.advance(seconds=2 * first + 1)
    token, _, _ = desk.login("alice", PASSWORD)
    assert desk.account(token) is not None


def test_logout_and_disable_revoke_tokens(desk: TicketDesk) -> None:
    desk.add_user("bob", PASSWORD, role="agent", department=None)
    one, _, _ = desk.login("bob", PASSWORD)
    two, _, _ = desk.login("bob", PASSWORD)
    assert desk.logout(one) and desk.account(one) is None and desk.account(two) is not None
    assert desk.disable_user("bob") == 1
    assert desk.account(two) is None
    with pytest.raises(AuthenticationError):
        desk.login("bob", PASSWORD)


def test_departments_outside_the_routing_table_are_refused_and_nothing_is_stored(desk: TicketDesk) -> None:
    before = _tickets(desk)
    for bad in ("' OR '1'='1", "不存在的局"):
        with pytest.raises(InvalidTicketError, match="unknown department"):
            desk.create(ticket_data(department=bad), actor="a")
    assert _tickets(desk) == before
    ticket = desk.create(ticket_data(), actor="a")
    desk.transition(ticket.ticket_no, TransitionRequest(to="已受理"), viewer=AGENT)
    with pytest.raises(InvalidTicketError):
        desk.transition(
            ticket.ticket_no, TransitionRequest(to="已交办", department="不存在的局"), viewer=AGENT
        )
    with pytest.raises(InvalidTicketError):
        desk.add_user("carol", PASSWORD, role="handler", department="不存在的局")


def test_a_retried_chat_submit_gets_the_ticket_already_stored(desk: TicketDesk) -> None:
    gateway = SqlTicketGateway(desk)
    request = TicketRequest(
        title="路灯坏了",
        content="小区门口的路灯坏了一个多月，晚上漆黑一片",
        location="海珠区江南大道中88号",
        phone="13812345678",
        channel="web",
        session_key="web:form:0123456789abcdef",
    )
    before = _tickets(desk)
    first = gateway.create(request)
    again = gateway.create(request)  # the reply was lost (crash): the citizen confirms again
    assert again.ticket_no == first.ticket_no and _tickets(desk) == before + 1
    other = gateway.create(request.model_copy(update={"session_key": "web:form:fedcba9876543210"}))
    assert other.ticket_no != first.ticket_no and _tickets(desk) == before + 2
