"""Custom actions for a Rasa assistant that answers from govbot (the optional `govbot[rasa]` extra).

Run the action server as its own process, next to a running govbot server::

    GOVBOT_API_URL=http://127.0.0.1:8000 GOVBOT_API_TOKEN=... \\
        python -m rasa_sdk --actions connectors.rasa_actions

(GOVBOT_TICKETS_URL when another service than GOVBOT_API_URL serves the ticket API;
GOVBOT_API_TIMEOUT in seconds; GOVBOT_TIMEZONE as the server's tickets.timezone; all read by
core.settings.ActionServerSettings.)

- `action_answer_from_kb` sends the user's latest message to `POST /api/v1/chat`
  (session = the Rasa sender id) and utters govbot's reply, with buttons for a
  clarify question.
- `action_create_ticket` files a 12345 ticket through `POST /api/v1/tickets` (govbot's
  one ticket intake) with channel `rasa`. Like the chat form it keeps the complaint
  across turns: the content is the `complaint` slot (when the domain declares it) or the
  first user turn of this ticket conversation that describes a matter (the turns since the
  bot last did anything but this action, or filed a ticket), never a later "我的电话是…";
  the phone comes from the `phone` slot or any of those turns. What is missing is asked for
  with the chat form's own questions (bot/data/responses.yml). The `name`, `location`,
  `category` and `ticket_type` slots go along; without a category the server predicts it from
  the complaint. On success it utters the ticket number and the feedback deadline in the
  citizen's zone and words (今天18:00前) and sets the `ticket_no` slot. When govbot cannot be
  reached or refuses, the user is told politely and no event claims success.

The actions only speak HTTP to govbot; they never load the engine themselves.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.responses import Responses
from bot.ticket_form import MAX_SLOT_CHARS, MIN_DESCRIPTION_CHARS, wants_ticket
from connectors.rasa import button_payload
from core.citizen_time import citizen_deadline
from core.clock import system_clock
from core.settings import ActionServerSettings
from nlu.validators import is_valid_phone

log = logging.getLogger(__name__)

CHANNEL = "rasa"  # a ticket channel of govbot (core/vocab.py CHANNELS)
TICKET_SLOTS = {"name": "name", "location": "location", "category": "category", "type": "ticket_type"}

COMPLAINT_SLOT = "complaint"  # set while a phone is asked for, when the domain declares it
ACTION_LISTEN = "action_listen"

UTTER_KB_UNAVAILABLE = "抱歉，暂时无法查询办事指南，请稍后再试，或拨打12345热线咨询。"
UTTER_EMPTY = "请问您想咨询哪项政务服务？"
UTTER_TICKET_FAILED = "抱歉，工单暂时未能提交成功，请稍后再试，或直接拨打12345热线反映。"
UTTER_TICKET_CREATED_NO_DEADLINE = "已为您登记工单，编号 {ticket_no}。我们会尽快处理并回复您。"

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}-?\d{7,8})(?!\d)")
_CONTACT_WORDS = re.compile(
    r"(我叫|我姓|姓名|称呼)\S{0,4}|联系方式|联系电话|手机号码|手机号|电话号码|电话|手机|号码|我的|是|为"
)
_PUNCT = re.compile(r"[\s\d，,。.！!？?：:；;、~～-]")


def _settings() -> ActionServerSettings:
    return ActionServerSettings.from_env()


def _latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "").strip()


@cache
def _responses() -> Responses:
    """The chat's own reply templates: the action asks and answers as the chat form does."""
    return Responses.load()


def ticket_turns(tracker: Tracker) -> list[dict[str, Any]]:
    """The user turns of this ticket conversation, oldest first: those since the bot last did
    anything but listen or run this action (an answer, a session start), or filed a ticket."""
    turns: list[dict[str, Any]] = []
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind == "user":
            turns.append(event)
            continue
        other_action = kind == "action" and event.get("name") not in (ACTION_LISTEN, ActionCreateTicket.NAME)
        filed = kind == "slot" and event.get("name") == "ticket_no" and bool(event.get("value"))
        if other_action or filed:
            break
    return list(reversed(turns))


def _text(turn: dict[str, Any]) -> str:
    text = str(turn.get("text") or "").strip()
    return "" if text.startswith("/") else text  # "/intent" payloads say nothing of the matter


def contact_only(text: str) -> bool:
    """ "我的电话是138…", "我叫张三": contact details, not a description of the matter."""
    rest = _PUNCT.sub("", _CONTACT_WORDS.sub("", _PHONE.sub("", text)))
    return len(rest) < 2


def describes_matter(text: str) -> bool:
    """What the chat form accepts as a description, less turns that only give contact details."""
    compact = _PUNCT.sub("", text)
    return (
        len(text) >= MIN_DESCRIPTION_CHARS
        and bool(compact)
        and not wants_ticket(text)
        and not (contact_only(text))
    )


def complaint_of(tracker: Tracker, turns: list[dict[str, Any]]) -> str:
    """The complaint as the citizen first described it in this ticket conversation."""
    kept = tracker.get_slot(COMPLAINT_SLOT) if COMPLAINT_SLOT in tracker.slots else None
    if kept:
        return str(kept)
    return next((text[:MAX_SLOT_CHARS] for t in turns if describes_matter(text := _text(t))), "")


