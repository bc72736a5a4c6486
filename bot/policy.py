"""Every decision the assistant takes, in one readable place, as one pure function.

answer | clarify | ticket | handoff | smalltalk | fallback | ticket_status.
`decide` reads two kinds of facts: what NLU understood (`ParsedMessage`: intent and its
confidence, entities, fields, subject) and what the session remembers (`SessionState`: a
form in progress, a pending clarify, status or rating question). NLU never decides and the
ticket dialogue (bot/escalation.py) only runs what was decided here.

Retrieval confidence is judged on the calibrated confidence and thresholds written by
`govbot train` / `govbot index build` for this knowledge base (bot/calibration.py), never on a
guessed number: e5 similarities are compressed (unrelated pairs still score about 0.83).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot import ticket_form
from bot.confidence import ConfidenceModel
from bot.messages import Action, Option
from bot.sessions import SessionState
from core.component_settings import DecisionPolicyOptions
from index.retriever import Hit
from nlu.message import ParsedMessage

SMALLTALK = ("greet", "thanks", "goodbye")
# With a ticket number, these words ask for its progress, whatever the classifier says.
STATUS_WORDS = ("进度", "进展", "状态", "怎么样了", "处理到", "有结果", "有回复", "查询")
_ORDINALS = {
    "第一": 0,
    "第二": 1,
    "第三": 2,
    "第四": 3,
    "第五": 4,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
}
_FOLLOWUP_SUBJECT_MAX = 2  # a follow-up names a field but no subject of its own
_LAST4 = re.compile(r"(?:尾号|后四位|后4位|末四位|末4位)?\D{0,3}(?<!\d)(\d{4})(?!\d)")
_SCORE = re.compile(r"^\s*([1-5])\s*(?:分|星)?\s*$")


Level = Literal["answer", "clarify", "abstain"]


@dataclass
class Calibration:
    """What retrieval confidence the knowledge base's answers need, measured on its own corpus.

    With a fitted `model` (bot/calibration.py): answer at confidence >= answer_min, offer the
    candidates at >= clarify_min, else say the knowledge base does not cover it. Without one
    (a fixed `answer_min_score` in config.yml, or an old calibration file): the best hit's dense
    score against dense_min, or a near-exact name match.
    """

    dense_min: float
    fuzzy_min: float = 0.92
    measured_on: dict[str, int] = field(default_factory=dict)
    model: ConfidenceModel | None = None
    answer_min: float = 1.0
    clarify_min: float = 1.0
    measured: dict[str, Any] = field(default_factory=dict)  # error rates on the probes, for reports

    def confident(self, hit: Hit) -> bool:
        return hit.signals.get("dense", 0.0) >= self.dense_min or (
            hit.signals.get("fuzzy", 0.0) >= self.fuzzy_min
        )

    def confidence(self, hits: list[Hit]) -> float:
        """The probability that the first hit answers the question (1/0 without a model)."""
        if self.model is not None:
            return self.model.probability(hits)
        return 1.0 if hits and self.confident(hits[0]) else 0.0

    def level(self, hits: list[Hit]) -> Level:
        """answer | clarify | abstain for this ranked list."""
        if not hits:
            return "abstain"
        if self.model is None:
            return "answer" if self.confident(hits[0]) else "abstain"
        value = self.model.probability(hits)
        if value >= self.answer_min:
            return "answer"
        return "clarify" if value >= self.clarify_min else "abstain"


@dataclass
class Decision:
    """What to do, why (`reason` names the rule), and what the chosen dialogue needs."""

    action: Action
    reason: str
    item_id: str | None = None
    options: list[Option] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    intent: str = ""  # the intent the rules read (NLU's, unless a rule reads the message otherwise)
    ticket_no: str | None = None  # status lookup: the number asked about
    last4: str | None = None  # status lookup: the phone's last four digits
    score: int | None = None  # rating: the 1-5 satisfaction score


PolicyConfig = DecisionPolicyOptions
"""The policy's options (config.yml `policies: - name: DecisionPolicy`), declared with their
defaults and help text in core/component_settings.py."""


def _chosen_option(text: str, options: list[Option]) -> Option | None:
    """A reply to a clarify question: the option's title, or its number."""
    for option in options:
        if text == option.title or text == option.id:
            return option
    stripped = re.sub(r"[个项条。.！!,，\s]", "", text)
    for word, pos in _ORDINALS.items():
        if stripped in (word, f"选{word}", f"{word}") and pos < len(options):
            return options[pos]
    return None


