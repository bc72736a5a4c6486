"""policy.decide with hand-made messages, hits and session state."""

from __future__ import annotations

import pytest

from bot.messages import Option
from bot.policy import Calibration, PolicyConfig, decide
from bot.sessions import SessionState
from index.retriever import Hit
from nlu.message import Entity
from tests.utils.factories import make_hit, make_message

CALIBRATION = Calibration(dense_min=0.85, fuzzy_min=0.92)
CONFIG = PolicyConfig(clarify_margin=0.04, clarify_max_options=5, smalltalk_max_chars=12)


def _clear_hits() -> list[Hit]:
    """One confident best hit, well ahead of the rest."""
    return [
        make_hit("best", 0.90, dense=0.95),
        make_hit("second", 0.50, dense=0.80),
        make_hit("third", 0.40, dense=0.79),
    ]


def _decide(message, hits=None, state=None, children=None):  # type: ignore[no-untyped-def]
    return decide(message, hits or [], state or SessionState(), CALIBRATION, CONFIG, children)


def test_calibration_judges_raw_signals() -> None:
    assert CALIBRATION.confident(make_hit("a", 0.1, dense=0.85))
    assert CALIBRATION.confident(make_hit("a", 0.1, dense=0.1, fuzzy=0.95))
    assert not CALIBRATION.confident(make_hit("a", 0.99, dense=0.84, fuzzy=0.91))


def test_empty_text_falls_back() -> None:
    decision = _decide(make_message("", intent="out_of_scope"))
    assert (decision.action, decision.reason) == ("fallback", "empty")


def test_handoff() -> None:
    assert _decide(make_message("转人工", intent="handoff"), _clear_hits()).action == "handoff"


@pytest.mark.parametrize("intent", ["greet", "thanks", "goodbye"])
def test_short_smalltalk(intent: str) -> None:
    decision = _decide(make_message("你好", intent=intent), _clear_hits())
    assert (decision.action, decision.reason) == ("smalltalk", intent)


def test_long_greeting_is_not_smalltalk() -> None:
    """A greeting followed by a real question is answered, not greeted."""
    text = "你好，我想问一下补办身份证需要带什么材料"
    decision = _decide(make_message(text, intent="greet"), _clear_hits())
    assert decision.action != "smalltalk"


def test_complaint_becomes_ticket() -> None:
    message = make_message("楼下烧烤店油烟扰民", intent="complaint", category="环境保护")
    assert _decide(message, _clear_hits()).action == "ticket"


def test_complaint_worded_like_a_reviewed_faq_gets_its_answer() -> None:
    message = make_message("老旧小区加装电梯政府有补贴吗", intent="complaint", category="城乡建设")
    faq = [make_hit("faq-12345-1", 0.9, dense=0.9, fuzzy=0.97, kind="faq"), *_clear_hits()[1:]]
    decision = _decide(message, faq)
    assert (decision.action, decision.reason, decision.item_id) == ("answer", "faq_match", "faq-12345-1")
    near = [make_hit("faq-12345-1", 0.9, dense=0.9, fuzzy=0.80, kind="faq"), *_clear_hits()[1:]]
    assert _decide(message, near).action == "ticket"  # merely similar: still a ticket
    guide = [make_hit("guide-1", 0.9, dense=0.9, fuzzy=0.97), *_clear_hits()[1:]]
    assert _decide(message, guide).action == "ticket"  # guides do not answer complaints


def test_ticket_status() -> None:
    message = make_message("工单20261120000012到哪了", intent="ticket_status")
    assert _decide(message, _clear_hits()).action == "ticket_status"


def test_followup_answers_the_last_item() -> None:
    state = SessionState(last_item_id="id-card-lost", last_action="answer")
    message = make_message("需要什么材料", fields=["materials"])
    decision = _decide(message, _clear_hits(), state)
    assert (decision.action, decision.item_id) == ("answer", "id-card-lost")
    assert decision.fields == ["materials"]


