"""The ticket side of the dialogue: the chat form, status by number + phone last 4, ratings.

Runs what bot.policy.decide chose (it decides nothing itself); talks to the ticket desk
only through bot.desk.TicketGateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from bot import ticket_form
from bot.desk import TicketGateway
from bot.messages import BotReply
from bot.policy import last4_in
from bot.responses import Responses
from bot.sessions import SessionState
from core.citizen_time import citizen_deadline
from core.clock import Clock, system_clock
from core.errors import RateLimitedError
from nlu.message import ParsedMessage
from tickets.intake import DeskUnavailableError, TicketRefusedError, TicketRequest

log = logging.getLogger(__name__)

# The contract's fields (tickets.schemas.TicketCreate) and the form step that collects each:
# a field the contract refuses is asked again, so the form never gets stuck.
_FIELD_STEPS: dict[str, tuple[ticket_form.Step, str]] = {
    "title": ("description", "诉求内容"),
    "content": ("description", "诉求内容"),
    "location": ("location", "事发地点"),
    "phone": ("phone", "联系电话"),
    "name": ("name", "姓名"),
}


class Escalation:
    def __init__(
        self,
        responses: Responses,
        desk: Callable[[], TicketGateway],
        *,
        zone: tzinfo,
        clock: Clock = system_clock,
    ) -> None:
        self.responses = responses
        self._desk = desk
        self.zone = zone  # tickets.timezone: citizens read local time, never the stored UTC
        self.clock = clock

    def _deadline(self, value: datetime | None) -> str:
        return citizen_deadline(value, zone=self.zone, now=self.clock())

    # --- the form ------------------------------------------------------------------------
    def start_form(
        self,
        parsed: ParsedMessage,
        state: SessionState,
        base: dict[str, Any],
        *,
        describes_matter: bool,
        lead: str = "",
    ) -> BotReply:
        form = ticket_form.start(parsed, describes_matter=describes_matter)
        state.form = form
        turn = ticket_form.ask(form)
        text = self.responses.render(turn.prompt, **turn.values)
        return self._form_reply(form, turn, f"{lead}\n{text}" if lead else text, base)

    def form_turn(
        self, parsed: ParsedMessage, state: SessionState, channel: str, base: dict[str, Any]
    ) -> BotReply:
        """One answer to the form in progress: fill the step, ask the next, or submit."""
        form = state.form
        assert form is not None
        turn = ticket_form.advance(form, parsed)
        if turn.cancelled:
            state.form = None
            return BotReply(action="ticket", reply=self.responses.render(turn.prompt), **base)
        if not turn.submit:
            return self._form_reply(form, turn, self.responses.render(turn.prompt, **turn.values), base)
        request = TicketRequest(
            title=form.description[:40],
            content=form.description,
            location=form.location,
            phone=form.phone,
            name=form.name,
            contact_consent=bool(form.contact_consent),
            category=form.category,
            ticket_type=form.ticket_type,
            channel=channel,
            session_key=f"{channel}:form:{form.form_id}",
        )
        try:
            receipt = self._desk().create(request)
        except TicketRefusedError as exc:
            return self._ask_again(form, state, exc, base)
        except DeskUnavailableError as exc:
            log.warning("ticket.create.failed", extra={"error": str(exc)})
            text = self.responses.render("utter_form_desk_down")
            return self._form_reply(form, ticket_form.ask(form), text, base)
        state.form = None
        log.info("ticket.created", extra={"ticket_no": receipt.ticket_no, "channel": channel})
        text = self.responses.render(
            "utter_ticket_created",
            ticket_no=receipt.ticket_no,
            deadline=self._deadline(receipt.feedback_deadline),
        )
        if receipt.duplicate_of:  # said, but never which ticket: it is another citizen's
            text += "\n" + self.responses.render("utter_ticket_possible_duplicate")
        ticket = receipt.model_dump(mode="json", exclude={"duplicate_of"})
        return BotReply(action="ticket", reply=text, ticket=ticket, **base)

    def _ask_again(
        self, form: ticket_form.TicketForm, state: SessionState, exc: TicketRefusedError, base: dict[str, Any]
    ) -> BotReply:
        """The contract refused a field: empty its slot and ask for it again (or, for a field the
        citizen cannot change, close the form rather than refuse every 确认提交)."""
        field, _, reason = exc.problems[0].partition(": ")
        target = _FIELD_STEPS.get(field.split(".")[0])
        log.info("ticket.form.refused", extra={"field": field})
        if target is None:
            state.form = None
            return BotReply(action="ticket", reply=self.responses.render("utter_handoff"), **base)
        step, label = target
        setattr(form, "description" if step == "description" else step, "")
        if step == "name":
            form.name_asked = False
        form.step = step
        text = self.responses.render("utter_form_field_invalid", field=label, reason=reason)
        turn = ticket_form.ask(form)
        return self._form_reply(
            form, turn, text + "\n" + self.responses.render(turn.prompt, **turn.values), base
        )

    def _form_reply(
        self, form: ticket_form.TicketForm, turn: ticket_form.FormTurn, text: str, base: dict[str, Any]
    ) -> BotReply:
        return BotReply(
            action="ticket",
            reply=text,
            form={"step": form.step, "choices": turn.choices},
            category=form.category,
            **base,
        )

    # --- status and rating -----------------------------------------------------------------
    def status(self, parsed: ParsedMessage, state: SessionState, base: dict[str, Any]) -> BotReply:
        ticket = parsed.first("ticket_no")
        if ticket is None:
            return BotReply(
                action="ticket_status", reply=self.responses.render("utter_ticket_status_ask_number"), **base
            )
        rest = parsed.text.replace(ticket.text, " ")
        phone = parsed.first("phone")
        last4 = phone.value[-4:] if phone else None
        if last4 is None:
            last4 = last4_in(rest)
        if last4 is None:
            state.pending_ticket_no = ticket.value
            text = self.responses.render("utter_ticket_status_ask_last4", ticket_no=ticket.value)
            return BotReply(action="ticket_status", reply=text, **base)
        return self.lookup(ticket.value, last4, state, base)

    def lookup(self, ticket_no: str, last4: str, state: SessionState, base: dict[str, Any]) -> BotReply:
        """The status of one ticket, for whoever knows its number and the phone's last four digits."""
        state.pending_ticket_no = None
        try:
            view = self._desk().status(ticket_no, last4)
        except DeskUnavailableError:
            return BotReply(action="ticket_status", reply=self.responses.render("utter_desk_down"), **base)
        except RateLimitedError as exc:  # too many misses for this number, from any session
            minutes = max(1, -(-exc.retry_after // 60))
            text = self.responses.render("utter_ticket_status_locked", ticket_no=ticket_no, minutes=minutes)
            return BotReply(action="ticket_status", reply=text, **base)
        if view is None:
            text = self.responses.render("utter_ticket_status_not_found", ticket_no=ticket_no)
            return BotReply(action="ticket_status", reply=text, **base)
        text = self.responses.render(
            "utter_ticket_status",
            ticket_no=view.ticket_no,
            status=view.status,
            department=view.department or "待分派",
            feedback_deadline=self._deadline(view.feedback_deadline),
        )
        if view.reply:
            text += "\n" + self.responses.render("utter_ticket_feedback", reply=view.reply)
        if view.closed and not view.rated:
            state.rating_for = f"{view.ticket_no}:{last4}"
            text += "\n" + self.responses.render("utter_ask_rating")
        return BotReply(action="ticket_status", reply=text, ticket=view.model_dump(mode="json"), **base)

    def rate(self, state: SessionState, score: int, base: dict[str, Any]) -> BotReply:
        """Record the score for the closed ticket the last lookup asked a rating for."""
        assert state.rating_for is not None
        ticket_no, _, last4 = state.rating_for.partition(":")
        state.rating_for = None
        try:
            saved = self._desk().rate(ticket_no, last4, score)
        except DeskUnavailableError:
            saved = False
        key = "utter_rating_thanks" if saved else "utter_rating_failed"
        return BotReply(action="ticket_status", reply=self.responses.render(key, score=score), **base)