def _clarify_options(hits: list[Hit], config: PolicyConfig) -> list[Option]:
    """Near ties, or siblings under one parent, become the options to choose from."""
    best = hits[0]
    close = [
        h
        for h in hits[1:]
        if best.score - h.score <= config.clarify_margin
        or (best.parent and h.parent == best.parent and best.score - h.score <= 3 * config.clarify_margin)
    ]
    if not close:
        return []
    chosen = [best, *close][: config.clarify_max_options]
    titles = {h.title for h in chosen}
    if len(titles) < 2:
        return []
    return [Option(id=h.id, title=h.title) for h in chosen]


def last4_in(text: str) -> str | None:
    """The phone's last four digits in a reply such as 尾号5678 (a status lookup's second factor)."""
    found = _LAST4.search(text)
    return found.group(1) if found else None


def read_intent(message: ParsedMessage) -> str:
    """NLU's intent, except that a ticket number asked about (进度, 状态...) is a status question."""
    if message.first("ticket_no") and any(w in message.text for w in STATUS_WORDS):
        return "ticket_status"
    return message.intent


def _strongly_matched(
    hits: list[Hit], calibration: Calibration, config: PolicyConfig, documents: Mapping[str, str]
) -> bool:
    """Retrieval names one item strongly and unambiguously: the best hit is confident, its dense
    score passes the answer threshold by `strong_match_dense_margin`, its fused score reaches
    `strong_match_min_score` (the lexical or name matcher agree with the embedding), it leads
    the runner-up by `clarify_margin`, and the embedding prefers no other of the first candidates
    (`_dense_rivals`: a match it contradicts is not unambiguous; articles of one policy document
    are not rivals, see `_one_document`)."""
    if not hits or calibration.level(hits) != "answer":
        return False
    best = hits[0]
    lead = best.score - hits[1].score if len(hits) > 1 else best.score
    return (
        best.signals.get("dense", 0.0) >= calibration.dense_min + config.strong_match_dense_margin
        and best.score >= config.strong_match_min_score
        and lead >= config.clarify_margin
        and _one_document(_dense_rivals(hits, calibration, config), documents, empty=True)
    )


def service_progress_question(
    message: ParsedMessage,
    hits: list[Hit],
    state: SessionState,
    calibration: Calibration,
    config: PolicyConfig,
    documents: Mapping[str, str],
) -> bool:
    """Whether a message the classifier reads as a ticket-status question asks about a service's own
    progress or result query instead (临时救助申请了想查进度, 舱单通关状态): no ticket number in it or
    pending in the session, no word that names the citizen's own hotline request (`own_ticket_words`:
    工单, 反映, 投诉...), and retrieval names one item strongly (`_strongly_matched`)."""
    if message.first("ticket_no") or state.pending_ticket_no:
        return False
    if any(w in message.text for w in config.own_ticket_words):
        return False
    return _strongly_matched(hits, calibration, config, documents)


def strong_service_match(
    message: ParsedMessage,
    hits: list[Hit],
    calibration: Calibration,
    config: PolicyConfig,
    documents: Mapping[str, str],
) -> bool:
    """Whether a message the classifier reads as a complaint is really a question about one item.

    Long questions with a story in them (多交的钱能退吗, 能不能申请补偿) read like complaints, but
    when retrieval names one item strongly and unambiguously the citizen is asking about that
    service. Strong: the best hit is confident, its dense score passes the answer threshold by
    `strong_match_dense_margin`, its fused score reaches `strong_match_min_score` (the lexical or
    name matcher agree with the embedding) and it leads the runner-up by `clarify_margin`.
    A message stays a complaint when the classifier is sure of it (`complaint_clear_confidence`) or
    it says so in words (`complaint_words`: 投诉, 举报, 查处...), unless the item itself is the
    channel for that complaint (its title has the word). An item about complaining (投诉 in its
    title) matched by a message that does not ask about complaining found the message's tone,
    not its topic (向12345投诉的方式 for a noise complaint that leaves a phone number): a ticket.
    """
    if not _strongly_matched(hits, calibration, config, documents):
        return False
    if message.intent_confidence >= config.complaint_clear_confidence:
        return False
    best = hits[0]
    said = [w for w in config.complaint_words if w in message.text]
    if not said:  # an item about complaining itself matched a complaint by its tone: file it
        return not any(w in best.title for w in config.complaint_words)
    return all(w in best.title for w in said)


