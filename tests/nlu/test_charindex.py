"""nlu.charindex: shared-character counts by postings, and bounds that rapidfuzz never exceeds."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from rapidfuzz import fuzz

from nlu.charindex import CharIndex

ALPHABET = "身份证补办换领护照港澳通行签注社保医疗养老保险广州市越秀区天河申请进度查询ab 1"


def _text(rng: random.Random, shortest: int, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(shortest, longest)))


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    rng = random.Random(7)
    names = [_text(rng, 1, 24) for _ in range(400)]
    texts = [_text(rng, 1, 30) for _ in range(60)] + ["身份证补办", "广州市越秀区护照"]
    return names, texts


def test_shared_counts_common_characters_with_multiplicity(corpus: tuple[list[str], list[str]]) -> None:
    names, texts = corpus
    index = CharIndex(names)
    for text in texts:
        expected = [sum((Counter(text) & Counter(name)).values()) for name in names]
        assert index.shared(text).tolist() == expected


def test_bounds_are_never_below_rapidfuzz(corpus: tuple[list[str], list[str]]) -> None:
    """The pruning is exact only if no name can score above its bound."""
    names, texts = corpus
    index = CharIndex(names)
    for text in texts:
        shared = index.shared(text)
        partial = index.partial_bound(text, shared)
        full = index.ratio_bound(text, shared)
        for i, name in enumerate(names):
            assert fuzz.partial_ratio(text, name) <= partial[i] + 1e-3, (text, name)
            assert fuzz.ratio(text, name) <= full[i] + 1e-3, (text, name)


def test_a_name_inside_the_text_keeps_the_full_bound() -> None:
    index = CharIndex(["护照", "港澳通行证", "社保"])
    text = "我想办港澳通行证"
    shared = index.shared(text)
    bounds = index.partial_bound(text, shared)
    assert bounds[1] == pytest.approx(100.0)
    assert shared.tolist() == [0, 5, 0]
    assert bounds[0] == 0.0
