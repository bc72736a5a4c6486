"""The platform's status callbacks over real HTTP: signed ones are applied once through the
lifecycle (with an audit entry), everything else is refused without side effects."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from core.vocab import ACCEPTED, FEEDBACK, IN_PROGRESS, PENDING
from jobs.platform import PlatformLink
from server.api.tickets import ticket_error_response
from tests.tickets.helpers import AGENT, SUPERVISOR, walk_to
from tests.tickets.platform.helpers import outbox, post_callback
from tests.utils.factories import ticket_data
from tests.utils.fake_platform import LoopbackServer
from tickets.errors import TicketError
from tickets.service import TicketDesk

MakeLink = Callable[[], tuple[TicketDesk, PlatformLink]]


@pytest.fixture
def ours(make_link: MakeLink) -> Iterator[tuple[TicketDesk, str]]:
    """Our callback endpoint on loopback (the router and the app's error mapping), with its desk."""
    desk, link = make_link()
    app = FastAPI()
    app.add_exception_handler(TicketError, ticket_error_response)
    app.include_router(link.router())
    server = LoopbackServer(app)
    server.start()
    yield desk, server.url
    server.stop()


def test_a_signed_callback_is_applied_once_with_an_audit_entry(ours: tuple[TicketDesk, str]) -> None:
    desk, url = ours
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    rows_before = len(outbox(desk))
    body = {"event_id": "evt-1", "ticket_no": ticket.ticket_no, "status": "accepted"}
    first = post_callback(url, desk.clock(), body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "event_id": "evt-1",
        "ticket_no": ticket.ticket_no,
        "status": ACCEPTED,
        "duplicate": False,
    }
    again = post_callback(url, desk.clock(), body)  # delivered twice
    assert again.status_code == 200 and again.json()["duplicate"] is True
    view = desk.show(ticket.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.status == ACCEPTED
    applied = [a for a in view.audit if a["actor"] == "12345-platform"]
    assert len(applied) == 1 and applied[0]["action"] == "accept"
    assert applied[0]["changes"]["platform_event"] == "evt-1"
    assert len(outbox(desk)) == rows_before  # the platform's own change is not pushed back to it


def test_a_handling_result_becomes_the_feedback_note(ours: tuple[TicketDesk, str]) -> None:
    desk, url = ours
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    walk_to(desk, ticket.ticket_no, IN_PROGRESS)
    body = {"event_id": "evt-9", "ticket_no": ticket.ticket_no, "status": "replied", "result": "已更换灯泡"}
    assert post_callback(url, desk.clock(), body).status_code == 200
    view = desk.show(ticket.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.status == FEEDBACK and view.audit[-1]["changes"]["note"] == "已更换灯泡"


def test_unknown_ticket_is_404_and_illegal_step_is_409(ours: tuple[TicketDesk, str]) -> None:
    desk, url = ours
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    missing = post_callback(
        url, desk.clock(), {"event_id": "e-1", "ticket_no": "20990101-0001", "status": "accepted"}
    )
    assert missing.status_code == 404
    illegal = post_callback(
        url, desk.clock(), {"event_id": "e-2", "ticket_no": ticket.ticket_no, "status": "closed"}
    )
    assert illegal.status_code == 409
    assert "cannot move a ticket from 待受理 to 已办结" in illegal.json()["detail"]
    assert illegal.json()["allowed"] == [ACCEPTED, "已合并"]
    unknown = post_callback(
        url, desk.clock(), {"event_id": "e-3", "ticket_no": ticket.ticket_no, "status": "teleported"}
    )
    assert unknown.status_code == 422
    # the refused event ids were not consumed: the same id applies once the step is legal
    assert (
        post_callback(
            url, desk.clock(), {"event_id": "e-2", "ticket_no": ticket.ticket_no, "status": "accepted"}
        ).json()["duplicate"]
        is False
    )
    assert desk.show(ticket.ticket_no, viewer=SUPERVISOR).ticket.status == ACCEPTED


@pytest.mark.parametrize(
    "tamper",
    [
        {"signature": "sha256=" + "0" * 64},
        {"signature": ""},
        {"secret": "wrong-secret"},
        {"late_by": 3600},  # signed correctly, but an hour ago
    ],
    ids=["forged", "missing", "wrong-key", "stale"],
)
def test_bad_signatures_are_refused_without_side_effects(
    ours: tuple[TicketDesk, str], tamper: dict[str, object]
) -> None:
    desk, url = ours
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    body = {"event_id": "evt-x", "ticket_no": ticket.ticket_no, "status": "accepted"}
    refused = post_callback(url, desk.clock(), body, **tamper)  # type: ignore[arg-type]
    assert refused.status_code == 401
    view = desk.show(ticket.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.status == PENDING and [a["action"] for a in view.audit] == ["create"]
    assert (
        post_callback(url, desk.clock(), body).json()["duplicate"] is False
    )  # the event id was not consumed