def _in_dialogue(message: ParsedMessage, state: SessionState) -> Decision | None:
    """The rules of a conversation in progress: they need no retrieval, so they come first."""
    text = message.text
    if state.handoff_id is not None:  # a person is on the line: the bot only relays
        if ticket_form.wants_ticket(text):
            return Decision("ticket", "leave_handoff")
        return Decision("handoff", "live")
    if state.form is not None:
        return Decision("ticket", "form_turn")
    if state.rating_for and (score := _SCORE.match(text)):
        return Decision("ticket_status", "rating", score=int(score.group(1)))
    if state.pending_ticket_no and not message.first("ticket_no") and (last4 := last4_in(text)):
        return Decision("ticket_status", "last4", ticket_no=state.pending_ticket_no, last4=last4)
    if ticket_form.wants_ticket(text) or (
        state.offer_ticket and ticket_form.matches(text, ticket_form.YES_WORDS)
    ):
        return Decision("ticket", "form_request")
    return None


def needs_retrieval(message: ParsedMessage, state: SessionState) -> bool:
    """Whether `decide` will read retrieval hits: not for empty text or a conversation in progress."""
    return bool(message.text) and _in_dialogue(message, state) is None


def decide(
    message: ParsedMessage,
    hits: list[Hit],
    state: SessionState,
    calibration: Calibration,
    config: PolicyConfig,
    children: dict[str, list[Hit]] | None = None,
    documents: Mapping[str, str] | None = None,
) -> Decision:
    """The single place where the assistant decides what to do with a message.

    `documents` names the policy document of each chunk hit (hit id -> source file).
    Pure: the same facts, hits and calibration always give the same decision.
    """
    intent = read_intent(message)
    decision = _in_dialogue(message, state)
    if decision is None:
        docs = documents or {}
        if intent == "complaint" and strong_service_match(message, hits, calibration, config, docs):
            intent = "ask_service"  # a question about the matched service, told as a story
        elif intent == "ticket_status" and service_progress_question(
            message, hits, state, calibration, config, docs
        ):
            intent = "ask_service"  # the progress of a service applied for, not of a hotline ticket
        decision = _on_message(message, intent, hits, state, calibration, config, children, docs)
    decision.intent = intent
    return decision


