"""Assistant.handle end to end on the prepared sample knowledge base."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.assistant import Assistant
from bot.messages import BotReply, UserMessage
from bot.policy import Decision
from bot.resources import CATEGORIES_FILE
from bot.sessions import SessionState
from core.settings import load_settings
from jobs.operations import build_kb_index
from tests.utils.factories import make_guide, rendered_variants

ACTIONS = {"answer", "clarify", "ticket", "handoff", "smalltalk", "fallback", "ticket_status"}


class Chat:
    """One conversation: every message goes to the same fresh session."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.session = f"test-{uuid.uuid4().hex}"

    def say(self, text: str) -> BotReply:
        return self.assistant.handle(UserMessage(text=text, session_id=self.session))


@pytest.fixture
def chat(assistant: Assistant) -> Chat:
    return Chat(assistant)


def _item_title(assistant: Assistant, item_id: str | None) -> str:
    assert item_id is not None
    item = assistant.kb.get(item_id)
    assert item is not None, item_id
    return item.title


def test_materials_question_is_answered_with_citation(chat: Chat, assistant: Assistant) -> None:
    reply = chat.say("补办身份证需要什么材料")
    assert reply.action == "answer"
    assert "身份证" in _item_title(assistant, reply.item_id)
    assert len(reply.sources) >= assistant.settings.bot.min_sources >= 5
    assert reply.sources[0].id == reply.item_id
    assert "申请材料" in reply.reply
    assert reply.item_id not in reply.reply  # no internal id in what a citizen reads
    assert [c.title for c in reply.citations] == [_item_title(assistant, reply.item_id)]
    assert reply.card is not None and reply.card["materials"]
    assert reply.latency_ms > 0


def test_followup_in_same_session_refers_to_same_item(chat: Chat) -> None:
    first = chat.say("补办身份证需要什么材料")
    second = chat.say("在哪里办？")
    assert second.action == "answer"
    assert second.item_id == first.item_id
    assert "办理地点" in second.reply
    assert "申请材料" not in second.reply
    assert second.sources[0].id == first.item_id


@pytest.mark.parametrize("followup", ["需要什么材料", "需要什么材料？", "要带什么", "多少钱"])
def test_bare_field_followups_stay_on_the_item(chat: Chat, followup: str) -> None:
    """A field question after an answer is about the same item, with or without punctuation."""
    first = chat.say("补办身份证")
    assert first.action == "answer"
    second = chat.say(followup)
    assert (second.action, second.item_id) == ("answer", first.item_id)


@pytest.mark.parametrize(
    ("question", "word"),
    [("护照要什么材料", "护照"), ("驾照在哪里办", "驾"), ("办营业执照需要什么材料", "营业执照")],
    ids=["passport", "driving-licence", "business-licence"],
)
def test_field_question_naming_another_item_is_a_new_question(
    chat: Chat, assistant: Assistant, question: str, word: str
) -> None:
    """After an answer about the ID card, 护照要什么材料 is about passports, not the ID card."""
    first = chat.say("补办身份证")
    assert first.action == "answer"
    second = chat.say(question)
    assert second.item_id != first.item_id
    if second.action == "answer":
        assert word in _item_title(assistant, second.item_id)
    else:  # several variants (设立/变更/注销...) to choose from, none of them the ID card
        assert second.action == "clarify"
        assert second.options and first.item_id not in {o.id for o in second.options}


def test_followup_context_is_per_session(assistant: Assistant) -> None:
    first = Chat(assistant).say("补办身份证需要什么材料")
    other = Chat(assistant).say("在哪里办？")
    assert other.item_id != first.item_id
    assert other.action != "answer"


def test_clarify_then_choose_by_number(chat: Chat) -> None:
    question = chat.say("居民身份证")
    assert question.action == "clarify"
    assert len(question.options) >= 2
    assert len(question.sources) >= 5
    for number, option in enumerate(question.options, start=1):
        assert f"{number}. {option.title}" in question.reply
    answer = chat.say("2")
    assert (answer.action, answer.item_id) == ("answer", question.options[1].id)
    assert answer.sources[0].id == question.options[1].id


def test_clarify_then_choose_by_title(chat: Chat) -> None:
    question = chat.say("居民身份证")
    assert question.action == "clarify"
    chosen = question.options[-1]
    answer = chat.say(chosen.title)
    assert (answer.action, answer.item_id) == ("answer", chosen.id)


def test_complaint_becomes_ticket_offer(chat: Chat) -> None:
    reply = chat.say("楼下烧烤店油烟噪音扰民晚上十二点还在吵")
    assert reply.action == "ticket"
    categories = {
        c["name"] for c in yaml.safe_load(CATEGORIES_FILE.read_text(encoding="utf-8"))["categories"]
    }
    assert reply.category is not None and reply.category in categories
    assert reply.category in reply.reply
    assert "12345" in reply.reply


def test_handoff(chat: Chat) -> None:
    reply = chat.say("转人工")
    assert (reply.action, reply.intent) == ("handoff", "handoff")


def test_greeting(chat: Chat, assistant: Assistant) -> None:
    reply = chat.say("你好")
    assert (reply.action, reply.intent) == ("smalltalk", "greet")
    assert reply.reply in assistant.responses.templates["utter_greet"]


