"""The pure ranking pieces: BM25, score fusion and facet adjustments."""

from __future__ import annotations

import numpy as np
import pytest

from index.facets import facet_adjustment, facets_of
from index.fusion import Sparse, minmax_on, rrf_fusion, top_candidates, weighted_fusion
from index.lexical import TITLE_WEIGHT, BM25Index, char_bigrams, document_terms, terms

# ------------------------------------------------------------------ lexical

DOCS = ["居民身份证遗失补领", "住房公积金租房提取", "机动车驾驶证期满换证", "婚姻登记"]


@pytest.fixture(scope="module")
def bm25() -> BM25Index:
    return BM25Index([document_terms(title, "") for title in DOCS])


def test_char_bigrams() -> None:
    assert char_bigrams("公积金 提取") == ["公积", "积金", "提取"]
    assert char_bigrams("a 身") == []


def test_terms_mix_tokens_and_bigrams() -> None:
    found = terms("公积金怎么提取")
    assert "#公积" in found and "#提取" in found
    assert any(not t.startswith("#") for t in found)


def test_title_terms_count_more() -> None:
    assert document_terms("公积金", "").count("#公积") == TITLE_WEIGHT
    assert document_terms("", "公积金").count("#公积") == 1


@pytest.mark.parametrize(
    ("query", "best"), [("公积金怎么提取", 1), ("身份证丢了补领", 0), ("驾驶证到期换证", 2)]
)
def test_bm25_ranks_the_matching_document_first(bm25: BM25Index, query: str, best: int) -> None:
    scores = bm25.scores(terms(query))
    assert scores.shape == (len(DOCS),)
    assert int(np.argmax(scores)) == best
    assert scores[best] > 0
    assert bm25.max_possible(terms(query)) >= scores[best] > 0


def test_bm25_unknown_terms_score_zero(bm25: BM25Index) -> None:
    scores = bm25.scores(["量子计算", "#量子"])
    assert scores.shape == (len(DOCS),)
    assert not scores.any()
    assert bm25.max_possible(["量子计算"]) == 0.0


def test_bm25_empty_collection() -> None:
    assert BM25Index([]).scores(["x"]).shape == (0,)


# ------------------------------------------------------------------ fusion


def test_top_candidates_order_and_ties() -> None:
    scores = np.array([0.1, 0.5, 0.5, 0.2, 0.0])
    assert top_candidates(scores, 3).tolist() == [1, 2, 3]  # ties keep document order
    assert top_candidates(scores, 10).tolist() == [1, 2, 3, 0, 4]
    assert top_candidates(scores, 0).tolist() == []


def test_minmax_on_candidates_only() -> None:
    scores = np.array([1.0, 3.0, 2.0, 9.0])
    scaled = minmax_on(scores, np.array([0, 1, 2]))
    np.testing.assert_allclose(scaled, [0.0, 1.0, 0.5, 0.0])


def test_minmax_all_zero_retriever_does_not_vote() -> None:
    scaled = minmax_on(np.zeros(4), np.array([0, 1, 2]))
    assert not scaled.any()


def test_minmax_equal_positive_scores() -> None:
    np.testing.assert_allclose(minmax_on(np.array([2.0, 2.0, 0.0]), np.array([0, 1])), [1.0, 1.0, 0.0])


SIGNALS = {
    "dense": Sparse.dense(np.array([0.90, 0.95, 0.20, 0.85])),
    "lexical": Sparse.dense(np.array([6.0, 0.0, 7.0, 1.0])),
}


def test_weighted_fusion_prefers_doc_ranked_high_by_both() -> None:
    fused = weighted_fusion(SIGNALS, {"dense": 0.6, "lexical": 0.4}, candidates_per=4).to_dense()
    assert int(np.argmax(fused)) == 0


def test_weighted_fusion_ignores_silent_retriever() -> None:
    signals = {"dense": SIGNALS["dense"], "lexical": Sparse.dense(np.zeros(4))}
    fused = weighted_fusion(signals, {"dense": 0.6, "lexical": 0.4}, candidates_per=4).to_dense()
    dense = SIGNALS["dense"].to_dense()
    np.testing.assert_allclose(fused, minmax_on(dense, np.arange(4)) * 0.6, rtol=1e-6)


def test_rrf_fusion_prefers_doc_ranked_high_by_both() -> None:
    fused = rrf_fusion(SIGNALS, candidates_per=4, k=60).to_dense()
    assert int(np.argmax(fused)) == 0
    # doc 1 has no lexical score at all, so it gets dense's vote only
    assert fused[1] == pytest.approx(1 / 61)


def test_fusion_of_nothing() -> None:
    assert weighted_fusion({}, {}, 5).to_dense().shape == (0,)
    assert rrf_fusion({}, 5).to_dense().shape == (0,)


# ------------------------------------------------------------------ facets


@pytest.mark.parametrize(
    ("text", "side", "facet"),
    [
        ("居民身份证遗失补领", "title", "reissue"),
        ("居民身份证到期换领", "title", "renew"),
        ("往来港澳通行证办证进度查询", "title", "progress"),
        ("身份证丢了怎么办", "query", "reissue"),
        ("身份证过期了", "query", "renew"),
        ("我的证办到哪一步了", "query", "progress"),
        ("公司不做了怎么注销", "query", "cancel"),
    ],
)
def test_facets_of(text: str, side: str, facet: str) -> None:
    assert facet in facets_of(text, side)


def test_plain_title_has_no_facet() -> None:
    assert facets_of("居民身份证", "title") == frozenset()


def test_facet_adjustment_bonus_and_penalty() -> None:
    """Signs and order only: per-facet weights are data (facets.yml) and may change."""
    reissue, renew = frozenset({"reissue"}), frozenset({"renew"})
    kw = {"bonus": 0.10, "penalty": 0.05}
    assert facet_adjustment(reissue, reissue, **kw) > 0
    assert facet_adjustment(frozenset(), renew, **kw) < 0
    assert facet_adjustment(reissue, renew, **kw) < 0
    assert facet_adjustment(reissue, frozenset(), **kw) == 0
    assert facet_adjustment(frozenset(), frozenset(), **kw) == 0
    assert facet_adjustment(reissue, reissue, bonus=0.0, penalty=0.0) == 0
    # the variant the question asks for always beats one it does not ask for
    assert facet_adjustment(reissue, reissue, **kw) > facet_adjustment(reissue, renew, **kw)