def _on_message(
    message: ParsedMessage,
    intent: str,
    hits: list[Hit],
    state: SessionState,
    calibration: Calibration,
    config: PolicyConfig,
    children: dict[str, list[Hit]] | None,
    documents: Mapping[str, str],
) -> Decision:
    """The rules for a new message, read with its retrieval hits."""
    if not message.text:
        return Decision("fallback", "empty")
    if state.last_action == "clarify" and state.options:
        chosen = _chosen_option(message.text, state.options)
        if chosen is not None:
            return Decision("answer", "clarify_choice", chosen.id, fields=message.fields)
    if intent == "handoff":
        return Decision("handoff", "intent")
    if intent in SMALLTALK and len(message.text) <= config.smalltalk_max_chars:
        return Decision("smalltalk", intent)
    if intent == "ticket_status":
        return Decision("ticket_status", "intent")
    best = hits[0] if hits else None
    if intent == "complaint":
        # A question that is (almost word for word) a reviewed FAQ gets that answer, even when it
        # reads like a complaint: promoted official replies exist to answer exactly these.
        if (
            best is not None
            and best.kind == "faq"
            and best.signals.get("fuzzy", 0.0) >= calibration.fuzzy_min
        ):
            return Decision("answer", "faq_match", best.id, fields=message.fields)
        return Decision("ticket", "intent")
    # A short subject can still name an item (护照要什么材料, 驾照在哪里办): a new question then.
    mention = message.first("service_item")
    names_item = (
        bool(message.subject)
        and mention is not None
        and (message.subject in mention.text or mention.text in message.subject)
    )
    is_followup = bool(message.fields) and len(message.subject) <= _FOLLOWUP_SUBJECT_MAX and not names_item
    if is_followup and state.last_item_id:
        return Decision("answer", "followup", state.last_item_id, fields=message.fields)
    if is_followup:
        return Decision("clarify", "followup_without_context")
    level = calibration.level(hits)
    if level == "answer" and best is not None and not _words_support(best, config):
        level = "clarify"  # no word of the question is in the item: ask back, never answer
    if best is None or level == "abstain":
        return Decision("fallback", "out_of_scope" if intent == "out_of_scope" else "low_confidence")
    if intent == "out_of_scope" and message.intent_confidence >= 0.8:
        return Decision("fallback", "out_of_scope")
    if children and best.id in children and len(children[best.id]) > 1:
        variants = children[best.id][: config.clarify_max_options]
        return Decision("clarify", "parent_item", options=[Option(id=h.id, title=h.title) for h in variants])
    options, reason = _clarify_options(hits, config), "close_candidates"
    if not options and level == "answer":
        options, reason = _dense_rivals(hits, calibration, config), "dense_rival"
    if options and level == "answer" and _one_document(options, documents):
        # articles of one document are not choices a citizen can judge: the answer quotes the
        # best and the close ones (only when confident: otherwise a document that merely
        # shares words with the question would be quoted as if it answered it)
        return Decision("answer", "one_document", best.id, fields=message.fields)
    if options:
        return Decision("clarify", reason, options=options)
    if level == "clarify":
        unsure = _unsure_options(hits, config)
        if not unsure:
            return Decision("fallback", "low_confidence")
        return Decision("clarify", "unsure", options=unsure)
    return Decision("answer", "retrieval", best.id, fields=message.fields)


def _dense_rivals(hits: list[Hit], calibration: Calibration, config: PolicyConfig) -> list[Option]:
    """The first `dense_rival_window` candidates (distinct titles) when one of them, other than the
    best, is at least as close to the question by the embedding: fusion put the best first on
    shared words or names, the meaning prefers another, and neither alone says which variant the
    citizen means (代开发票作废 vs 代开增值税普通发票). Empty when they agree, or when the best's
    name is matched nearly word for word (the citizen typed the title itself)."""
    window = config.dense_rival_window
    if window < 2 or len(hits) < 2 or hits[0].signals.get("fuzzy", 0.0) >= calibration.fuzzy_min:
        return []
    best = hits[0]
    chosen: dict[str, Option] = {}
    for hit in hits:
        if len(chosen) >= min(window, config.clarify_max_options):
            break
        chosen.setdefault(hit.title, Option(id=hit.id, title=hit.title))
    leading = best.signals.get("dense", 0.0)
    rival = any(h.title != best.title and h.signals.get("dense", 0.0) >= leading for h in hits[1:window])
    return list(chosen.values()) if rival and len(chosen) >= 2 else []


def _words_support(best: Hit, config: PolicyConfig) -> bool:
    """Whether the best item shares words with the question, not only meaning: its BM25 score (a
    share of the best possible for this question) or its name match reaches the configured floor.
    An embedding alone finds a "nearest" item for any question at all (快递丢件了 -> 退款 items)."""
    return (
        best.signals.get("lexical", 0.0) >= config.answer_min_lexical
        or best.signals.get("fuzzy", 0.0) >= config.answer_min_fuzzy
    )


def _one_document(options: list[Option], documents: Mapping[str, str], *, empty: bool = False) -> bool:
    """Whether every option is a chunk of one and the same policy document (`empty`: for no options)."""
    if not options:
        return empty
    found = {documents.get(o.id) for o in options}
    return len(found) == 1 and None not in found


def _unsure_options(hits: list[Hit], config: PolicyConfig) -> list[Option]:
    """The leading candidates (distinct titles) offered when no answer is confident enough."""
    chosen: dict[str, Option] = {}
    for hit in hits:
        if len(chosen) >= config.unsure_options:
            break
        chosen.setdefault(hit.title, Option(id=hit.id, title=hit.title))
    return list(chosen.values()) if len(chosen) >= 2 else []
