"""split_document: chunk sizes, overlap between neighbours, headings carried along."""

from __future__ import annotations

import itertools
import random

import pytest

from knowledge.chunking import split_document

SIZE, OVERLAP = 200, 30


def _document(seed: int = 1) -> str:
    rng = random.Random(seed)
    alphabet = "政务服务事项办理材料条件地点时限收费咨询电话网上预约窗口"

    def sentence() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(10, 60))) + "。"

    paragraphs = ["".join(sentence() for _ in range(rng.randint(1, 12))) for _ in range(12)]
    return (
        "第一章 总则\n\n"
        + "\n\n".join(paragraphs[:6])
        + "\n\n第二章 申请条件\n\n"
        + "\n\n".join(paragraphs[6:])
    )


@pytest.fixture(scope="module")
def chunks() -> list:
    return split_document(_document(), size=SIZE, overlap=OVERLAP)


def test_chunk_sizes(chunks: list) -> None:
    """No chunk exceeds one size plus the carried overlap; none is a tiny fragment."""
    assert len(chunks) > 5
    assert all(20 <= len(c.text) <= SIZE + OVERLAP + 1 for c in chunks)


def test_neighbours_overlap(chunks: list) -> None:
    """A chunk starts with the tail of the previous one under the same heading."""
    pairs = [(a, b) for a, b in itertools.pairwise(chunks) if a.heading == b.heading]
    assert pairs
    for a, b in pairs:
        assert b.text.startswith(a.text[-OVERLAP:].strip())


def test_headings_are_carried(chunks: list) -> None:
    headings = [c.heading for c in chunks]
    assert headings[0] == "第一章 总则"
    assert headings[-1] == "第二章 申请条件"
    assert headings == sorted(headings, key=lambda h: h != "第一章 总则")  # no going back
    assert all("第二章" not in c.text for c in chunks)  # headings are not body text


def test_markdown_heading_and_hard_line_breaks() -> None:
    text = "## 办理流程\n\n网上预约后\n到窗口提交材料，\n当场受理。"
    (chunk,) = split_document(text, size=100, overlap=10)
    assert chunk.heading == "办理流程"
    assert chunk.text == "网上预约后到窗口提交材料，当场受理。"


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
