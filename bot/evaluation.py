"""Reading the eval TSV format and computing hit@k, MRR, action/category accuracy, latency."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class EvalRow:
    kind: str  # kb | ticket | smalltalk | human
    question: str
    expected: tuple[str, ...]
    line: int


def read_eval_tsv(path: Path) -> list[EvalRow]:
    """`kind<TAB>question<TAB>expected` lines; `#` comments and blank lines skipped."""
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{line_no}: expected 3 tab-separated columns")
        kind, question, expected = (p.strip() for p in parts)
        rows.append(EvalRow(kind, question, tuple(e.strip() for e in expected.split("|")), line_no))
    return rows


def rank_of(titles: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first acceptable title, None when absent."""
    wanted = set(expected)
    for pos, title in enumerate(titles, start=1):
        if title in wanted:
            return pos
    return None


@dataclass
class RetrievalScores:
    n: int
    hit1: float
    hit5: float
    mrr: float


def retrieval_scores(ranks: Sequence[int | None]) -> RetrievalScores:
    n = len(ranks)
    if n == 0:
        return RetrievalScores(0, 0.0, 0.0, 0.0)
    return RetrievalScores(
        n=n,
        hit1=sum(1 for r in ranks if r == 1) / n,
        hit5=sum(1 for r in ranks if r is not None and r <= 5) / n,
        mrr=sum(1.0 / r for r in ranks if r is not None) / n,
    )


EXPECTED_ACTION = {"ticket": "ticket", "smalltalk": "smalltalk", "human": "handoff"}


def action_correct(row: EvalRow, action: str, intent: str) -> bool:
    if row.kind == "smalltalk":
        return action == "smalltalk" and intent in row.expected
    return action == EXPECTED_ACTION.get(row.kind)


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    arr = np.asarray(values)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))