@pytest.mark.parametrize(
    ("text", "name"),
    [("护照要什么材料", "护照"), ("驾照在哪里办", "驾照"), ("营业执照需要什么材料", "营业执照")],
    ids=["passport", "driving-licence", "business-licence"],
)
def test_followup_naming_another_item_is_a_new_question(text: str, name: str) -> None:
    """A field question that names an item (even a two-character one) is about that item."""
    state = SessionState(last_item_id="id-card-lost", last_action="answer")
    mention = Entity("service_item", "best", 0, len(name), "rapidfuzz", name)
    message = make_message(text, entities=[mention])
    assert message.fields
    decision = _decide(message, _clear_hits(), state)
    assert (decision.action, decision.item_id) == ("answer", "best")


def test_field_question_without_context_asks_which_item() -> None:
    decision = _decide(
        make_message("要带什么", fields=["materials"]), [make_hit("x", 0.3, dense=0.50, fuzzy=0.30)]
    )
    assert decision.action == "clarify"
    assert decision.options == []


@pytest.mark.parametrize(("reply", "chosen"), [("2", "b"), ("第三个", "c"), ("选1", "a"), ("乙事项", "b")])
def test_clarify_choice(reply: str, chosen: str) -> None:
    options = [Option(id="a", title="甲事项"), Option(id="b", title="乙事项"), Option(id="c", title="丙事项")]
    state = SessionState(last_action="clarify", options=options)
    decision = _decide(make_message(reply, intent="out_of_scope"), [], state)
    assert (decision.action, decision.item_id, decision.reason) == ("answer", chosen, "clarify_choice")


def test_choice_out_of_range_is_not_a_choice() -> None:
    state = SessionState(last_action="clarify", options=[Option(id="a", title="甲事项")])
    decision = _decide(
        make_message("5", intent="ask_service"), [make_hit("x", 0.2, dense=0.50, fuzzy=0.30)], state
    )
    assert decision.action == "fallback"


def test_numbers_mean_nothing_without_a_pending_clarify() -> None:
    state = SessionState(last_action="answer", options=[])
    decision = _decide(make_message("2"), [make_hit("x", 0.2, dense=0.50, fuzzy=0.30)], state)
    assert decision.action == "fallback"


def test_low_confidence_falls_back() -> None:
    hits = [make_hit("a", 0.9, dense=0.50, fuzzy=0.30), make_hit("b", 0.2, dense=0.50, fuzzy=0.30)]
    decision = _decide(make_message("量子纠缠怎么申请"), hits)
    assert (decision.action, decision.reason) == ("fallback", "low_confidence")


def test_no_hits_falls_back() -> None:
    assert _decide(make_message("随便问问"), []).action == "fallback"


def test_confident_out_of_scope_falls_back() -> None:
    decision = _decide(make_message("今天天气怎么样", intent="out_of_scope", confidence=0.95), _clear_hits())
    assert (decision.action, decision.reason) == ("fallback", "out_of_scope")


def test_confident_best_hit_is_answered() -> None:
    decision = _decide(make_message("补办身份证", fields=[]), _clear_hits())
    assert (decision.action, decision.item_id, decision.reason) == ("answer", "best", "retrieval")


def test_close_candidates_are_offered() -> None:
    hits = [
        make_hit("a", 0.800, title="甲事项", dense=0.95),
        make_hit("b", 0.795, title="乙事项", dense=0.95),
        make_hit("c", 0.790, title="丙事项", dense=0.95),
        make_hit("d", 0.300, title="丁事项", dense=0.7),
    ]
    decision = _decide(make_message("办个证"), hits)
    assert decision.action == "clarify"
    assert [o.id for o in decision.options] == ["a", "b", "c"]


def test_close_candidates_with_one_title_are_not_a_question() -> None:
    hits = [
        make_hit("a", 0.8, title="同名事项", dense=0.95),
        make_hit("b", 0.8, title="同名事项", dense=0.95),
    ]
    assert _decide(make_message("同名事项"), hits).action == "answer"


def test_parent_item_offers_its_variants() -> None:
    variants = [make_hit(f"v{i}", 0.9, title=f"变体{i}") for i in range(7)]
    decision = _decide(make_message("身份证"), _clear_hits(), children={"best": variants})
    assert decision.action == "clarify"
    assert [o.id for o in decision.options] == [f"v{i}" for i in range(CONFIG.clarify_max_options)]
