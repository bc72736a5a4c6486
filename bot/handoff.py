"""The handoff dialogue (转人工): run what the policy decided about a live agent.

Whether a person can take the conversation is a fact of the live desk (working hours in the
configured zone, an agent's inbox open); this module only words the outcome honestly: a place
in the queue when someone can come, or, when nobody can, that nobody can and what the citizen
may do instead (a ticket), never a transfer that will not happen. The live desk is a protocol;
tickets/handoff.py implements it on the ticket database.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, tzinfo
from typing import Any, Protocol

from bot.messages import BotReply
from bot.responses import Responses
from bot.sessions import SessionState
from core.citizen_time import citizen_time
from core.clock import Clock
from core.settings import HandoffSettings
from tickets.handoff import NOTICE_KINDS, Availability, HandoffError, LineView, Opened

log = logging.getLogger(__name__)
_WEEKDAYS = "一二三四五六日"


def desk_notices(responses: Responses) -> dict[str, str]:
    """The citizen's words for each of the desk's own lines (joined, closed, wait), from responses.yml."""
    return {kind: responses.render(f"utter_handoff_notice_{kind}") for kind in NOTICE_KINDS}


class LiveDesk(Protocol):
    """The agents' queue as the dialogue sees it."""

    def availability(self) -> Availability: ...

    def open(self, *, session_id: str, channel: str, transcript: list[tuple[str, str]]) -> Opened: ...

    def live_status(self, conversation_id: int) -> str | None: ...

    def ahead(self, conversation_id: int) -> int: ...

    def citizen_says(self, conversation_id: int, text: str) -> list[LineView]: ...

    def citizen_leaves(self, conversation_id: int, outcome: str = ...) -> None: ...


def hours_in_words(settings: HandoffSettings) -> str:
    """'周一至周五 09:00-18:00，法定节假日除外' from the configured days and periods."""
    days = sorted(set(settings.working_weekdays))
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        named = f"周{_WEEKDAYS[days[0] - 1]}至周{_WEEKDAYS[days[-1] - 1]}"
    else:
        named = "、".join(f"周{_WEEKDAYS[d - 1]}" for d in days)
    spans = "、".join(f"{p.start}-{p.end}" for p in settings.working_hours)
    return f"{named} {spans}，法定节假日除外"


class Handoff:
    def __init__(
        self, responses: Responses, desk: LiveDesk, settings: HandoffSettings, *, zone: tzinfo, clock: Clock
    ) -> None:
        self.responses = responses
        self.desk = desk
        self.settings = settings
        self.zone = zone
        self.clock = clock

    def refresh(self, state: SessionState) -> None:
        """Forget a conversation an agent has closed (the citizen talks to the bot again)."""
        if state.handoff_id is not None and self.desk.live_status(state.handoff_id) is None:
            state.handoff_id = state.handoff_token = None

    def _when(self, moment: datetime | None) -> str:
        return citizen_time(moment, zone=self.zone, now=self.clock()) if moment else ""

    def request(self, state: SessionState, session_id: str, channel: str, base: dict[str, Any]) -> BotReply:
        """转人工: a place in the queue when an agent can come; otherwise the truth and a ticket."""
        render = self.responses.render
        if state.handoff_id is not None:  # asked again while waiting: where they stand
            return self._waiting(state, base)
        found = self.desk.availability()
        if not found.available:
            if not self.settings.enabled:
                text, status = render("utter_handoff_no_agent"), "unavailable"
            elif not found.open_now:
                text = render(
                    "utter_handoff_closed",
                    hours=hours_in_words(self.settings),
                    next=self._when(found.next_open),
                )
                status = "closed"
            else:
                text, status = render("utter_handoff_no_agent"), "no_agent"
            log.info("handoff.unavailable", extra={"status": status})
            return BotReply(
                action="handoff", reply=text, handoff={"status": status, "offer_ticket": True}, **base
            )
        transcript: list[tuple[str, str]] = [(s, t) for s, t in state.transcript]
        opened = self.desk.open(session_id=session_id, channel=channel, transcript=transcript)
        state.handoff_id, state.handoff_token = opened.id, opened.token
        key = "utter_handoff_queued_first" if opened.ahead == 0 else "utter_handoff_queued"
        log.info("handoff.opened", extra={"conversation": opened.id, "channel": channel})
        return BotReply(
            action="handoff",
            reply=render(key, ahead=opened.ahead),
            handoff=self._info(state, "waiting", ahead=opened.ahead),
            **base,
        )

    def _info(self, state: SessionState, status: str, **extra: Any) -> dict[str, Any]:
        return {"conversation": state.handoff_id, "token": state.handoff_token, "status": status, **extra}

    def _waiting(self, state: SessionState, base: dict[str, Any]) -> BotReply:
        assert state.handoff_id is not None
        ahead = self.desk.ahead(state.handoff_id)
        key = "utter_handoff_waiting_first" if ahead == 0 else "utter_handoff_waiting"
        return BotReply(
            action="handoff",
            reply=self.responses.render(key, ahead=ahead),
            handoff=self._info(state, "waiting", ahead=ahead),
            **base,
        )

    def relay(self, state: SessionState, text: str, base: dict[str, Any]) -> BotReply:
        """A citizen's line during a live conversation goes to the agent, not to the bot. The
        reply carries the agent's lines the citizen has not been handed yet (doors without a live
        stream show them now); while nobody has taken it, the citizen hears their place."""
        assert state.handoff_id is not None
        try:
            unread = self.desk.citizen_says(state.handoff_id, text)
        except HandoffError:  # closed between the refresh and now
            state.handoff_id = state.handoff_token = None
            return BotReply(action="handoff", reply=self.responses.render("utter_handoff_ended"), **base)
        lines = [line.as_dict() for line in unread]
        status = self.desk.live_status(state.handoff_id) or "closed"
        if status == "waiting":
            reply = self._waiting(state, base)
            assert reply.handoff is not None
            reply.handoff["lines"] = lines
            return reply
        return BotReply(action="handoff", reply="", handoff=self._info(state, status, lines=lines), **base)

    def leave(self, state: SessionState) -> None:
        """The citizen chose a ticket instead of waiting: the agents' queue lets them go."""
        if state.handoff_id is not None:
            with contextlib.suppress(HandoffError):  # already closed
                self.desk.citizen_leaves(state.handoff_id)
        state.handoff_id = state.handoff_token = None
