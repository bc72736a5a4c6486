"""Custom actions for a Rasa assistant that answers from govbot (the optional `govbot[rasa]` extra).

Run the action server as its own process, next to a running govbot server::

    GOVBOT_API_URL=http://127.0.0.1:8000 GOVBOT_API_TOKEN=... \\
        python -m rasa_sdk --actions connectors.rasa_actions

(GOVBOT_TICKETS_URL when another service than GOVBOT_API_URL serves the ticket API;
GOVBOT_API_TIMEOUT in seconds; all read by core.settings.ActionServerSettings.)

- `action_answer_from_kb` sends the user's latest message to `POST /api/v1/chat`
  (session = the Rasa sender id) and utters govbot's reply, with buttons for a
  clarify question.
- `action_create_ticket` files a 12345 ticket through `POST /api/v1/tickets` (govbot's
  one ticket intake) with channel `rasa`, the latest message as content (the server
  titles it with its first sentence) and the `phone`, `name`, `location`, `category`
  and `ticket_type` slots; on success it utters the ticket number and sets the
  `ticket_no` slot. When govbot cannot be reached or refuses, the user is told
  politely and no event claims success.

The actions only speak HTTP to govbot; they never load the engine themselves.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from connectors.rasa import button_payload
from core.settings import ActionServerSettings

log = logging.getLogger(__name__)

CHANNEL = "rasa"  # a ticket channel of govbot (core/vocab.py CHANNELS)
TICKET_SLOTS = {"name": "name", "location": "location", "category": "category", "type": "ticket_type"}

UTTER_KB_UNAVAILABLE = "抱歉，暂时无法查询办事指南，请稍后再试，或拨打12345热线咨询。"
UTTER_EMPTY = "请问您想咨询哪项政务服务？"
UTTER_NEED_PHONE = "请留下您的联系电话，以便工作人员回访。"
UTTER_TICKET_FAILED = "抱歉，工单暂时未能提交成功，请稍后再试，或直接拨打12345热线反映。"
UTTER_TICKET_CREATED = "已为您登记工单，编号 {ticket_no}。我们将在 {deadline} 前回复您。"
UTTER_TICKET_CREATED_NO_DEADLINE = "已为您登记工单，编号 {ticket_no}。我们会尽快处理并回复您。"


def _settings() -> ActionServerSettings:
    return ActionServerSettings.from_env()


def _latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "").strip()


def _latest_entity(tracker: Tracker, name: str) -> str | None:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


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
    """File a 12345 ticket with govbot's ticket API from the conversation's slots."""

    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        content = _latest_text(tracker)
        phone = tracker.get_slot("phone") or _latest_entity(tracker, "phone")
        if not content:
            dispatcher.utter_message(text=UTTER_EMPTY)
            return []
        if not phone:
            dispatcher.utter_message(text=UTTER_NEED_PHONE)
            return []
        ticket: dict[str, Any] = {
            "content": content,
            "phone": str(phone),
            "channel": CHANNEL,
        }
        for field, slot in TICKET_SLOTS.items():
            value = tracker.get_slot(slot)
            if value:
                ticket[field] = str(value)
        settings = _settings()
        headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
        try:
            async with httpx.AsyncClient(base_url=settings.ticket_api, timeout=settings.timeout_s) as client:
                response = await client.post("/api/v1/tickets", json=ticket, headers=headers)
            created = response.json() if response.status_code in (200, 201) else {}
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("rasa_actions.ticket.failed", extra={"error": type(exc).__name__})
            created = {}
        else:
            if not created:
                log.warning("rasa_actions.ticket.refused", extra={"status": response.status_code})
        ticket_no = created.get("ticket_no") if isinstance(created, dict) else None
        if not ticket_no:
            dispatcher.utter_message(text=UTTER_TICKET_FAILED)
            return []
        deadline = created.get("feedback_deadline")
        if deadline:
            text = UTTER_TICKET_CREATED.format(ticket_no=ticket_no, deadline=deadline)
        else:
            text = UTTER_TICKET_CREATED_NO_DEADLINE.format(ticket_no=ticket_no)
        dispatcher.utter_message(text=text)
        return [SlotSet("ticket_no", str(ticket_no))]
