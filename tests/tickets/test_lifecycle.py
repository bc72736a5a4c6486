"""The enforced state machine: every allowed step, a table of illegal ones, who may act, the audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.vocab import ACCEPTED, DISPATCHED, IN_PROGRESS, MERGED, STATES
from tests.tickets.helpers import AGENT, DEPT, HANDLER, ORDER, OTHER_HANDLER, SUPERVISOR, walk_to
from tests.utils.factories import ticket_data
from tickets.db import AuditTrailError
from tickets.errors import IllegalTransitionError, PermissionDeniedError, TicketNotFoundError
from tickets.lifecycle import TRANSITIONS, TransitionRequest
from tickets.models import AuditEntry
from tickets.service import TicketDesk

# For each allowed step: what the request carries and who takes it.
STEP_REQUESTS = {
    "accept": ({}, AGENT),
    "dispatch": ({"department": DEPT}, AGENT),
    "redispatch": ({"department": "市生态环境局"}, AGENT),
    "start": ({}, HANDLER),
    "return": ({"note": "不属于本部门职责"}, HANDLER),
    "feedback": ({"note": "已处理"}, HANDLER),
    "complete": ({}, AGENT),
    "callback": ({"satisfaction": "基本满意", "callback_result": "已回访"}, AGENT),
    "merge": ({}, AGENT),
}


@pytest.mark.parametrize(("source", "target"), list(TRANSITIONS), ids=lambda s: str(s))
def test_every_allowed_transition(desk: TicketDesk, source: str, target: str) -> None:
    step = TRANSITIONS[(source, target)]
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    extra, actor = STEP_REQUESTS[step.action]
    if step.action == "merge":
        original = desk.create(ticket_data(title="另一张工单"), actor=AGENT.name)
        extra = {"merged_into": original.ticket_no}
    walk_to(desk, ticket.ticket_no, source)
    moved = desk.transition(ticket.ticket_no, TransitionRequest(to=target, **extra), viewer=actor)
    assert moved.status == target
    view = desk.show(ticket.ticket_no, viewer=SUPERVISOR)
    last = view.audit[-1]
    assert last["action"] == step.action
    assert last["changes"]["status"] == [source, target]
    assert last["actor"] == actor.name
    if step.action == "redispatch":
        assert view.ticket.department == "市生态环境局"
    if step.action == "merge":
        assert view.ticket.merged_into == extra["merged_into"]
    if step.action == "callback":
        assert view.ticket.satisfaction == "基本满意"


@pytest.mark.parametrize("source", ORDER)
def test_illegal_transitions_are_refused_with_what_is_allowed(desk: TicketDesk, source: str) -> None:
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    walk_to(desk, ticket.ticket_no, source)
    illegal = [t for t in STATES if (source, t) not in TRANSITIONS]
    assert illegal
    for target in illegal:
        with pytest.raises(IllegalTransitionError) as caught:
            desk.transition(ticket.ticket_no, TransitionRequest(to=target), viewer=SUPERVISOR)
        message = str(caught.value)
        assert f"from {source} to {target}" in message
        assert caught.value.allowed == [t for (s, t) in TRANSITIONS if s == source]
    assert desk.show(ticket.ticket_no, viewer=SUPERVISOR).ticket.status == source


def test_unknown_state_and_missing_details_are_refused(desk: TicketDesk) -> None:
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    with pytest.raises(IllegalTransitionError, match="unknown state"):
        desk.transition(ticket.ticket_no, TransitionRequest(to="已删除"), viewer=AGENT)
    walk_to(desk, ticket.ticket_no, DISPATCHED)
    with pytest.raises(IllegalTransitionError, match="different department"):
        desk.transition(ticket.ticket_no, TransitionRequest(to=DISPATCHED, department=DEPT), viewer=AGENT)
    with pytest.raises(IllegalTransitionError, match="note"):
        desk.transition(ticket.ticket_no, TransitionRequest(to=ACCEPTED), viewer=HANDLER)
    with pytest.raises(IllegalTransitionError, match="itself"):
        desk.transition(
            ticket.ticket_no, TransitionRequest(to=MERGED, merged_into=ticket.ticket_no), viewer=AGENT
        )


def test_a_merged_ticket_is_terminal_and_cannot_be_a_merge_target(desk: TicketDesk) -> None:
    first = desk.create(ticket_data(), actor=AGENT.name)
    second = desk.create(ticket_data(), actor=AGENT.name)
    desk.transition(second.ticket_no, TransitionRequest(to=MERGED, merged_into=first.ticket_no), viewer=AGENT)
    third = desk.create(ticket_data(), actor=AGENT.name)
    with pytest.raises(IllegalTransitionError, match="not open"):
        desk.transition(
            third.ticket_no, TransitionRequest(to=MERGED, merged_into=second.ticket_no), viewer=AGENT
        )
    with pytest.raises(TicketNotFoundError):
        desk.transition(
            third.ticket_no, TransitionRequest(to=MERGED, merged_into="20990101-0001"), viewer=AGENT
        )


def test_who_may_take_which_step(desk: TicketDesk) -> None:
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    with pytest.raises(TicketNotFoundError):  # another department's handler cannot even see it
        desk.transition(ticket.ticket_no, TransitionRequest(to=ACCEPTED), viewer=OTHER_HANDLER)
    with pytest.raises(PermissionDeniedError, match="centre"):
        desk.transition(ticket.ticket_no, TransitionRequest(to=ACCEPTED), viewer=HANDLER)
    walk_to(desk, ticket.ticket_no, DISPATCHED)
    with pytest.raises(PermissionDeniedError, match="handler"):
        desk.transition(ticket.ticket_no, TransitionRequest(to=IN_PROGRESS), viewer=AGENT)
    moved = desk.transition(ticket.ticket_no, TransitionRequest(to=IN_PROGRESS), viewer=HANDLER)
    assert moved.assignee == HANDLER.name
    # supervisors may take any step
    back = desk.transition(
        ticket.ticket_no, TransitionRequest(to=ACCEPTED, note="重新派单"), viewer=SUPERVISOR
    )
    assert back.status == ACCEPTED and back.assignee is None


def test_the_audit_trail_only_grows(desk: TicketDesk) -> None:
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    seen: list[dict[str, object]] = desk.show(ticket.ticket_no, viewer=SUPERVISOR).audit
    assert [a["action"] for a in seen] == ["create"]
    for state in ORDER[1:]:
        walk_to(desk, desk.create(ticket_data(), actor=AGENT.name).ticket_no, state)  # noise elsewhere
    walk_to(desk, ticket.ticket_no, ORDER[-1])
    trail = desk.show(ticket.ticket_no, viewer=SUPERVISOR).audit
    assert trail[: len(seen)] == seen
    assert [a["action"] for a in trail] == [
        "create",
        "accept",
        "dispatch",
        "start",
        "feedback",
        "complete",
        "callback",
    ]
    with desk.db.session() as s:
        total = s.scalar(select(func.count()).select_from(AuditEntry))
    assert total == 7 + sum(range(1, 7)) + 6  # ours + the noise tickets' steps + their creations


def test_audit_entries_cannot_be_changed_or_deleted(desk: TicketDesk) -> None:
    desk.create(ticket_data(), actor=AGENT.name)
    with pytest.raises(AuditTrailError), desk.db.session() as s:
        s.scalars(select(AuditEntry)).one().actor = "someone else"
    with pytest.raises(AuditTrailError), desk.db.session() as s:
        s.delete(s.scalars(select(AuditEntry)).one())
    with desk.db.session() as s:
        assert s.scalars(select(AuditEntry.actor)).all() == [AGENT.name]
