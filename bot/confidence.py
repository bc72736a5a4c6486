"""How sure retrieval is that its best hit answers the question, as a probability.

Raw scores do not say it on their own: e5 similarities are compressed (unrelated pairs still
score about 0.83), BM25 depends on the query's length, and what separates a right first hit
from a wrong one is partly the gap to the runner-up. So a small logistic model reads a few
facts of the ranked list (`features`) and turns them into one number in 0..1. Its weights are
fitted per knowledge base at `govbot train` / `govbot index build` (bot/calibration.py) on
probes generated from that corpus, and the policy compares the number with the answer and
clarify thresholds chosen there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.retriever import Hit

FEATURES = ("dense", "fused_gap")
"""Names of `features`, in order (stored with the fitted weights to catch a stale file).

Only these two: the lexical and fuzzy levels (and the dense gap and agreement) separated the
probes well but did not carry over to colloquial questions, which score far lower on them
than any probe made from a title (odd rows of bench/data/colloquial_gd.tsv: with all six
features 33 % of answerable questions were refused, with these two 17 %)."""


def features(hits: Sequence[Hit]) -> list[float]:
    """The facts of a ranked list the confidence model reads (all 0 for an empty list):
    the first hit's dense similarity, and how far it leads the second by fused score."""
    if not hits:
        return [0.0] * len(FEATURES)
    best = hits[0]
    second = hits[1] if len(hits) > 1 else None
    return [best.signals.get("dense", 0.0), best.score - second.score if second else best.score]


@dataclass
class ConfidenceModel:
    """Standardise the features, then a logistic function; fitted by bot/calibration.py."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    names: list[str] = field(default_factory=lambda: list(FEATURES))

    def probability(self, hits: Sequence[Hit]) -> float:
        return self.of_values(features(hits)) if hits else 0.0

    def of_values(self, values: Sequence[float]) -> float:
        """The probability for already computed `features`."""
        z = self.bias + sum(
            w * (v - m) / s for w, v, m, s in zip(self.weights, values, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