def phone_of(tracker: Tracker, turns: list[dict[str, Any]]) -> str | None:
    """The `phone` slot, else a phone entity or number in the newest turn that has one."""
    slot = tracker.get_slot("phone")
    if slot:
        return str(slot)
    for turn in reversed(turns):
        for entity in (turn.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == "phone" and entity.get("value"):
                return str(entity["value"])
        for found in _PHONE.finditer(_text(turn)):
            number = re.sub(r"[\s-]", "", found.group(1)) if found.group(1)[0] == "1" else found.group(1)
            if is_valid_phone(number):
                return number
    return None


def _has_digits_attempt(turns: list[dict[str, Any]]) -> bool:
    return bool(turns) and len(re.sub(r"\D", "", _text(turns[-1]))) >= 5


class ActionAnswerFromKb(Action):
    """Answer the latest user message from govbot's knowledge base."""

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = _latest_text(tracker)
        if not text:
            dispatcher.utter_message(text=UTTER_EMPTY)
            return []
        settings = _settings()
        payload = {"session_id": tracker.sender_id, "text": text, "channel": CHANNEL}
        try:
            async with httpx.AsyncClient(base_url=settings.api_url, timeout=settings.timeout_s) as client:
                response = await client.post("/api/v1/chat", json=payload)
            response.raise_for_status()
            reply = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa_actions.answer.failed", extra={"error": type(exc).__name__})
            dispatcher.utter_message(text=UTTER_KB_UNAVAILABLE)
            return []
        options = reply.get("options") or []
        buttons = [
            {"title": str(option["title"]), "payload": button_payload(i, str(option["title"]))}
            for i, option in enumerate(options)
        ]
        dispatcher.utter_message(text=str(reply.get("reply", "")), buttons=buttons or None)
        return []


class ActionCreateTicket(Action):
    """File a 12345 ticket with govbot's ticket API from the conversation's turns and slots."""

    NAME = "action_create_ticket"

    def name(self) -> str:
        return self.NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        turns = ticket_turns(tracker)
        if not turns and (latest := tracker.latest_message or {}).get("text"):
            turns = [{"event": "user", "text": latest.get("text"), "parse_data": latest}]
        content = complaint_of(tracker, turns)
        phone = phone_of(tracker, turns)
        responses = _responses()
        if not content:
            dispatcher.utter_message(text=responses.render("utter_form_ask_description"))
            return []
        if not phone:
            key = "utter_form_phone_invalid" if _has_digits_attempt(turns) else "utter_form_ask_phone"
            dispatcher.utter_message(text=responses.render(key))
            declared = COMPLAINT_SLOT in ((domain or {}).get("slots") or {})
            return [SlotSet(COMPLAINT_SLOT, content)] if declared else []
        ticket: dict[str, Any] = {"content": content, "phone": str(phone), "channel": CHANNEL}
        for field, slot in TICKET_SLOTS.items():
            value = tracker.get_slot(slot)
            if value:
                ticket[field] = str(value)
        created = await _file(ticket)
        ticket_no = created.get("ticket_no")
        if not ticket_no:
            dispatcher.utter_message(text=UTTER_TICKET_FAILED)
            return []
        dispatcher.utter_message(text=_created_text(created))
        events = [SlotSet("ticket_no", str(ticket_no))]
        if COMPLAINT_SLOT in tracker.slots:
            events.append(SlotSet(COMPLAINT_SLOT, None))
        return events


async def _file(ticket: dict[str, Any]) -> dict[str, Any]:
    """POST the ticket; the receipt, or {} when govbot cannot be reached or refuses."""
    settings = _settings()
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    try:
        async with httpx.AsyncClient(base_url=settings.ticket_api, timeout=settings.timeout_s) as client:
            response = await client.post("/api/v1/tickets", json=ticket, headers=headers)
        created = response.json() if response.status_code in (200, 201) else {}
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("rasa_actions.ticket.failed", extra={"error": type(exc).__name__})
        return {}
    if not created:
        log.warning("rasa_actions.ticket.refused", extra={"status": response.status_code})
    return created if isinstance(created, dict) else {}


def _created_text(created: dict[str, Any]) -> str:
    """The chat's own confirmation, the deadline in the citizen's zone and words; a possible
    duplicate is mentioned without its number (it is another citizen's ticket)."""
    responses = _responses()
    ticket_no = str(created["ticket_no"])
    try:
        deadline = datetime.fromisoformat(str(created.get("feedback_deadline")))
    except ValueError:
        return UTTER_TICKET_CREATED_NO_DEADLINE.format(ticket_no=ticket_no)
    zone = ZoneInfo(_settings().timezone)
    when = citizen_deadline(deadline, zone=zone, now=system_clock())
    text = responses.render("utter_ticket_created", ticket_no=ticket_no, deadline=when)
    if created.get("duplicate_of"):
        text += "\n" + responses.render("utter_ticket_possible_duplicate")
    return text
