"""Answer text and cards: only the fields the item holds, always with the citation."""

from __future__ import annotations

import pytest

from bot.answers import answer_item, citation, cited, guide_card
from bot.responses import Responses
from tests.utils.factories import make_chunk, make_faq, make_guide, rendered_variants


@pytest.fixture(scope="module")
def responses() -> Responses:
    return Responses.load()


def test_guide_summary_lists_held_fields_with_labels(responses: Responses) -> None:
    guide = make_guide(
        "g1",
        "测试事项",
        materials=["身份证", "申请表"],
        location="政务中心",
        fees="不收费",
        department="示例市测试局",
        source="测试库",
        sample=True,
    )
    text, card = answer_item(guide, [], responses)
    lines = text.splitlines()
    assert lines[0] == "【测试事项】"
    assert "申请材料：" in text and "  1. 身份证" in lines and "  2. 申请表" in lines
    assert "办理地点：政务中心" in lines
    assert "收费标准：不收费" in lines
    assert lines[-1] == citation(guide)
    assert lines[-1] == "来源：测试库 · 示例市测试局（示例内容）"
    assert "办理流程" not in text and "咨询电话" not in text  # not held, not shown
    assert card == {
        "id": "g1",
        "title": "测试事项",
        "source": "测试库",
        "materials": ["身份证", "申请表"],
        "location": "政务中心",
        "fees": "不收费",
        "department": "示例市测试局",
    }


def test_guide_answer_for_one_field(responses: Responses) -> None:
    guide = make_guide("g1", "测试事项", materials=["身份证"], location="政务中心")
    text, card = answer_item(guide, ["location"], responses)
    assert "办理地点：政务中心" in text
    assert "申请材料" not in text
    assert set(card) == {"id", "title", "source", "location"}


def test_missing_field_says_so_and_invents_nothing(responses: Responses) -> None:
    guide = make_guide("g1", "测试事项", materials=["身份证"], phone_enquiry="0755-00000000")
    text, card = answer_item(guide, ["fees"], responses)
    hint = responses.render("utter_field_missing_phone_hint", phone="0755-00000000")
    expected = rendered_variants(
        responses, "utter_field_missing", item="测试事项", field="收费标准", contact=hint
    )
    assert any(variant in text for variant in expected), text
    assert "收费标准：" not in text and "元" not in text
    assert "fees" not in card


def test_missing_field_without_contact_data(responses: Responses) -> None:
    guide = make_guide("g1", "测试事项")
    text, _ = answer_item(guide, ["location", "fees"], responses)
    expected = rendered_variants(
        responses, "utter_field_missing", item="测试事项", field="办理地点、收费标准", contact=""
    )
    assert any(variant in text for variant in expected), text
    assert "咨询电话" not in text and "http" not in text


def test_guide_with_nothing_but_a_name(responses: Responses) -> None:
    text, _ = answer_item(make_guide("g1", "空事项"), [], responses)
    expected = rendered_variants(
        responses, "utter_field_missing", item="空事项", field="办理信息", contact=""
    )
    assert any(variant in text for variant in expected)
    assert text.endswith("来源：知识库")
    assert "g1" not in text  # internal ids are not for citizens


def test_long_lists_and_texts_are_shortened(responses: Responses) -> None:
    guide = make_guide("g1", "长事项", materials=[f"材料{i}" for i in range(12)], conditions="条" * 500)
    text, card = answer_item(guide, ["materials", "conditions"], responses)
    assert "  8. 材料7" in text and "材料8" not in text
    assert "…共12项" in text
    assert "条" * 220 + "…" in text and "条" * 221 not in text
    assert len(card["materials"]) == 12  # the card keeps the full data


def test_faq_answer(responses: Responses) -> None:
    faq = make_faq("f1", "社保卡丢了怎么办？", "先挂失，再补卡。", source="测试库")
    text, card = answer_item(faq, ["materials"], responses)
    assert text.splitlines() == ["【社保卡丢了怎么办？】", "先挂失，再补卡。", "来源：测试库"]
    assert card == {"id": "f1", "title": "社保卡丢了怎么办？", "answer": "先挂失，再补卡。"}


def test_policy_chunk_answer(responses: Responses) -> None:
    chunk = make_chunk("doc-x-0002", "测试政策文件", 2, text="正" * 300)
    text, card = answer_item(chunk, [], responses)
    assert text.startswith("【测试政策文件（第2段）】")
    assert "…" in text and card["text"] == "正" * 300
    assert text.endswith("来源：知识库") and "doc-x" not in text


def test_citation_without_source() -> None:
    assert citation(make_faq("f1")) == "来源：知识库"


def test_guide_body_leads_the_summary_and_the_card(responses: Responses) -> None:
    """A catalog of name + free-text summary answers with the summary."""
    guide = make_guide("g1", "摘要事项", body="为本市户籍居民办理某项证明，材料齐全当场办结。")
    text, card = answer_item(guide, [], responses)
    assert text.splitlines()[1] == "事项说明：为本市户籍居民办理某项证明，材料齐全当场办结。"
    assert card["body"] == guide.body
    _, only_fees = answer_item(guide, ["fees"], responses)
    assert "事项说明" not in only_fees  # a question about one field gets that field


def test_faq_body_follows_the_answer(responses: Responses) -> None:
    faq = make_faq("f1", "社保卡丢了怎么办？", "先挂失，再补卡。", body="挂失后原卡停用。" * 40)
    text, card = answer_item(faq, [], responses)
    lines = text.splitlines()
    assert lines[1] == "先挂失，再补卡。"
    assert lines[2].startswith("事项说明：挂失后原卡停用。") and lines[2].endswith("…")
    assert card["body"] == faq.body  # the card keeps the whole text


def test_cited_names_the_item_with_its_link_and_no_id() -> None:
    guide = make_guide(
        "hk-macau-endorse-individual",
        "往来港澳通行证个人旅游签注",
        source="测试库",
        department="示例市公安局",
        online_url="https://example.gov.cn/hk",
        sample=True,
    )
    shown = cited(guide)
    assert shown.model_dump() == {
        "title": "往来港澳通行证个人旅游签注",
        "source": "测试库",
        "department": "示例市公安局",
        "url": "https://example.gov.cn/hk",
        "sample": True,
    }
    assert cited(make_faq("f1", source="")).source is None


def test_guide_card_only_holds_present_fields() -> None:
    card = guide_card(make_guide("g1", "事项", fees="20元"), ["fees", "location"])
    assert card == {"id": "g1", "title": "事项", "source": "", "fees": "20元"}
