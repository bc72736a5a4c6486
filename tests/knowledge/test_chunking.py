"""split_document: articles and numbered conditions stay with their text, nothing is dropped."""

from __future__ import annotations

import random
import re

import pytest

from knowledge.chunking import is_furniture, paragraphs, split_document

SIZE = 200


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _all_text(chunks: list) -> str:
    return _squash("".join(c.text for c in chunks))


def _random_articles(seed: int = 1) -> tuple[str, list[str]]:
    """A regulation of two chapters; returns the text and every sentence in it."""
    rng = random.Random(seed)
    alphabet = "政务服务事项办理材料条件地点时限收费咨询电话网上预约窗口"
    sentences: list[str] = []
    lines = []
    for n, name in enumerate("一二三四五六七八九十", start=1):
        if n in (1, 6):
            lines.append(f"第{'一二'[n // 6]}章 {'总则' if n == 1 else '申请条件'}")
        body = []
        for _ in range(rng.randint(1, 6)):
            sentence = "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 40))) + "。"
            sentences.append(sentence)
            body.append(sentence)
        lines.append(f"第{name}条 " + "".join(body))
    return "\n\n".join(lines), sentences


def test_articles_are_chunks_and_no_sentence_is_lost() -> None:
    text, sentences = _random_articles()
    chunks = split_document(text, size=SIZE, overlap=30)
    everything = _all_text(chunks)
    assert all(_squash(s) in everything for s in sentences)
    assert all(c.article and c.text.startswith(c.article.split("、")[0]) for c in chunks)
    assert all(len(c.text) >= SIZE // 20 for c in chunks)
    assert {c.heading for c in chunks} == {"第一章 总则", "第二章 申请条件"}
    assert all("第一章" not in c.text and "第二章" not in c.text for c in chunks)  # headings aren't body


CONDITIONS = {
    "cn_paren": ["（一）具有本市户籍；", "（二）年满18周岁；", "（三）在京连续缴纳社会保险7年及以上；"],
    "cn": ["一、具有本市户籍；", "二、年满18周岁；", "三、在京连续缴纳社会保险7年及以上；"],
    "num": ["1. 具有本市户籍；", "2. 年满18周岁；", "3. 在京连续缴纳社会保险7年及以上；"],
    "num_paren": ["(1) 具有本市户籍；", "(2) 年满18周岁；", "(3) 在京连续缴纳社会保险7年及以上；"],
    "circled": ["①具有本市户籍；", "②年满18周岁；", "③在京连续缴纳社会保险7年及以上；"],
}


@pytest.mark.parametrize("shape", sorted(CONDITIONS))
def test_numbered_conditions_stay_with_their_article(shape: str) -> None:
    """Short condition lines (the issue's "（三）在京连续缴纳…；") are body text, never headings."""
    items = CONDITIONS[shape]
    text = "\n\n".join(
        [
            "第一条 为规范公共租赁住房的申请工作，制定本办法。",
            "第二条 申请人应当符合下列条件：",
            *items,
            "第三条 本办法自发布之日起施行。",
        ]
    )
    chunks = split_document(text, size=SIZE, overlap=20)
    second = next(c for c in chunks if c.article and "第二条" in c.article)
    assert all(_squash(item) in _squash(second.text) for item in items)
    assert second.text.startswith("第二条 申请人应当符合下列条件：")


@pytest.mark.parametrize("shape", sorted(CONDITIONS))
def test_lead_line_keeps_its_items_without_articles(shape: str) -> None:
    items = CONDITIONS[shape]
    text = "\n\n".join(
        ["## 申请条件", "申请人应当同时符合下列条件：", *items, "## 办理时限", "受理后15个工作日内办结。"]
    )
    chunks = split_document(text, size=SIZE, overlap=20, min_chars=5)
    by_heading = {c.heading: c for c in chunks}
    assert set(by_heading) == {"申请条件", "办理时限"}
    assert all(_squash(item) in _squash(by_heading["申请条件"].text) for item in items)
    # with a larger minimum the one-line section joins its neighbour and keeps its heading as text
    (merged,) = split_document(text, size=SIZE, overlap=20, min_chars=20)
    assert merged.heading == "申请条件" and merged.text.endswith("办理时限\n受理后15个工作日内办结。")


def test_sibling_items_start_their_own_chunk_when_long() -> None:
    first = "（一）下列人员应当参加职工医保：\n\n" + "\n\n".join(
        f"{n}.{'用人单位的在职职工' * 4}。" for n in range(1, 4)
    )
    second = "（二）下列人员可以灵活就业人员身份参加：\n\n" + "\n\n".join(
        f"{n}.{'未在用人单位就业的人员' * 4}。" for n in range(1, 4)
    )
    chunks = split_document(f"一、职工医疗保险\n\n{first}\n\n{second}", size=SIZE, overlap=20)
    assert [c.text[:3] for c in chunks] == ["（一）", "（二）"]
    assert all(c.heading == "一、职工医疗保险" for c in chunks)


def test_long_article_is_split_with_its_lead_repeated() -> None:
    lead = "第四条 符合下列条件之一的，可以申请公共租赁住房："
    items = [f"（{n}）{'家庭人均住房使用面积十五平方米以下' * 3}；" for n in "一二三四五六"]
    chunks = split_document("\n\n".join([lead, *items]), size=SIZE, overlap=20)
    assert len(chunks) > 1
    assert all(c.text.startswith(lead) and c.article == "第四条" for c in chunks)
    assert all(len(c.text) <= SIZE for c in chunks)
    everything = _all_text(chunks)
    assert all(_squash(item) in everything for item in items)


def test_short_fragment_is_merged_not_dropped() -> None:
    eighth = "第八条 申请人对审核结果有异议的，可以在公示期内向区住房保障部门申请复核。"
    text = f"{eighth}\n\n第九条 自发布之日起施行。"
    chunks = split_document(text, size=SIZE, overlap=20, min_chars=20)
    assert len(chunks) == 1
    assert "自发布之日起施行" in chunks[0].text
    assert chunks[0].article == "第八条、第九条"


def test_markdown_heading_and_hard_line_breaks() -> None:
    text = "## 办理流程\n\n网上预约后\n到窗口提交材料，\n当场受理。"
    (chunk,) = split_document(text, size=100, overlap=10)
    assert chunk.heading == "办理流程"
    assert chunk.text == "网上预约后到窗口提交材料，当场受理。"


def test_pdf_lines_rejoin_into_paragraphs_and_spaces_around_numbers_go() -> None:
    text = (
        "一、调整职工生育津贴的计算天数\n产假：顺产的，98 天；难产的，增加 30 天；生育多胞胎的，\n"
        "每多生育 1 个婴儿，增加 15 天。\n- 2 -\n二、提高门诊特定病种报销比例\n"
        "居民医保基金的支付比例从 55%提高到\n95%。"
    )
    assert paragraphs(text) == [
        "一、调整职工生育津贴的计算天数",
        "产假：顺产的，98天；难产的，增加30天；生育多胞胎的，每多生育1个婴儿，增加15天。",
        "二、提高门诊特定病种报销比例",
        "居民医保基金的支付比例从55%提高到95%。",
    ]
    chunks = split_document(text, size=SIZE, overlap=20, min_chars=10)
    assert [c.heading for c in chunks] == ["一、调整职工生育津贴的计算天数", "二、提高门诊特定病种报销比例"]


@pytest.mark.parametrize(
    "line",
    [
        "- 3 -",
        "— 12 —",
        "3",
        "第 3 页",
        "第3页 共10页",
        "3/10",
        "Page 2 of 9",
        "首页 > 工作动态 > 公告公示",
        "打印本页",
        "【关闭窗口】",
        "信息来源：深圳市公安局",
        "发布时间： 2015-09-23　 来源：",
        "==========",
        "】",
    ],
)
def test_page_furniture(line: str) -> None:
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    [
        "第三条 本办法自发布之日起施行。",
        "（三）在京连续缴纳社会保险7年及以上；",
        "1. 身份证",
        "来源地证明及户口簿原件",
    ],
)
def test_content_is_not_furniture(line: str) -> None:
    assert not is_furniture(line)


def test_run_on_text_without_stops_is_cut() -> None:
    text = "无标点" * 200
    pieces = split_document(text, size=100, overlap=0)
    assert "".join(c.text for c in pieces) == text
    assert all(len(c.text) <= 100 for c in pieces)


def test_short_document_is_one_chunk() -> None:
    assert [c.text for c in split_document("很短。", size=100, overlap=10)] == ["很短。"]


def test_empty_document() -> None:
    assert split_document("", size=100, overlap=10) == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (-5, 0), (100, 100), (100, 150), (100, -1)])
def test_bad_sizes(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        split_document("文本", size=size, overlap=overlap)
