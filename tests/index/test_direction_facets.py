"""Direction and variant facets: a question that states a direction never gets the opposite first.

A small synthetic knowledge base whose variants are tied on every retriever (one vector for all,
the same words but the variant word), so that only the facet layer can order them.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import IndexSettings
from index.facets import facet_adjustment, facets_of, route_conflict, route_of
from index.lexical import terms
from index.records import IndexRecord
from index.retriever import HybridRetriever
from index.store import IndexData

TITLES = {
    "in": "残疾人证迁入",
    "out": "残疾人证迁出",
    "stop": "暂停养老保险待遇申请",
    "resume": "恢复养老保险待遇申请",
    "organ": "机关事业单位养老保险关系转移接续申请",
    "firm": "企业职工养老保险关系转移接续申请",
}


def _retriever(conflict: float) -> HybridRetriever:
    records = [
        IndexRecord(id=i, kind="guide", title=t, parent=None, content_hash=i, names=[t], lexical=terms(t))
        for i, t in TITLES.items()
    ]
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (len(records), 1))  # dense ties everywhere
    settings = IndexSettings(facet_conflict_penalty=conflict)
    return HybridRetriever(IndexData(records=records, vectors=vectors), settings)


def _order(retriever: HybridRetriever, text: str) -> list[str]:
    vector = np.eye(1, 8, dtype=np.float32)[0]
    return [h.id for h in retriever.search(text=text, search_text=text, vector=vector, top_k=6)]


@pytest.mark.parametrize(
    ("question", "wanted", "opposite"),
    [
        ("残疾证从外地迁过来怎么办", "in", "out"),
        ("残疾证要转出去，去哪办", "out", "in"),
        ("养老金被暂停了，怎么恢复", "resume", "stop"),
        ("养老金想先暂停发放", "stop", "resume"),
        ("从企业调到机关单位，养老保险关系怎么转", "organ", "firm"),
        ("从机关单位辞职去企业，养老保险关系怎么转", "firm", "organ"),
    ],
)
def test_direction_mismatch_ranks_below_the_matching_direction(
    question: str, wanted: str, opposite: str
) -> None:
    order = _order(_retriever(conflict=0.10), question)
    assert order.index(wanted) < order.index(opposite), order


def test_route_needs_the_conflict_penalty() -> None:
    """The from-to reading is what orders 企业 -> 机关: without its penalty both titles tie."""
    question = "从企业调到机关单位，养老保险关系怎么转"
    with_penalty = _order(_retriever(conflict=0.10), question)
    assert with_penalty.index("organ") < with_penalty.index("firm")
    hits = _retriever(conflict=0.0).search(
        text=question, search_text=question, vector=np.eye(1, 8, dtype=np.float32)[0], top_k=6
    )
    scores = {h.id: h.score for h in hits}
    assert scores["organ"] - scores["firm"] < 0.10


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("养老金被暂停了怎么恢复", "resume", "suspend"),  # 被 marks what happened, not what is asked
        ("公司已注销，想重新开业", "resume", "cancel"),
        ("档案要调到新单位去", "move_out", "move_in"),  # a pattern, not a word list
        ("户口从老家迁回来了", "move_in", "move_out"),
    ],
)
def test_query_facets_read_states_and_patterns(text: str, present: str, absent: str) -> None:
    found = facets_of(text, "query")
    assert present in found
    assert absent not in found


def test_opposite_costs_more_than_an_unasked_facet() -> None:
    kw = {"bonus": 0.10, "penalty": 0.10, "conflict": 0.10}
    move_in = frozenset({"move_in"})
    opposite = facet_adjustment(move_in, frozenset({"move_out"}), **kw)
    unasked = facet_adjustment(move_in, frozenset({"renew"}), **kw)
    assert opposite < unasked < 0
    # a title with both directions (迁入迁出) is not the opposite variant
    assert facet_adjustment(move_in, frozenset({"move_in", "move_out"}), **kw) > opposite


def test_route_of_and_conflict() -> None:
    assert route_of("从企业调到机关单位") == ("企业", "机关单位")
    assert route_of("养老保险怎么转") is None
    route = route_of("从机关调到企业去")
    assert route == ("机关", "企业")
    assert route_conflict(route, "机关事业单位养老保险关系转移接续申请")
    assert not route_conflict(route, "企业职工养老保险关系转移接续申请")
    assert not route_conflict(route, "机关事业单位与企业养老保险互转")  # names both: no conflict
    assert not route_conflict(None, "机关事业单位养老保险关系转移接续申请")
