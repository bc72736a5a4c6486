"""The eval TSV format and the retrieval, action and latency measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation import (
    EvalRow,
    action_correct,
    percentiles,
    rank_of,
    read_eval_tsv,
    retrieval_scores,
)
from tests.utils.factories import write


def test_read_eval_tsv_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dev.tsv",
        "# header comment\n\n"
        "kb\t驾照怎么换\t机动车驾驶证换证 | 驾驶证期满换证\n"
        "  \n"
        "ticket\t噪音扰民\t环境保护\n",
    )
    rows = read_eval_tsv(path)
    assert rows == [
        EvalRow("kb", "驾照怎么换", ("机动车驾驶证换证", "驾驶证期满换证"), 3),
        EvalRow("ticket", "噪音扰民", ("环境保护",), 5),
    ]


@pytest.mark.parametrize("line", ["kb\t只有两列", "kb\ta\tb\tc", "没有制表符"])
def test_read_eval_tsv_rejects_bad_column_count(tmp_path: Path, line: str) -> None:
    path = write(tmp_path / "bad.tsv", f"# ok\nkb\t问题\t答案\n{line}\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:3: expected 3 tab-separated columns"):
        read_eval_tsv(path)


def test_read_eval_tsv_on_shared_dev_set() -> None:
    from tests.utils.shared import shared_path

    rows = read_eval_tsv(shared_path("eval", "dev_gd_questions.tsv"))
    assert rows and {r.kind for r in rows} <= {"kb", "ticket", "smalltalk", "human"}
    assert all(r.question and r.expected for r in rows)


def test_rank_of() -> None:
    titles = ["甲", "乙", "丙"]
    assert rank_of(titles, ["乙"]) == 2
    assert rank_of(titles, ["丙", "甲"]) == 1
    assert rank_of(titles, ["丁"]) is None
    assert rank_of([], ["甲"]) is None


def test_retrieval_scores() -> None:
    scores = retrieval_scores([1, 2, None, 6])
    assert scores.n == 4
    assert scores.hit1 == pytest.approx(0.25)
    assert scores.hit5 == pytest.approx(0.5)
    assert scores.mrr == pytest.approx((1 + 1 / 2 + 1 / 6) / 4)
    empty = retrieval_scores([])
    assert (empty.n, empty.hit1, empty.hit5, empty.mrr) == (0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("kind", "expected", "action", "intent", "ok"),
    [
        ("ticket", ("环境保护",), "ticket", "complaint", True),
        ("ticket", ("环境保护",), "answer", "ask_service", False),
        ("human", ("handoff",), "handoff", "handoff", True),
        ("human", ("handoff",), "fallback", "handoff", False),
        ("smalltalk", ("greet",), "smalltalk", "greet", True),
        ("smalltalk", ("greet",), "smalltalk", "thanks", False),
        ("smalltalk", ("greet",), "answer", "greet", False),
        ("kb", ("x",), "answer", "ask_service", False),  # kb rows are scored by rank, not action
    ],
)
def test_action_correct(kind: str, expected: tuple[str, ...], action: str, intent: str, ok: bool) -> None:
    assert action_correct(EvalRow(kind, "q", expected, 1), action, intent) is ok


def test_percentiles() -> None:
    p50, p95 = percentiles([float(v) for v in range(1, 101)])
    assert p50 == pytest.approx(50.5)
    assert p95 == pytest.approx(95.05)
    assert percentiles([]) == (0.0, 0.0)
