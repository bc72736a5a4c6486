"""The assistant: a message goes in, is understood, decided on, answered, and a reply comes out.

channel -> UserMessage -> NLU pipeline -> hybrid retrieval -> policy.decide -> BotReply
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bot.answers import answer_item
from bot.desk import TicketGateway
from bot.escalation import Escalation
from bot.messages import BotReply, Option, Source, UserMessage
from bot.policy import Calibration, Decision, PolicyConfig, decide
from bot.resources import Resources
from bot.responses import Responses
from bot.sessions import SessionState, open_session_store
from bot.training import load_calibration
from core.clock import Clock, system_clock
from core.settings import Settings
from index.retriever import Hit, HybridRetriever, Mode
from knowledge.store import KnowledgeStore
from nlu.intents import ModelMissingError
from nlu.message import ParsedMessage
from nlu.pipeline import Pipeline
from nlu.validators import mask_personal
from tickets.intake import DeskUnavailableError

log = logging.getLogger(__name__)


UnansweredHook = Callable[..., None]
"""Called as hook(text=..., reason=..., channel=...) for each fallback reply (the server wires
tickets.unanswered.UnansweredRecorder; it masks the text before storing it)."""


class NotPreparedError(RuntimeError):
    """The knowledge base, index or models are missing; the message says which command helps."""


class Assistant:
    def __init__(
        self, settings: Settings, desk: TicketGateway | None = None, *, clock: Clock = system_clock
    ) -> None:
        self.settings = settings
        self.clock = clock  # "now" for the times citizens read (今天/明天)
        self._desk = desk
        self.kb = KnowledgeStore(settings.kb_path)
        self.resources = Resources(settings, self.kb)
        self.sessions = open_session_store(
            settings.sessions_path,
            settings.bot.session_ttl_minutes,
            settings.secrets.redis_url,
            settings.server.redis_prefix,
        )
        self.policy_config = settings.policy(PolicyConfig)
        self.unanswered_hook: UnansweredHook | None = None

    # --- the parts, built on first use -------------------------------------------------
    @cached_property
    def responses(self) -> Responses:
        return Responses.load()

    @cached_property
    def escalation(self) -> Escalation:
        zone = ZoneInfo(self.settings.tickets.timezone)
        return Escalation(self.responses, self.desk, zone=zone, clock=lambda: self.clock())

    def desk(self) -> TicketGateway:
        """The ticket desk: the one given, else the SQL desk of the settings (opened on first use)."""
        if self._desk is None:
            from tickets.chat_gateway import SqlTicketGateway

            try:
                self._desk = SqlTicketGateway.open(self.settings)
            except Exception as exc:  # database down or misconfigured: the dialogue says so
                raise DeskUnavailableError(str(exc)) from exc
        return self._desk

    @cached_property
    def pipeline(self) -> Pipeline:
        try:
            return Pipeline.from_config(self.settings.pipeline, self.resources)
        except ModelMissingError as exc:
            raise NotPreparedError(str(exc)) from exc

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever.load(self.settings.index_dir, self.settings.index)

    @cached_property
    def calibration(self) -> Calibration:
        answer_min = self.policy_config.answer_min_score
        if answer_min != "calibrated":
            return Calibration(dense_min=answer_min)
        calibration = load_calibration(self.settings.models_dir)
        if calibration is None:
            raise NotPreparedError("no calibration yet; run `govbot train`")
        return calibration

    @cached_property
    def children(self) -> dict[str, list[str]]:
        """Parent item id -> ids of its variants (新申请/变更/注销/补办...)."""
        by_title = {r.title: r.id for r in self.retriever.records}
        kids: dict[str, list[str]] = defaultdict(list)
        for record in self.retriever.records:
            if record.parent:
                parent_id = (
                    record.parent if self.retriever.record(record.parent) else by_title.get(record.parent)
                )
                if parent_id and parent_id != record.id:
                    kids[parent_id].append(record.id)
        return dict(kids)

    def reload_index(self) -> None:
        """Forget the loaded index (after an incremental build); the next question loads it anew."""
        for name in ("retriever", "children"):
            self.__dict__.pop(name, None)

    # --- understanding and retrieval ---------------------------------------------------
    def parse(self, text: str) -> ParsedMessage:
        return self.pipeline.parse(text)

    def retrieve(
        self, message: ParsedMessage, *, top_k: int | None = None, mode: Mode = "hybrid"
    ) -> list[Hit]:
        vector = None
        if mode in ("hybrid", "dense") and message.text:
            if message.embedding is None:
                message.embedding = self.resources.embed_query(message.search_text)
            vector = message.embedding
        return self.retriever.search(
            text=message.text,
            search_text=message.search_text,
            vector=vector,
            top_k=top_k,
            mode=mode,
        )

    def _children_hits(self, hits: list[Hit]) -> dict[str, list[Hit]]:
        out: dict[str, list[Hit]] = {}
        for hit in hits[:1]:
            ids = self.children.get(hit.id, [])
            records = [self.retriever.record(i) for i in ids]
            out[hit.id] = [
                Hit(r.id, r.title, r.kind, r.parent, hit.score, {}) for r in records if r is not None
            ]
        return out

    # --- one message -------------------------------------------------------------------
    def handle(self, message: UserMessage) -> BotReply:
        started = time.perf_counter()
        parsed = self.parse(message.text)
        state = self.sessions.get(message.session_id)
        base = self._base(parsed, [])
        reply = self.escalation.continue_conversation(parsed, state, message.channel, base)
        if reply is None:
            min_sources = self.settings.bot.min_sources
            top_k = max(self.settings.index.top_k, min_sources)
            hits = self.retrieve(parsed, top_k=top_k) if parsed.text else []
            decision = decide(
                parsed, hits, state, self.calibration, self.policy_config, self._children_hits(hits)
            )
            reply = self._reply(parsed, decision, hits, state, message.channel)
        if parsed.truncated:
            limit = self.pipeline.describe()[0].get("max_chars", "")
            notice = self.responses.render("utter_truncated_notice", limit=limit)
            reply.notices.append(notice)
            reply.reply = f"{notice}\n{reply.reply}"
        self._remember(message.session_id, state, reply)
        if reply.action == "fallback" and self.unanswered_hook is not None:
            self.unanswered_hook(text=parsed.text, reason=decision.reason, channel=message.channel)
        reply.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            "bot.message.handled",
            extra={"action": reply.action, "text": mask_personal(parsed.text[:80])},
        )
        return reply

    @staticmethod
    def _base(parsed: ParsedMessage, hits: list[Hit]) -> dict[str, Any]:
        return {
            "intent": parsed.intent,
            "sources": [Source(**h.source()) for h in hits],
            "entities": [e.as_dict() for e in parsed.entities],
        }

    def _reply(
        self, parsed: ParsedMessage, decision: Decision, hits: list[Hit], state: SessionState, channel: str
    ) -> BotReply:
        render = self.responses.render
        base = self._base(parsed, hits)
        action = decision.action
        if action == "answer" and decision.item_id:
            item = self.kb.get(decision.item_id)
            if item is None:  # index and knowledge base out of step: never invent
                return BotReply(action="fallback", reply=render("utter_no_answer"), **base)
            text, card = answer_item(item, decision.fields, self.responses)
            if decision.reason in ("followup", "clarify_choice"):
                base["sources"] = [Source(id=item.id, title=item.title, score=1.0)] + [
                    s for s in base["sources"] if s.id != item.id
                ]
            return BotReply(action="answer", reply=text, item_id=item.id, card=card, **base)
        if action == "clarify":
            if not decision.options:
                return BotReply(action="clarify", reply=render("utter_followup_no_context"), **base)
            listing = "\n".join(f"{i}. {o.title}" for i, o in enumerate(decision.options, start=1))
            text = render("utter_clarify", count=len(decision.options)) + "\n" + listing
            return BotReply(action="clarify", reply=text, options=decision.options, **base)
        if action == "ticket":
            category = parsed.category or "其他"
            parsed.category = category
            lead = render("utter_ticket_offer", category=category)
            return self.escalation.start_form(parsed, state, base, describes_matter=True, lead=lead)
        if action == "ticket_status":
            return self.escalation.status(parsed, state, base)
        if action == "handoff":
            return BotReply(action="handoff", reply=render("utter_handoff"), **base)
        if action == "smalltalk":
            return BotReply(action="smalltalk", reply=render(f"utter_{decision.reason}"), **base)
        key = {"empty": "utter_empty_input", "out_of_scope": "utter_out_of_scope"}.get(
            decision.reason, "utter_no_answer"
        )
        return BotReply(action="fallback", reply=render(key), **base)

    def _remember(self, session_id: str, state: SessionState, reply: BotReply) -> None:
        state.turns += 1
        state.offer_ticket = reply.action == "fallback" and state.form is None
        state.last_action = reply.action
        state.options = [Option(id=o.id, title=o.title) for o in reply.options]
        if reply.action == "answer" and reply.item_id:
            state.last_item_id = reply.item_id
        self.sessions.put(session_id, state)

    def close(self) -> None:
        self.kb.close()
        self.sessions.close()