def test_ticket_status_with_number(chat: Chat, assistant: Assistant) -> None:
    reply = chat.say("我的工单20261120000012处理到哪一步了")
    assert (reply.action, reply.intent) == ("ticket_status", "ticket_status")
    tickets = [e for e in reply.entities if e["entity"] == "ticket_no"]
    assert [t["value"] for t in tickets] == ["20261120000012"]
    # Without the phone's last four digits nothing is revealed: the assistant asks for them.
    expected = rendered_variants(
        assistant.responses, "utter_ticket_status_ask_last4", ticket_no="20261120000012"
    )
    assert reply.reply in expected


BAD_INPUTS = {
    "empty": "",
    "spaces": "   ",
    "long": ("我想问一下补办身份证需要什么材料，" * 1200)[:20_000],
    "control": "\x00\x01\x02补办\x07身份证\x1b[31m",
    "emoji": "😀🎉👍🏻",
    "english": "How do I renew my passport?",
    "digits": "1" * 5000,
    "newlines": "\n\n\t\n",
    "brackets": "{item}{0}{}%s\\",
}


def _check_reply(reply: BotReply) -> None:
    assert reply.action in ACTIONS
    assert reply.reply.strip()
    BotReply.model_validate(reply.model_dump(mode="json"))  # the JSON shape holds


@pytest.mark.parametrize("name", [n for n in BAD_INPUTS if n not in ("long", "digits")])
def test_bad_input_never_crashes(chat: Chat, name: str) -> None:
    """Long inputs are checked below (embedding them is slow, so once each)."""
    _check_reply(chat.say(BAD_INPUTS[name]))


@pytest.mark.parametrize("name", ["empty", "spaces", "emoji", "newlines"])
def test_nothing_to_read_asks_for_input(chat: Chat, assistant: Assistant, name: str) -> None:
    reply = chat.say(BAD_INPUTS[name])
    assert reply.action == "fallback"
    assert reply.reply in assistant.responses.templates["utter_empty_input"]
    assert reply.sources == []


@pytest.mark.parametrize("name", ["long", "digits"])
def test_long_input_is_truncated_with_notice(chat: Chat, assistant: Assistant, name: str) -> None:
    reply = chat.say(BAD_INPUTS[name])
    _check_reply(reply)
    limit = assistant.pipeline.describe()[0]["max_chars"]
    assert len(reply.notices) == 1
    assert str(limit) in reply.notices[0]
    assert reply.reply.startswith(reply.notices[0])


def test_short_input_has_no_truncation_notice(chat: Chat) -> None:
    assert chat.say("补办身份证").notices == []


def test_answer_never_states_a_field_the_item_lacks(copy_prepared: Callable[[], Path]) -> None:
    """A guide without fees: asked its fees, the reply says the KB does not hold them."""
    settings = load_settings(data_dir=copy_prepared())
    bot = Assistant(settings)
    try:
        guide = make_guide(
            "test-tree-adoption",
            "示例市古树名木认养登记",
            aliases=["古树认养"],
            department="示例市林业局",
            location="示例市林业局一楼窗口",
            phone_enquiry="0755-00009999",
            materials=["认养申请表"],
        )
        assert bot.kb.upsert_many([guide]) == (1, 0)
        report = build_kb_index(settings, bot.resources)
        assert (report.embedded, report.reused) == (1, report.total - 1)

        reply = bot.handle(UserMessage(text="示例市古树名木认养登记要多少钱", session_id="fees"))
        assert (reply.action, reply.item_id) == ("answer", "test-tree-adoption")
        hint = bot.responses.render("utter_field_missing_phone_hint", phone="0755-00009999")
        expected = rendered_variants(
            bot.responses, "utter_field_missing", item=guide.name, field="收费标准", contact=hint
        )
        assert any(variant in reply.reply for variant in expected), reply.reply
        assert "收费标准：" not in reply.reply
        assert "元" not in reply.reply
        assert reply.card is not None and "fees" not in reply.card

        where = bot.handle(UserMessage(text="在哪里办", session_id="fees"))
        assert (where.action, where.item_id) == ("answer", "test-tree-adoption")
        assert "办理地点：示例市林业局一楼窗口" in where.reply
    finally:
        bot.close()


def test_item_missing_from_kb_is_not_invented(assistant: Assistant) -> None:
    """If the index names an item the KB no longer holds, the reply falls back."""
    parsed = assistant.parse("补办身份证")
    reply = assistant._reply(
        parsed,
        Decision("answer", "retrieval", "deleted-item"),
        [],
        SessionState(),
        UserMessage(text="补办身份证", channel="web"),
    )
    assert reply.action == "fallback"
    assert reply.reply in assistant.responses.templates["utter_no_answer"]


def test_reply_json_shape(chat: Chat) -> None:
    data = chat.say("公积金怎么提取").model_dump(mode="json")
    for key in ("action", "intent", "reply", "sources", "options", "category", "entities", "latency_ms"):
        assert key in data
    assert all(set(s) == {"id", "title", "score"} for s in data["sources"])
