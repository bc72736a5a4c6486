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


ARTICLE_TEXT = (
    "第四条 符合下列条件之一的，可以申请公共租赁住房：\n"
    + "\n".join(
        f"（{n}）{'申请人具有本市城镇户籍，家庭人均住房使用面积15平方米(含)以下' * 3}；" for n in "一二三四"
    )
    + "\n（五）在京连续稳定工作一定年限，家庭收入符合规定标准，"
    + "能够提供同期暂住证明、缴纳住房公积金证明或社会保险证明。"
)


def test_policy_chunk_answer_quotes_the_article_in_full(responses: Responses) -> None:
    """The issue: answers cut at ~250 characters, before the needed clause."""
    assert len(ARTICLE_TEXT) > 400
    chunk = make_chunk(
        "doc-x-0002",
        "北京市公共租赁住房管理办法",
        2,
        text=ARTICLE_TEXT,
        article="第四条",
        heading="第二章 申请条件",
        source="gongzufang.html",
    )
    text, card = answer_item(chunk, [], responses)
    lines = text.splitlines()
    assert lines[0] == "《北京市公共租赁住房管理办法》第四条（第二章 申请条件）："
    assert ARTICLE_TEXT in text and "…" not in text
    assert "社会保险证明。" in text  # the last clause, where a window would have stopped
    assert (
        lines[-2]
        == "以上为《北京市公共租赁住房管理办法》第四条原文；其他条款请查阅该文件全文（gongzufang.html）。"
    )
    assert lines[-1].startswith("来源：gongzufang.html") and "doc-x" not in lines[-1]  # no internal id
    assert card == {
        "id": "doc-x-0002",
        "title": "《北京市公共租赁住房管理办法》第四条",
        "document": "北京市公共租赁住房管理办法",
        "article": "第四条",
        "heading": "第二章 申请条件",
        "source": "gongzufang.html",
        "text": ARTICLE_TEXT,
    }


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({"article": "第十二条", "heading": "第三章 待遇"}, "《工伤保险条例》第十二条"),
        ({"article": "第六十九条、第七十条"}, "《工伤保险条例》第六十九条、第七十条"),
        (
            {"heading": "一、职工基本医疗保险", "text": "（三）灵活就业人员可以参保。"},
            "《工伤保险条例》一、职工基本医疗保险（三）",
        ),
        ({"heading": "办理条件"}, "《工伤保险条例》办理条件"),
        (
            {"text": "各县、区人民政府，市政府各部门、各直属机构：现就有关事项通知如下。"},
            "《工伤保险条例》“各县、区人民政府，市政府各部门、…”",
        ),
    ],
)
def test_policy_chunk_labels_are_meaningful(fields: dict, label: str) -> None:
    """Clarify options and sources use item titles: never "（第8段）"."""
    chunk = make_chunk("doc-y-0008", "工伤保险条例", 8, **fields)
    assert chunk.title == label
    assert "段）" not in chunk.title


def test_nested_book_title_marks_become_angle_brackets(responses: Responses) -> None:
    chunk = make_chunk("doc-z-0001", "关于印发《北京市公共租赁住房管理办法》的通知", 1, article="第一条")
    assert chunk.title == "《关于印发〈北京市公共租赁住房管理办法〉的通知》第一条"
    text, _ = answer_item(chunk, [], responses)
    assert "以上为《关于印发〈北京市公共租赁住房管理办法〉的通知》第一条原文" in text


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


def test_close_articles_of_the_same_document_are_quoted_after_the_best(responses: Responses) -> None:
    """Instead of a clarify between 第七条 and 第九条, which a citizen cannot judge."""
    best = make_chunk(
        "doc-h-0007", "户口登记条例", 7, article="第七条", text="第七条 婴儿出生后一个月以内申报出生登记。"
    )
    others = [
        make_chunk(f"doc-h-{n:04d}", "户口登记条例", n, article=f"第{c}条", text=f"第{c}条 规定{c}。")
        for n, c in ((9, "九"), (10, "十"), (11, "十一"))
    ]
    text, card = answer_item(best, [], responses, related=others)
    lines = text.splitlines()
    assert lines[:5] == [
        "《户口登记条例》第七条：",
        "第七条 婴儿出生后一个月以内申报出生登记。",
        "同一文件的相关规定，第九条：",
        "第九条 规定九。",
        "同一文件的相关规定，第十条：",
    ]
    assert "第十一条" not in text  # at most MAX_RELATED
    assert card["id"] == "doc-h-0007" and card["article"] == "第七条"
