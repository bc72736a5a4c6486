"""The query-vector LRU: repeated questions are not embedded twice; the oldest entry goes first."""

from __future__ import annotations

import numpy as np

from bot.resources import Resources
from core.settings import load_settings


class CountingEncoder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        return np.full((len(texts), 3), float(len(self.calls)))


def _resources(size: int) -> tuple[Resources, CountingEncoder]:
    settings = load_settings()
    settings.index.embedder.query_cache_size = size
    resources = Resources.__new__(Resources)
    resources.settings = settings
    encoder = CountingEncoder()
    resources.__dict__["encoder"] = encoder
    return resources, encoder


def test_lru_keeps_recent_questions() -> None:
    resources, encoder = _resources(2)
    first = resources.embed_query("居住证怎么办")
    for text in ["护照", "居住证怎么办", "驾照", "护照"]:
        resources.embed_query(text)
    assert encoder.calls == ["居住证怎么办", "护照", "驾照", "护照"]
    assert np.array_equal(resources.embed_query("驾照"), np.full(3, 3.0))
    assert first.shape == (3,)


def test_zero_size_turns_the_cache_off() -> None:
    resources, encoder = _resources(0)
    resources.embed_query("社保")
    resources.embed_query("社保")
    assert encoder.calls == ["社保", "社保"]
