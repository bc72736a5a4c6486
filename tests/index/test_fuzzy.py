"""FuzzyNames: scoring a shortlist by character bounds ranks as scoring every name does."""

from __future__ import annotations

import random

import numpy as np
import pytest

from index.fusion import minmax_on, top_candidates, top_sparse
from index.fuzzy import FuzzyNames

ALPHABET = "身份证补办换领护照港澳通行签注社保医疗养老保险广州市越秀区天河申请进度查询"


def _text(rng: random.Random, shortest: int, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(shortest, longest)))


@pytest.fixture(scope="module")
def names() -> FuzzyNames:
    rng = random.Random(3)
    docs = [[_text(rng, 2, 16) for _ in range(rng.randint(0, 3))] for _ in range(1500)]
    return FuzzyNames(docs)


@pytest.mark.parametrize("k", [1, 10, 50])
def test_leading_documents_match_scoring_every_name(names: FuzzyNames, k: int) -> None:
    """What fusion reads (the k best scores, min-max scaled over them) is the same, and no
    document is given more than it scores."""
    rng = random.Random(k)
    for _ in range(40):
        query = _text(rng, 2, 20)
        full = names.scores(query)
        found = names.top(query, k)
        fast = found.to_dense()
        assert top_sparse(found, k).tolist() == top_candidates(full, k).tolist()
        top_full, top_fast = top_candidates(full, k), top_candidates(fast, k)
        assert np.sort(full[top_full]).tolist() == np.sort(fast[top_fast]).tolist()
        assert np.array_equal(minmax_on(full, top_full), minmax_on(fast, top_fast))
        assert (fast <= full).all()


def test_doc_scores_are_the_exact_scores(names: FuzzyNames) -> None:
    query = "广州市身份证补办进度"
    full = names.scores(query)
    docs = [0, 5, 17, 1499, *top_candidates(full, 5).tolist()]
    assert names.doc_scores(query, docs).tolist() == full[docs].tolist()


def test_names_that_only_share_characters_do_not_hide_the_best() -> None:
    """More names than the first round scores, with the best bounds but low scores (the same
    characters in another order): the name that matches is still found."""
    rng = random.Random(1)
    shuffled = ["".join(rng.sample("港澳通行证签注", 7)) for _ in range(600)]
    docs = [[name] for name in shuffled] + [["港澳通行证签注"]]
    fuzzy = FuzzyNames(docs)
    assert top_sparse(fuzzy.top("港澳通行证签注办理", 1), 1).tolist() == [600]


def test_nothing_to_match() -> None:
    assert FuzzyNames([]).top("身份证", 5).to_dense().tolist() == []
    assert FuzzyNames([["护照"]]).top("", 5).to_dense().tolist() == [0.0]


def test_max_scored_bounds_the_work(names: FuzzyNames, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a limit, rapidfuzz sees at most that many names, the highest bounds first."""
    from index import fuzzy as module

    scored: list[int] = []
    real = module.combined_scores

    def counting(query: str, batch: list[str]) -> np.ndarray:
        scored.append(len(batch))
        return real(query, batch)

    limited = FuzzyNames(
        [[n for n in names.choices[i : i + 1]] for i in range(len(names.choices))], max_scored=600
    )
    monkeypatch.setattr(module, "combined_scores", counting)
    query = limited.choices[42] + "怎么办"
    scores = limited.top(query, 50).to_dense()
    assert 0 < sum(scored) <= 600
    assert scores[42] == scores.max() > 0  # the name typed in full is among the scored
