"""Live chat with agents (转人工): the agents' inbox and the citizen's side of a conversation.

Agents (role agent or above, `handoff.work`) follow the inbox as server-sent events, take a
waiting conversation (only one agent gets it: 409 for the others), reply, and close it as
resolved or as a ticket made through `tickets.intake` with the transcript attached. Citizens
read their own conversation with its secret token (given in the chat reply that opened it),
as JSON or as an event stream the widget follows.
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from server.api.console import draft_from
from server.deps import CanWorkHandoff, Desk, Service
from server.inputs import SQL_INT_MAX, Position, RowId
from server.live import LiveDesk
from tickets.chat_gateway import DOOR_CHANNELS
from tickets.handoff import HandoffError
from tickets.intake import intake

router = APIRouter(prefix="/api/v1/handoff", tags=["handoff"])
run = anyio.to_thread.run_sync
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _live(request: Request) -> LiveDesk:
    live: LiveDesk = request.app.state.live
    return live


def handoff_error_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HandoffError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, description="What the agent says to the citizen")


class CloseIn(BaseModel):
    outcome: Literal["resolved", "ticket"] = Field(
        description="resolved, or ticket: file it with the transcript"
    )
    title: str | None = Field(
        None, max_length=200, description="Ticket title (default: from the citizen's words)"
    )
    content: str | None = Field(
        None, max_length=4000, description="Ticket content (default: the citizen's words)"
    )
    phone: str | None = Field(
        None, max_length=20, description="The citizen's phone, if not typed in the chat"
    )
    category: str | None = Field(None, max_length=100)


# --- agents ----------------------------------------------------------------------------------
@router.get("/inbox")
async def inbox(request: Request, principal: CanWorkHandoff) -> dict[str, object]:
    """Live conversations (waiting and taken) with their waits; counts the caller as present."""
    live = _live(request)
    await run(live.store.heartbeat, principal.name)
    return await run(live.snapshot)


@router.get("/stream")
async def stream(request: Request, principal: CanWorkHandoff) -> StreamingResponse:
    """The inbox as server-sent events (`inbox`), sent again on every change in any worker."""
    events = _live(request).agent_events(principal.name)
    return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/{conversation}")
async def conversation_detail(
    conversation: RowId, request: Request, _agent: CanWorkHandoff, after: Position = 0
) -> dict[str, object]:
    """A conversation's state and its lines after `after` (citizens' numbers masked)."""
    return await run(_live(request).store.detail, conversation, after)


@router.post("/{conversation}/take")
async def take(conversation: RowId, request: Request, principal: CanWorkHandoff) -> dict[str, object]:
    """Take a waiting conversation (409 when another agent has it); the citizen is told."""
    live = _live(request)
    line, channel, session = await run(live.store.take, conversation, principal.name)
    await live.deliver(channel, session, line.text, f"handoff:{line.id}")
    return await run(live.store.detail, conversation)


@router.post("/{conversation}/reply")
async def reply(
    conversation: RowId, data: ReplyIn, request: Request, principal: CanWorkHandoff
) -> dict[str, object]:
    """The agent's line to the citizen, on the door they came from."""
    live = _live(request)
    line, channel, session = await run(live.store.reply, conversation, principal.name, data.text.strip())
    await live.deliver(channel, session, line.text, f"handoff:{line.id}")
    return line.as_dict()


@router.post("/{conversation}/close")
async def close(
    conversation: RowId,
    data: CloseIn,
    request: Request,
    desk: Desk,
    service: Service,
    principal: CanWorkHandoff,
) -> dict[str, object]:
    """End the conversation: resolved, or as a ticket (the one intake, transcript attached)."""
    live = _live(request)
    ticket_no = None
    if data.outcome == "ticket":
        ticket_no = await _ticket(live, conversation, data, desk, service, principal.name)
    line, channel, session = await run(
        live.store.close, conversation, principal.name, data.outcome, ticket_no
    )
    await live.deliver(channel, session, line.text, f"handoff:{line.id}")
    return {"id": conversation, "status": "closed", "outcome": data.outcome, "ticket_no": ticket_no}


async def _ticket(
    live: LiveDesk, conversation: int, data: CloseIn, desk: Desk, service: Service, agent: str
) -> str:
    found = await run(live.store.detail, conversation)
    if found["status"] == "closed" or found["agent"] != agent:
        raise HandoffError(
            "take the conversation first" if found["status"] != "closed" else "the conversation is closed"
        )
    said = await run(live.store.citizen_text, conversation)
    if not said and not data.content:
        raise HTTPException(422, "the citizen said nothing to file: give the ticket's content")
    parsed = await service.run(lambda a: a.parse(said or data.content or ""))
    draft = draft_from(parsed, said or data.content or "", urgent_keyword=None)
    phone = data.phone or draft.phone
    if not phone:
        raise HTTPException(422, "no phone number in the chat: ask the citizen for one, or give phone")
    fields = {
        "title": data.title or draft.title,
        "content": data.content or draft.content,
        "phone": phone,
        "location": draft.location,
        "channel": DOOR_CHANNELS.get(str(found["channel"]), str(found["channel"])),
    }
    if data.category:
        fields["category"] = data.category
    transcript = await run(live.store.transcript, conversation)
    receipt = await run(
        lambda: intake(
            desk,
            fields,
            actor=agent,
            predicted_category=None if data.category else parsed.category,
            intake_key=f"handoff-{conversation}",
            transcript=transcript,
        )
    )
    return receipt.ticket_no


# --- citizens ----------------------------------------------------------------------------------
@router.get("/{conversation}/lines")
async def citizen_lines(
    conversation: RowId,
    request: Request,
    token: Annotated[str, Query(min_length=16, max_length=64)],
    after: Position = 0,
) -> dict[str, object]:
    """The citizen's own conversation: status and the agent's lines after `after`."""
    status, lines = await run(_live(request).store.for_citizen, conversation, token, after)
    return {"status": status, "lines": [line.as_dict() for line in lines]}


@router.get("/{conversation}/events")
async def citizen_events(
    conversation: RowId,
    request: Request,
    token: Annotated[str, Query(min_length=16, max_length=64)],
    after: Position = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The citizen's conversation as server-sent events (`line`, `status`); resumes after the
    Last-Event-ID a reconnecting browser sends."""
    live = _live(request)
    await run(live.store.for_citizen, conversation, token, 0)  # 404 before streaming
    if last_event_id and last_event_id.isdigit():
        after = max(after, min(int(last_event_id), SQL_INT_MAX))
    events = live.citizen_events(conversation, token, after)
    return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)
