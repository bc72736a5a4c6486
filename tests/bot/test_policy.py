"""policy.decide with hand-made messages, hits and session state: one table row per rule.

Each row names the rule it exercises (the decision's `reason`); the rows that come in pairs
show where a rule stops applying (a number without status words, a greeting that goes on).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import pytest

from bot import policy
from bot.confidence import FEATURES, ConfidenceModel
from bot.messages import Option
from bot.policy import Calibration, PolicyConfig, decide, last4_in, needs_retrieval, read_intent
from bot.sessions import SessionState
from bot.ticket_form import TicketForm
from index.retriever import Hit
from nlu.message import Entity, ParsedMessage
from tests.utils.factories import make_hit, make_message

CALIBRATION = Calibration(dense_min=0.85, fuzzy_min=0.92)
# A fitted confidence model that reads the dense score only: 0.95 -> 0.88 (answer),
# 0.85 -> 0.5 (clarify), 0.5 -> 0.001 (abstain).
_DENSE_ONLY = ConfidenceModel(weights=[20.0, 0.0], bias=0.0, mean=[0.85, 0.0], scale=[1.0] * len(FEATURES))
FITTED = Calibration(dense_min=0.85, model=_DENSE_ONLY, answer_min=0.7, clarify_min=0.3)
CONFIG = PolicyConfig(clarify_margin=0.04, clarify_max_options=5, smalltalk_max_chars=12)
TICKET_NO = "20261120000012"
ABC = [Option(id="a", title="甲事项"), Option(id="b", title="乙事项"), Option(id="c", title="丙事项")]


def _clear_hits() -> list[Hit]:
    """One confident best hit, well ahead of the rest."""
    return [
        make_hit("best", 0.90, dense=0.95),
        make_hit("second", 0.50, dense=0.80),
        make_hit("third", 0.40, dense=0.79),
    ]


def _weak_hits() -> list[Hit]:
    """Hits below the calibrated bounds."""
    return [make_hit("a", 0.9, dense=0.50, fuzzy=0.30), make_hit("b", 0.2, dense=0.50, fuzzy=0.30)]


def _close_hits() -> list[Hit]:
    return [
        make_hit("a", 0.800, title="甲事项", dense=0.95),
        make_hit("b", 0.795, title="乙事项", dense=0.95),
        make_hit("c", 0.790, title="丙事项", dense=0.95),
        make_hit("d", 0.300, title="丁事项", dense=0.7),
    ]


def _unsure_hits() -> list[Hit]:
    """A clear first hit by fused score whose confidence is only good enough to ask back."""
    return [make_hit("a", 0.9, title="甲事项", dense=0.85), make_hit("b", 0.5, title="乙事项", dense=0.84)]


def _strong_hits(title: str | None = None) -> list[Hit]:
    """A best hit that the embedding, BM25 and the name matcher all put far ahead."""
    return [
        make_hit("best", 0.95, title=title, dense=0.95, fuzzy=0.4, lexical=0.3),
        make_hit("second", 0.55, dense=0.86),
    ]


ONE_DOC = {"a": "doc1.md", "b": "doc1.md", "c": "doc1.md"}
TWO_DOCS = {"a": "doc1.md", "b": "doc2.md", "c": "doc1.md"}


def _faq_hits(fuzzy: float, kind: str = "faq") -> list[Hit]:
    return [make_hit("faq-12345-1", 0.9, dense=0.9, fuzzy=fuzzy, kind=kind), *_clear_hits()[1:]]


def _ticket_no(text: str) -> list[Entity]:
    start = text.index(TICKET_NO)
    return [Entity("ticket_no", TICKET_NO, start, start + len(TICKET_NO), "regex", TICKET_NO)]


def _mention(name: str) -> list[Entity]:
    return [Entity("service_item", "best", 0, len(name), "rapidfuzz", name)]


@dataclass
class Case:
    """A message, what the session remembers and what retrieval found; the decision expected."""

    message: ParsedMessage
    expected: tuple[str, str, str | None]  # action, reason (the rule), item_id
    hits: list[Hit] = field(default_factory=_clear_hits)
    state: SessionState = field(default_factory=SessionState)
    children: dict[str, list[Hit]] | None = None
    intent: str | None = None  # the intent the rules read, when it is not NLU's
    calibration: Calibration = field(default_factory=lambda: CALIBRATION)
    documents: dict[str, str] | None = None  # chunk hit -> its policy document


ANSWERED = SessionState(last_item_id="id-card-lost", last_action="answer")
CLARIFYING = SessionState(last_action="clarify", options=ABC)
IN_FORM = SessionState(form=TicketForm(step="location", description="楼下烧烤店油烟扰民很久了"))
RATING = SessionState(rating_for=f"{TICKET_NO}:5678")
WAITING_LAST4 = SessionState(pending_ticket_no=TICKET_NO)
OFFERED = SessionState(last_action="fallback", offer_ticket=True)
LIVE = SessionState(handoff_id=7, handoff_token="t" * 32)  # a person is on the line
STATUS_TEXT = f"工单{TICKET_NO}进度怎么样"

CASES: dict[str, Case] = {
    # -- a conversation in progress: decided before (and without) retrieval
    "form-turn": Case(make_message("幸福小区东门"), ("ticket", "form_turn", None), state=IN_FORM),
    "form-turn-beats-handoff": Case(
        make_message("转人工", intent="handoff"), ("ticket", "form_turn", None), state=IN_FORM
    ),
    "form-turn-empty-text": Case(
        make_message("", intent="out_of_scope"), ("ticket", "form_turn", None), [], IN_FORM
    ),
    "rating": Case(make_message("5分"), ("ticket_status", "rating", None), state=RATING),
    "rating-needs-a-score": Case(make_message("居住证怎么办"), ("answer", "retrieval", "best"), state=RATING),
    "last4": Case(make_message("尾号5678"), ("ticket_status", "last4", None), state=WAITING_LAST4),
    "last4-not-with-a-new-number": Case(
        make_message(f"{TICKET_NO}呢", entities=_ticket_no(f"{TICKET_NO}呢")),
        ("answer", "retrieval", "best"),
        state=WAITING_LAST4,
    ),
    "form-request": Case(make_message("我要提交诉求"), ("ticket", "form_request", None)),
    # -- a live agent on the line: the bot relays, unless the citizen leaves for a ticket
    "live-relay": Case(
        make_message("居住证怎么办", intent="ask_service"), ("handoff", "live", None), state=LIVE
    ),
    "live-leave-for-ticket": Case(make_message("提交诉求"), ("ticket", "leave_handoff", None), state=LIVE),
    "offer-accepted": Case(make_message("好的"), ("ticket", "form_request", None), state=OFFERED),
    "yes-without-offer": Case(make_message("好的"), ("fallback", "low_confidence", None), _weak_hits()),
    # -- a new message
    "empty": Case(make_message("", intent="out_of_scope"), ("fallback", "empty", None), []),
    "clarify-choice-number": Case(
        make_message("2", intent="out_of_scope"), ("answer", "clarify_choice", "b"), [], CLARIFYING
    ),
    "clarify-choice-ordinal": Case(make_message("第三个"), ("answer", "clarify_choice", "c"), [], CLARIFYING),
    "clarify-choice-chosen": Case(make_message("选1"), ("answer", "clarify_choice", "a"), [], CLARIFYING),
    "clarify-choice-title": Case(make_message("乙事项"), ("answer", "clarify_choice", "b"), [], CLARIFYING),
    "choice-out-of-range": Case(
        make_message("5"),
        ("fallback", "low_confidence", None),
        _weak_hits(),
        SessionState(last_action="clarify", options=ABC[:1]),
    ),
    "number-without-pending-clarify": Case(
        make_message("2"), ("fallback", "low_confidence", None), _weak_hits(), ANSWERED
    ),
    "handoff": Case(make_message("转人工", intent="handoff"), ("handoff", "intent", None)),
    "smalltalk-greet": Case(make_message("你好", intent="greet"), ("smalltalk", "greet", None)),
    "smalltalk-thanks": Case(make_message("谢谢", intent="thanks"), ("smalltalk", "thanks", None)),
    "smalltalk-goodbye": Case(make_message("再见", intent="goodbye"), ("smalltalk", "goodbye", None)),
    "long-greeting-is-a-question": Case(
        make_message("你好，我想问一下补办身份证的流程是怎样的", intent="greet", fields=[]),
        ("answer", "retrieval", "best"),
    ),
    "ticket-status-intent": Case(
        make_message("我的工单到哪了", intent="ticket_status"), ("ticket_status", "intent", None)
    ),
    "ticket-number-and-status-words": Case(
        make_message(STATUS_TEXT, intent="complaint", entities=_ticket_no(STATUS_TEXT)),
        ("ticket_status", "intent", None),
        intent="ticket_status",
    ),
    "ticket-number-without-status-words": Case(
        make_message(f"工单{TICKET_NO}", intent="complaint", entities=_ticket_no(f"工单{TICKET_NO}")),
        ("ticket", "intent", None),
    ),
    "status-words-without-number": Case(
        make_message("办理进度怎么查", intent="ask_service", fields=[]), ("answer", "retrieval", "best")
    ),
    "complaint": Case(
        make_message("楼下烧烤店油烟扰民", intent="complaint", category="环境保护"),
        ("ticket", "intent", None),
    ),
    "complaint-worded-like-a-reviewed-faq": Case(
        make_message("老旧小区加装电梯政府有补贴吗", intent="complaint"),
        ("answer", "faq_match", "faq-12345-1"),
        _faq_hits(0.97),
    ),
    "complaint-merely-like-a-faq": Case(
        make_message("老旧小区加装电梯政府有补贴吗", intent="complaint"),
        ("ticket", "intent", None),
        _faq_hits(0.80),
    ),
    "complaint-like-a-guide": Case(
        make_message("老旧小区加装电梯政府有补贴吗", intent="complaint"),
        ("ticket", "intent", None),
        _faq_hits(0.97, kind="guide"),
    ),
    # -- a story told like a complaint that names one service strongly is a question about it
    "story-with-a-strong-match": Case(
        make_message("同一段时间两地都交了养老保险，多交的钱能退吗", intent="complaint", confidence=0.6),
        ("answer", "retrieval", "best"),
        _strong_hits(),
        intent="ask_service",
    ),
    "complaint-words-keep-the-ticket": Case(
        make_message("社保局窗口态度很差，我要投诉", intent="complaint", confidence=0.6),
        ("ticket", "intent", None),
        _strong_hits(),
    ),
    "complaint-words-and-the-complaint-channel": Case(
        make_message("税务窗口态度很差，我要投诉", intent="complaint", confidence=0.6),
        ("answer", "retrieval", "best"),
        _strong_hits(title="纳税服务投诉处理"),
        intent="ask_service",
    ),
    "complaint-matching-an-item-about-complaining": Case(
        make_message("楼下烧烤店天天吵到凌晨，有事打我电话", intent="complaint", confidence=0.6),
        ("ticket", "intent", None),
        _strong_hits(title="除了打电话，还能通过什么方式向12345投诉？"),
    ),
    "sure-complaint-with-a-strong-match": Case(
        make_message("老板拖欠三个月工资不发", intent="complaint", confidence=0.85),
        ("ticket", "intent", None),
        _strong_hits(),
    ),
    "complaint-with-a-match-by-meaning-only": Case(
        make_message("楼下工地半夜还在打桩", intent="complaint", confidence=0.6),
        ("ticket", "intent", None),
        [make_hit("best", 0.60, dense=0.95), make_hit("second", 0.30, dense=0.80)],
    ),
    "complaint-with-close-candidates": Case(
        make_message("小区电梯老是坏，物业也不修", intent="complaint", confidence=0.6),
        ("ticket", "intent", None),
        [make_hit("best", 0.90, dense=0.95, lexical=0.5), make_hit("second", 0.88, dense=0.94)],
    ),
    "followup": Case(
        make_message("需要什么材料", fields=["materials"]),
        ("answer", "followup", "id-card-lost"),
        state=ANSWERED,
    ),
    "followup-without-context": Case(
        make_message("要带什么", fields=["materials"]),
        ("clarify", "followup_without_context", None),
        [make_hit("x", 0.3, dense=0.50, fuzzy=0.30)],
    ),
    "field-question-naming-an-item": Case(
        make_message("护照要什么材料", entities=_mention("护照")),
        ("answer", "retrieval", "best"),
        state=ANSWERED,
    ),
    "field-question-naming-a-two-character-item": Case(
        make_message("驾照在哪里办", entities=_mention("驾照")),
        ("answer", "retrieval", "best"),
        state=ANSWERED,
    ),
    "field-question-naming-a-longer-item": Case(
        make_message("营业执照需要什么材料", entities=_mention("营业执照")),
        ("answer", "retrieval", "best"),
        state=ANSWERED,
    ),
    "low-confidence": Case(
        make_message("量子纠缠怎么申请"), ("fallback", "low_confidence", None), _weak_hits()
    ),
    "no-hits": Case(make_message("随便问问"), ("fallback", "low_confidence", None), []),
    "out-of-scope-and-nothing-found": Case(
        make_message("今天天气怎么样", intent="out_of_scope", confidence=0.5),
        ("fallback", "out_of_scope", None),
        _weak_hits(),
    ),
    "confident-out-of-scope": Case(
        make_message("今天天气怎么样", intent="out_of_scope", confidence=0.95),
        ("fallback", "out_of_scope", None),
    ),
    "unsure-out-of-scope-with-a-confident-hit": Case(
        make_message("今天天气怎么样", intent="out_of_scope", confidence=0.6), ("answer", "retrieval", "best")
    ),
    "parent-item": Case(
        make_message("身份证"),
        ("clarify", "parent_item", None),
        children={"best": [make_hit(f"v{i}", 0.9, title=f"变体{i}") for i in range(7)]},
    ),
    "parent-with-one-variant": Case(
        make_message("身份证"), ("answer", "retrieval", "best"), children={"best": [make_hit("v0", 0.9)]}
    ),
    "close-candidates": Case(make_message("办个证"), ("clarify", "close_candidates", None), _close_hits()),
    "close-candidates-with-one-title": Case(
        make_message("同名事项"),
        ("answer", "retrieval", "a"),
        [make_hit("a", 0.8, title="同名事项", dense=0.95), make_hit("b", 0.8, title="同名事项", dense=0.95)],
    ),
    "retrieval": Case(make_message("补办身份证", fields=[]), ("answer", "retrieval", "best")),
    # -- a fitted confidence model: answer, ask back, or say it is not known
    "confident-by-the-model": Case(
        make_message("补办身份证"), ("answer", "retrieval", "best"), calibration=FITTED
    ),
    "unsure": Case(make_message("办个证"), ("clarify", "unsure", None), _unsure_hits(), calibration=FITTED),
    "unsure-with-one-candidate": Case(
        make_message("办个证"), ("fallback", "low_confidence", None), _unsure_hits()[:1], calibration=FITTED
    ),
    "not-known-by-the-model": Case(
        make_message("量子纠缠怎么申请"),
        ("fallback", "low_confidence", None),
        _weak_hits(),
        calibration=FITTED,
    ),
    "one-document": Case(
        make_message("失业金领多久"),
        ("answer", "one_document", "a"),
        _close_hits(),
        calibration=FITTED,
        documents=ONE_DOC,
    ),
    "one-document-unsure": Case(
        make_message("失业金领多久"),
        ("clarify", "close_candidates", None),
        [make_hit(h.id, h.score, title=h.title, dense=0.85) for h in _close_hits()],
        calibration=FITTED,
        documents=ONE_DOC,
    ),
    "articles-of-two-documents": Case(
        make_message("失业金领多久"),
        ("clarify", "close_candidates", None),
        _close_hits(),
        calibration=FITTED,
        documents=TWO_DOCS,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_rule(case: Case) -> None:
    decision = decide(
        case.message, case.hits, case.state, case.calibration, CONFIG, case.children, case.documents
    )
    assert (decision.action, decision.reason, decision.item_id) == case.expected
    assert decision.intent == (case.intent or case.message.intent)


def test_every_reason_has_a_row() -> None:
    """The table covers every rule of bot/policy.py (each rule returns its own reason)."""
    source = inspect.getsource(policy)
    reasons = set(re.findall(r'Decision\(\s*"\w+",\s*"(\w+)"', source))
    reasons |= set(re.findall(r'else "(\w+)"\)', source))  # the conditional fallback reason
    assert len(reasons) >= 15  # the regexes still find the rules
    covered = {case.expected[1] for case in CASES.values()}
    assert reasons <= covered, sorted(reasons - covered)


# -- what the chosen dialogue receives --------------------------------------------------------


def test_rating_carries_the_score() -> None:
    decision = decide(make_message("4 星"), [], RATING, CALIBRATION, CONFIG)
    assert (decision.action, decision.score) == ("ticket_status", 4)


def test_last4_carries_the_ticket_and_the_digits() -> None:
    decision = decide(make_message("手机后四位是5678"), [], WAITING_LAST4, CALIBRATION, CONFIG)
    assert (decision.reason, decision.ticket_no, decision.last4) == ("last4", TICKET_NO, "5678")


@pytest.mark.parametrize(("text", "last4"), [("尾号5678", "5678"), ("5678", "5678"), ("138123", None)])
def test_last4_in(text: str, last4: str | None) -> None:
    assert last4_in(text) == last4


def test_answers_carry_the_fields_asked_about() -> None:
    followup = decide(
        make_message("需要什么材料", fields=["materials"]), _clear_hits(), ANSWERED, CALIBRATION, CONFIG
    )
    assert followup.fields == ["materials"]
    chosen = decide(make_message("2", fields=["place"]), [], CLARIFYING, CALIBRATION, CONFIG)
    assert chosen.fields == ["place"]


def test_close_candidates_are_the_options() -> None:
    decision = decide(make_message("办个证"), _close_hits(), SessionState(), CALIBRATION, CONFIG)
    assert [o.id for o in decision.options] == ["a", "b", "c"]


def test_parent_item_offers_at_most_max_options_variants() -> None:
    variants = [make_hit(f"v{i}", 0.9, title=f"变体{i}") for i in range(7)]
    decision = decide(
        make_message("身份证"), _clear_hits(), SessionState(), CALIBRATION, CONFIG, {"best": variants}
    )
    assert [o.id for o in decision.options] == [f"v{i}" for i in range(CONFIG.clarify_max_options)]


def test_followup_without_context_offers_nothing() -> None:
    decision = decide(make_message("要带什么", fields=["materials"]), [], SessionState(), CALIBRATION, CONFIG)
    assert decision.options == []


# -- facts, retrieval and calibration ---------------------------------------------------------


def test_read_intent_keeps_nlu_unless_a_ticket_number_is_asked_about() -> None:
    assert read_intent(make_message("你好", intent="greet")) == "greet"
    assert read_intent(make_message(STATUS_TEXT, intent="complaint", entities=_ticket_no(STATUS_TEXT))) == (
        "ticket_status"
    )
    assert read_intent(make_message(STATUS_TEXT, intent="complaint")) == "complaint"  # no number found


@pytest.mark.parametrize(
    ("text", "state", "needed"),
    [
        ("居住证怎么办", SessionState(), True),
        ("", SessionState(), False),
        ("幸福小区东门", IN_FORM, False),
        ("5分", RATING, False),
        ("尾号5678", WAITING_LAST4, False),
        ("我要提交诉求", SessionState(), False),
        ("好的", OFFERED, False),
        ("好的", SessionState(), True),
    ],
    ids=["question", "empty", "form", "rating", "last4", "form-request", "offer-accepted", "plain-yes"],
)
def test_needs_retrieval(text: str, state: SessionState, needed: bool) -> None:
    assert needs_retrieval(make_message(text), state) is needed


def test_decide_leaves_its_inputs_alone() -> None:
    """A pure function: the session state and the message come out as they went in."""
    state = OFFERED.model_copy(deep=True)
    message = make_message("好的")
    before = (state.model_dump(), repr(message))
    decide(message, _clear_hits(), state, CALIBRATION, CONFIG)
    assert (state.model_dump(), repr(message)) == before


def test_unsure_offers_the_leading_distinct_titles() -> None:
    hits = [make_hit("a", 0.9, title="甲", dense=0.85), make_hit("a2", 0.8, title="甲", dense=0.85)]
    hits += [make_hit(x, 0.5, title=x, dense=0.8) for x in "乙丙丁"]
    decision = decide(make_message("办个证"), hits, SessionState(), FITTED, CONFIG)
    assert [o.title for o in decision.options] == ["甲", "乙", "丙"][: CONFIG.unsure_options]


def test_fitted_levels() -> None:
    assert FITTED.level([make_hit("a", 0.1, dense=0.95)]) == "answer"
    assert FITTED.level([make_hit("a", 0.1, dense=0.85)]) == "clarify"
    assert FITTED.level([make_hit("a", 0.1, dense=0.50)]) == "abstain"
    assert FITTED.level([]) == "abstain"


def test_calibration_judges_raw_signals() -> None:
    assert CALIBRATION.confident(make_hit("a", 0.1, dense=0.85))
    assert CALIBRATION.confident(make_hit("a", 0.1, dense=0.1, fuzzy=0.95))
    assert not CALIBRATION.confident(make_hit("a", 0.99, dense=0.84, fuzzy=0.91))


# -- an answer needs some word of the question in the item -------------------------------------

WORDS = PolicyConfig(answer_min_lexical=0.05, answer_min_fuzzy=0.2)


def _meaning_only() -> list[Hit]:
    """Confident by the embedding, with no word of the question in any of the items."""
    return [
        make_hit("a", 0.9, title="甲事项", dense=0.95),
        make_hit("b", 0.6, title="乙事项", dense=0.90),
        make_hit("c", 0.5, title="丙事项", dense=0.89),
    ]


@pytest.mark.parametrize(
    ("hits", "expected"),
    [
        (_meaning_only(), ("clarify", "unsure")),
        (
            [make_hit("a", 0.9, title="甲事项", dense=0.95, lexical=0.3), *_meaning_only()[1:]],
            ("answer", "retrieval"),
        ),
        (
            [make_hit("a", 0.9, title="甲事项", dense=0.95, fuzzy=0.5), *_meaning_only()[1:]],
            ("answer", "retrieval"),
        ),
    ],
    ids=["meaning-only-asks-back", "shared-words-answer", "name-match-answers"],
)
def test_answers_need_word_support(hits: list[Hit], expected: tuple[str, str]) -> None:
    decision = decide(make_message("快递丢件了找谁赔", fields=[]), hits, SessionState(), CALIBRATION, WORDS)
    assert (decision.action, decision.reason) == expected
    # with the floors at 0 (the declared default) the same list is answered
    plain = decide(make_message("快递丢件了找谁赔", fields=[]), hits, SessionState(), CALIBRATION, CONFIG)
    assert plain.action == "answer"


# -- an answer needs the embedding to agree with the fused ranking ------------------------------

RIVALS = PolicyConfig(clarify_margin=0.04, dense_rival_window=3)


def _rivalled(runner_dense: float, runner_title: str = "代开增值税普通发票") -> list[Hit]:
    """Fusion leads clearly on shared words; the embedding scores the runner-up `runner_dense`."""
    return [
        make_hit("void", 0.90, title="代开发票作废", dense=0.916, lexical=0.25),
        make_hit("plain", 0.74, title=runner_title, dense=runner_dense, lexical=0.24),
        make_hit("other", 0.50, title="代开增值税专用发票", dense=0.900, lexical=0.15),
        make_hit("far", 0.30, title="发票查验", dense=0.950, lexical=0.05),
    ]


@pytest.mark.parametrize(
    ("hits", "config", "expected"),
    [
        (_rivalled(0.920), RIVALS, ("clarify", "dense_rival")),
        (_rivalled(0.916), RIVALS, ("clarify", "dense_rival")),  # a tie is no agreement either
        (_rivalled(0.910), RIVALS, ("answer", "retrieval")),
        (_rivalled(0.920), CONFIG, ("answer", "retrieval")),  # window 0 (the declared default): no check
        (_rivalled(0.920, runner_title="代开发票作废"), RIVALS, ("answer", "retrieval")),  # same title
        (
            [make_hit("void", 0.9, title="代开发票作废", dense=0.9, fuzzy=0.95), *_rivalled(0.92)[1:]],
            RIVALS,
            ("answer", "retrieval"),
        ),
    ],
    ids=[
        "meaning-prefers-runner-up",
        "tie",
        "embedding-agrees",
        "check-off",
        "same-title-no-choice",
        "title-typed",
    ],
)
def test_dense_rival_asks_back(hits: list[Hit], config: PolicyConfig, expected: tuple[str, str]) -> None:
    decision = decide(make_message("个人怎么代开发票", fields=[]), hits, SessionState(), CALIBRATION, config)
    assert (decision.action, decision.reason) == expected
    if decision.action == "clarify":
        # the first three candidates: the one fusion chose and the one the meaning prefers among them;
        # a candidate beyond the window (发票查验, dense 0.95) neither triggers nor joins the choice
        assert [o.id for o in decision.options] == ["void", "plain", "other"]


def test_dense_rival_within_one_document_answers() -> None:
    """Articles of one policy document are not a choice: the best is quoted, as for near ties."""
    hits = [
        make_hit("a", 0.90, title="第三条", dense=0.90, lexical=0.3, kind="chunk"),
        make_hit("b", 0.60, title="第五条", dense=0.91, lexical=0.2, kind="chunk"),
        make_hit("c", 0.50, title="第七条", dense=0.89, lexical=0.2, kind="chunk"),
    ]
    msg = make_message("补贴标准是多少", fields=[])
    same = decide(msg, hits, SessionState(), CALIBRATION, RIVALS, documents=ONE_DOC)
    assert (same.action, same.reason) == ("answer", "one_document")
    two = decide(msg, hits, SessionState(), CALIBRATION, RIVALS, documents=TWO_DOCS)
    assert (two.action, two.reason) == ("clarify", "dense_rival")


# -- a status question about a service applied for, not a hotline ticket ------------------------


@pytest.mark.parametrize(
    ("text", "hits", "state", "expected"),
    [
        (
            "低保申请了想查一下进度",
            _strong_hits("最低生活保障业务进度查询"),
            SessionState(),
            ("answer", "ask_service"),
        ),
        ("低保申请了想查一下进度", _weak_hits(), SessionState(), ("ticket_status", "ticket_status")),
        (
            "我反映的低保问题有进度了吗",
            _strong_hits("最低生活保障业务进度查询"),
            SessionState(),
            ("ticket_status", "ticket_status"),
        ),
        (
            "低保申请了想查一下进度",
            _strong_hits("最低生活保障业务进度查询"),
            SessionState(pending_ticket_no=TICKET_NO),
            ("ticket_status", "ticket_status"),
        ),
    ],
    ids=[
        "strong-service-match-answers",
        "weak-match-stays-status",
        "own-request-word-stays",
        "pending-ticket-stays",
    ],
)
def test_service_progress_question(
    text: str, hits: list[Hit], state: SessionState, expected: tuple[str, str]
) -> None:
    message = make_message(text, intent="ticket_status", confidence=0.7, fields=[])
    decision = decide(message, hits, state, CALIBRATION, CONFIG)
    assert (decision.action, decision.intent) == expected


def test_complaint_with_a_dense_rival_stays_a_ticket() -> None:
    """A strong match that the embedding contradicts is not unambiguous: the complaint is filed."""
    message = make_message("老板让我签自愿放弃社保的协议，不签就不发工资", intent="complaint", confidence=0.6)
    hits = [
        make_hit("best", 0.95, title="社会保险信息变更", dense=0.95, fuzzy=0.4, lexical=0.3),
        make_hit("rival", 0.55, title="社会保险费补缴", dense=0.96),
    ]
    assert decide(message, hits, SessionState(), CALIBRATION, RIVALS).action == "ticket"
    # without the rival check (window 0) the same list is read as a question about the best item
    assert decide(message, hits, SessionState(), CALIBRATION, CONFIG).action == "answer"


def test_rivals_within_one_document_keep_a_strong_match() -> None:
    """Articles of one policy document that the embedding ranks differently are one source, not a
    choice: the story told like a complaint is still a question about that document."""
    message = make_message(
        "孩子出生后父母双方都能休多少天假，单位不给批怎么办", intent="complaint", confidence=0.6
    )
    hits = [
        make_hit("a", 0.95, title="第三条", dense=0.95, fuzzy=0.4, lexical=0.3, kind="chunk"),
        make_hit("b", 0.55, title="第五条", dense=0.96, kind="chunk"),
    ]
    same = decide(message, hits, SessionState(), CALIBRATION, RIVALS, documents={"a": "d.md", "b": "d.md"})
    assert (same.action, same.intent) == ("answer", "ask_service")
    two = decide(message, hits, SessionState(), CALIBRATION, RIVALS, documents={"a": "d.md", "b": "e.md"})
    assert two.action == "ticket"
