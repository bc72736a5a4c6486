"""The assistant: a message goes in, is understood, decided on, answered, and a reply comes out.

channel -> UserMessage -> NLU pipeline -> hybrid retrieval (when the policy reads it)
-> policy.decide -> the chosen dialogue -> BotReply
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bot.answers import answer_item, cited
from bot.desk import TicketGateway
from bot.escalation import Escalation
from bot.handoff import Handoff, LiveDesk
from bot.messages import BotReply, Option, Source, UserMessage
from bot.policy import Calibration, Decision, PolicyConfig, decide, needs_retrieval
from bot.resources import Resources
from bot.responses import Responses
from bot.sessions import SessionState, open_session_store
from bot.training import load_calibration
from core import crypto
from core.clock import Clock, system_clock
from core.privacy import mask_personal
from core.settings import Settings
from index.retriever import Hit, HybridRetriever, Mode
from knowledge.models import PolicyChunk
from knowledge.store import KnowledgeStore
from nlu.intents import ModelMissingError
from nlu.message import ParsedMessage
from nlu.pipeline import Pipeline
from tickets.intake import DeskUnavailableError

log = logging.getLogger(__name__)


UnansweredHook = Callable[..., None]
"""Called as hook(text=..., reason=..., channel=...) for each fallback reply (the server wires
tickets.unanswered.UnansweredRecorder; it masks the text before storing it)."""


class NotPreparedError(RuntimeError):
    """The knowledge base, index or models are missing; the message says which command helps."""


class Assistant:
    def __init__(
        self,
        settings: Settings,
        desk: TicketGateway | None = None,
        *,
        clock: Clock = system_clock,
        live: LiveDesk | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock  # "now" for the times citizens read (今天/明天)
        self._desk = desk
        self.live = live  # the agents' queue (tickets/handoff.py); None: 转人工 offers a ticket
        self.kb = KnowledgeStore(settings.kb_url)
        self.resources = Resources(settings, self.kb)
        self.sessions = open_session_store(
            settings.sessions_path,
            settings.bot.session_ttl_minutes,
            settings.secrets.redis_url,
            settings.server.redis_prefix,
            keyring=crypto.load_for(settings),
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

    @cached_property
    def handoff(self) -> Handoff | None:
        if self.live is None:
            return None
        zone = ZoneInfo(self.settings.tickets.timezone)
        return Handoff(
            self.responses, self.live, self.settings.handoff, zone=zone, clock=lambda: self.clock()
        )

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
        if self.policy_config.confidence == "dense":  # the corpus model is measured, not used
            calibration.model = None
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

    def use_retriever(self, retriever: HybridRetriever) -> None:
        """Answer from `retriever` from now on (a background refresh built it; index/sync.py)."""
        self.__dict__.pop("children", None)
        self.__dict__["retriever"] = retriever

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
        if self.handoff is not None:
            self.handoff.refresh(state)
        hits: list[Hit] = []
        if needs_retrieval(parsed, state):
            top_k = max(self.settings.index.top_k, self.settings.bot.min_sources)
            hits = self.retrieve(parsed, top_k=top_k)
        decision = decide(
            parsed,
            hits,
            state,
            self.calibration,
            self.policy_config,
            self._children_hits(hits),
            self._documents(hits),
        )
        reply = self._reply(parsed, decision, hits, state, message)
        if parsed.truncated:
            limit = self.pipeline.describe()[0].get("max_chars", "")
            notice = self.responses.render("utter_truncated_notice", limit=limit)
            reply.notices.append(notice)
            reply.reply = f"{notice}\n{reply.reply}"
        self._remember(message.session_id, state, reply, parsed.raw)
        if reply.action == "fallback" and self.unanswered_hook is not None:
            self.unanswered_hook(text=parsed.text, reason=decision.reason, channel=message.channel)
        reply.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            "bot.message.handled",
            extra={"action": reply.action, "text": mask_personal(parsed.text[:80])},
        )
        return reply

    def _related_chunks(self, item: object, hits: list[Hit]) -> list[PolicyChunk]:
        """Chunks of the same document scored within the policy's sibling margin of the answered one."""
        if not isinstance(item, PolicyChunk):
            return []
        scores = {h.id: h.score for h in hits}
        if item.id not in scores:
            return []
        floor = scores[item.id] - 3 * self.policy_config.clarify_margin
        related = []
        for hit in hits:
            if hit.id == item.id or hit.kind != "chunk" or hit.score < floor:
                continue
            other = self.kb.get(hit.id)
            if isinstance(other, PolicyChunk) and other.source == item.source:
                related.append(other)
        return related

    def _documents(self, hits: list[Hit]) -> dict[str, str]:
        """The policy document (source file) of each chunk hit, for the policy's one-document rule."""
        out = {}
        for hit in hits:
            if hit.kind == "chunk" and isinstance(item := self.kb.get(hit.id), PolicyChunk):
                out[hit.id] = item.source
        return out

    @staticmethod
    def _base(parsed: ParsedMessage, decision: Decision, hits: list[Hit]) -> dict[str, Any]:
        return {
            "intent": decision.intent,
            "sources": [Source(**h.source()) for h in hits],
            "entities": [e.as_dict() for e in parsed.entities],
        }

    def _reply(
        self,
        parsed: ParsedMessage,
        decision: Decision,
        hits: list[Hit],
        state: SessionState,
        message: UserMessage,
    ) -> BotReply:
        render = self.responses.render
        channel = message.channel
        base = self._base(parsed, decision, hits)
        action = decision.action
        if action == "answer" and decision.item_id:
            item = self.kb.get(decision.item_id)
            if item is None:  # index and knowledge base out of step: never invent
                return BotReply(action="fallback", reply=render("utter_no_answer"), **base)
            text, card = answer_item(item, decision.fields, self.responses, self._related_chunks(item, hits))
            if decision.reason in ("followup", "clarify_choice"):
                base["sources"] = [Source(id=item.id, title=item.title, score=1.0)] + [
                    s for s in base["sources"] if s.id != item.id
                ]
            return BotReply(
                action="answer", reply=text, item_id=item.id, card=card, citations=[cited(item)], **base
            )
        if action == "clarify":
            if not decision.options:
                return BotReply(action="clarify", reply=render("utter_followup_no_context"), **base)
            listing = "\n".join(f"{i}. {o.title}" for i, o in enumerate(decision.options, start=1))
            text = render("utter_clarify", count=len(decision.options)) + "\n" + listing
            return BotReply(action="clarify", reply=text, options=decision.options, **base)
        if action in ("ticket", "ticket_status"):
            return self._ticket_dialogue(parsed, decision, state, channel, base)
        if action == "handoff":
            return self._handoff(parsed, decision, state, message, base)
        if action == "smalltalk":
            return BotReply(action="smalltalk", reply=render(f"utter_{decision.reason}"), **base)
        key = {"empty": "utter_empty_input", "out_of_scope": "utter_out_of_scope"}.get(
            decision.reason, "utter_no_answer"
        )
        return BotReply(action="fallback", reply=render(key), **base)

    def _handoff(
        self,
        parsed: ParsedMessage,
        decision: Decision,
        state: SessionState,
        message: UserMessage,
        base: dict[str, Any],
    ) -> BotReply:
        """Run the handoff the policy chose: relay a line to the agent, or ask for one."""
        handoff = self.handoff
        if handoff is None:  # no live desk wired (the CLI): honest, with a ticket offer
            text = self.responses.render("utter_handoff_no_agent")
            return BotReply(
                action="handoff", reply=text, handoff={"status": "unavailable", "offer_ticket": True}, **base
            )
        if decision.reason == "live":
            return handoff.relay(state, parsed.raw, base)
        return handoff.request(state, message.session_id, message.channel, base)

    def _ticket_dialogue(
        self,
        parsed: ParsedMessage,
        decision: Decision,
        state: SessionState,
        channel: str,
        base: dict[str, Any],
    ) -> BotReply:
        """Run the ticket dialogue the policy chose: the form, a status lookup or a rating."""
        escalation = self.escalation
        if decision.reason == "leave_handoff" and self.handoff is not None:
            self.handoff.leave(state)
        if decision.reason == "form_turn":
            return escalation.form_turn(parsed, state, channel, base)
        if decision.reason in ("form_request", "leave_handoff"):
            return escalation.start_form(parsed, state, base, describes_matter=False)
        if decision.reason == "rating" and decision.score is not None:
            return escalation.rate(state, decision.score, base)
        if decision.reason == "last4" and decision.ticket_no and decision.last4:
            return escalation.lookup(decision.ticket_no, decision.last4, state, base)
        if decision.action == "ticket_status":
            return escalation.status(parsed, state, base)
        parsed.category = parsed.category or "其他"
        lead = self.responses.render("utter_ticket_offer", category=parsed.category)
        return escalation.start_form(parsed, state, base, describes_matter=True, lead=lead)

    def _remember(self, session_id: str, state: SessionState, reply: BotReply, said: str) -> None:
        state.turns += 1
        offered = reply.action == "fallback" or bool(reply.handoff and reply.handoff.get("offer_ticket"))
        state.offer_ticket = offered and state.form is None
        if reply.action != "handoff" or state.handoff_id is None:  # the bot's turns, for an agent
            keep = 2 * self.settings.handoff.transcript_turns
            state.transcript = [*state.transcript, ("citizen", said), ("bot", reply.reply)][-keep:]
        state.last_action = reply.action
        state.options = [Option(id=o.id, title=o.title) for o in reply.options]
        if reply.action == "answer" and reply.item_id:
            state.last_item_id = reply.item_id
        self.sessions.put(session_id, state)

    def close(self) -> None:
        self.kb.close()
        self.sessions.close()
