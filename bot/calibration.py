"""Calibrating answer / clarify / abstain on the operator's own corpus.

Built-in examples say little about a knowledge base they were not written for, so the
confidence model and its thresholds are fitted on probes made from the corpus itself:

- answerable probes: each sampled item asked the way a citizen might half-remember it (its
  name cut down or wrapped in a question, a sentence of its free text, a clause of a policy
  document); the right behaviour is to answer with that item;
- unanswerable probes: the same probes with their item (for a policy document: the whole
  document) left out of the ranked list, so whatever comes first is wrong; plus the NLU data's
  off-topic examples. The right behaviour is to clarify or abstain.

Sampled items are split in two by a hash of their id: the confidence model is fitted on one
half, the thresholds are chosen and their error rates measured on the other, so the rates that
`govbot train` and `govbot kb stats` report are not measured on the data the model saw.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.confidence import FEATURES, ConfidenceModel, features
from index.retriever import Hit
from knowledge.models import FAQ, PolicyChunk, ServiceGuide

Item = ServiceGuide | FAQ | PolicyChunk
Ranker = Callable[[str], list[Hit]]

_LEADING = re.compile(r"^(?:关于|办理|申请|对|开展)")
_TRAILING = re.compile(r"(?:的)?(?:办理|服务|业务|事项|申请|审批|审核|登记|许可|备案|确认|查询)$")
_CN = "一二三四五六七八九十百零〇"
_MARKER = re.compile(rf"^\s*(?:第[{_CN}\d]+[条章节款]|[（(][{_CN}\d]+[)）]|\d+[.．、])")
_SENTENCE = re.compile(r"[。；;！？!?\n]")
# Citizens wrap the matter in their own words: a lead-in, sometimes a bit of context, and what
# they want to know. Probes do the same, so that they are about as hard as real questions
# (a bare title scores far higher than anything a citizen types).
_LEAD = (
    "",
    "请问",
    "你好，请问",
    "那个，我想问一下",
    "麻烦问下，",
    "我在外地上班，",
    "家里人让我问问",
    "嗯就是说",
)
_ASK = ("怎么办", "怎么办理", "需要什么材料", "在哪里办", "要多久", "有什么条件", "可以网上办吗", "怎么弄")


def _wrap(core: str, rng: random.Random) -> str:
    return f"{rng.choice(_LEAD)}{core}{rng.choice(_ASK)}"


@dataclass(frozen=True)
class Probe:
    text: str
    item_id: str
    group: str  # what is left out for the unanswerable version: the item, or its whole document
    style: str  # name | cut | body | clause


def group_of(item: Item) -> str:
    """Chunks of one document answer together: leaving one out leaves the document out."""
    return f"doc:{item.source}" if isinstance(item, PolicyChunk) else f"item:{item.id}"


def _core(name: str) -> str:
    core = _TRAILING.sub("", _LEADING.sub("", name.strip()))
    return core if len(core) >= 2 else name.strip()


def _sentences(text: str, low: int = 8, high: int = 40) -> list[str]:
    parts = (_MARKER.sub("", s).strip(" ，,：:") for s in _SENTENCE.split(text))
    return [p[:high] for p in parts if len(p) >= low]


def probes_for(item: Item, rng: random.Random) -> list[Probe]:
    """Two citizen-like probes of one item (fewer when it has little text)."""
    group = group_of(item)
    out: list[Probe] = []
    if isinstance(item, PolicyChunk):
        sentences = _sentences(item.text)
        for sentence in rng.sample(sentences, min(2, len(sentences))):
            cut = sentence[: max(8, int(len(sentence) * rng.uniform(0.5, 0.9)))]
            out.append(Probe(f"{rng.choice(_LEAD)}{cut}", item.id, group, "clause"))
        return out
    if isinstance(item, FAQ):
        asked = [item.question, *item.alt_questions]
        return [Probe(rng.choice(asked), item.id, group, "name")]
    core = _core(item.name)
    out.append(Probe(_wrap(core, rng), item.id, group, "name"))
    if len(core) >= 6:
        keep = max(4, int(len(core) * rng.uniform(0.55, 0.8)))
        start = rng.choice([0, len(core) - keep])
        out.append(Probe(_wrap(core[start : start + keep], rng), item.id, group, "cut"))
    elif item.aliases:
        out.append(Probe(rng.choice(item.aliases), item.id, group, "name"))
    if item.body and (sentences := _sentences(item.body)):
        out.append(Probe(rng.choice(sentences), item.id, group, "body"))
    return out


def make_probes(items: Iterable[Item], limit: int, seed: int = 0) -> list[Probe]:
    """Probes for up to `limit` items sampled with a fixed seed (same corpus, same probes)."""
    pool = sorted(items, key=lambda i: i.id)
    rng = random.Random(seed)
    chosen = rng.sample(pool, min(limit, len(pool)))
    return [probe for item in chosen for probe in probes_for(item, rng)]


def _half(item_id: str) -> int:
    return hashlib.sha256(item_id.encode("utf-8")).digest()[0] % 2


@dataclass
class Observation:
    """One ranked list and what the right behaviour was."""

    values: list[float]
    answerable: bool
    right_first: bool  # answerable: the first hit is the probed item (or its document)
    right_offered: bool  # answerable: the item is among the first `offered` hits
    half: int
    offtopic: bool = False  # one of the NLU data's off-topic examples


def observe(
    probes: Sequence[Probe],
    offtopic: Sequence[str],
    rank: Ranker,
    groups: dict[str, str],
    offered: int,
) -> list[Observation]:
    """Rank every probe once; each gives an answerable and a left-out observation."""
    rows: list[Observation] = []
    for probe in probes:
        hits = rank(probe.text)
        half = _half(probe.item_id)
        mine = [groups.get(h.id) == probe.group for h in hits]
        rows.append(Observation(features(hits), True, bool(mine and mine[0]), any(mine[:offered]), half))
        rest = [h for h, own in zip(hits, mine, strict=True) if not own]
        rows.append(Observation(features(rest), False, False, False, half))
    for n, text in enumerate(offtopic):
        rows.append(Observation(features(rank(text)), False, False, False, n % 2, offtopic=True))
    return rows


def fit_model(rows: Sequence[Observation]) -> ConfidenceModel:
    """Logistic regression of "the first hit is right" on the standardised features."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([r.values for r in rows], dtype=np.float64)
    y = np.asarray([r.answerable and r.right_first for r in rows], dtype=np.int64)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration needs probes answered rightly and wrongly; the corpus is too small")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, y)
    return ConfidenceModel(
        weights=[round(float(w), 5) for w in model.coef_[0]],
        bias=round(float(model.intercept_[0]), 5),
        mean=[round(float(m), 6) for m in mean],
        scale=[round(float(s), 6) for s in scale],
        names=list(FEATURES),
    )


def choose_levels(
    scored: Sequence[tuple[float, Observation]],
    *,
    wrong_target: float,
    unanswerable_target: float,
    abstain_max: float,
    offtopic_abstain: float = 0.9,
) -> tuple[float, float]:
    """(answer_min, clarify_min): the lowest answer threshold that holds both error targets;
    and a clarify threshold that abstains on at least `offtopic_abstain` of the off-topic
    examples, lowered where needed so that at most `abstain_max` of the rightly ranked
    answerable probes are refused (never above answer_min). Real questions are harder than
    probes, so the clarify band is kept wide: offering candidates costs a citizen one tap,
    a wrong refusal a hotline call."""
    answerable = [(p, o) for p, o in scored if o.answerable]
    unanswerable = [p for p, o in scored if not o.answerable]
    candidates = sorted({round(p, 4) for p, _ in scored} | {1.0})
    answer_min = 1.0
    for t in candidates:
        wrong = sum(1 for p, o in answerable if p >= t and not o.right_first) / max(1, len(answerable))
        leaked = sum(1 for p in unanswerable if p >= t) / max(1, len(unanswerable))
        if wrong <= wrong_target and leaked <= unanswerable_target:
            answer_min = t
            break
    right = sorted(p for p, o in answerable if o.right_first)
    clarify_min = float(right[int(abstain_max * len(right))]) if right else answer_min
    offtopic = sorted(p for p, o in scored if o.offtopic)
    if offtopic:
        clarify_min = min(
            clarify_min, float(offtopic[min(len(offtopic) - 1, int(offtopic_abstain * len(offtopic)))])
        )
    return answer_min, round(min(clarify_min, answer_min), 4)


def rates(
    scored: Sequence[tuple[float, Observation]], answer_min: float, clarify_min: float
) -> dict[str, Any]:
    """What the thresholds do to the probes: shares of each outcome, answerable and not."""

    def level(p: float) -> str:
        return "answer" if p >= answer_min else "clarify" if p >= clarify_min else "abstain"

    answerable = [(level(p), o) for p, o in scored if o.answerable]
    unanswerable = [level(p) for p, o in scored if not o.answerable]

    def share(count: int, total: int) -> float:
        return round(count / max(1, total), 4)

    n_a, n_u = len(answerable), len(unanswerable)
    return {
        "answerable": n_a,
        "answered_right": share(sum(lv == "answer" and o.right_first for lv, o in answerable), n_a),
        "answered_wrong": share(sum(lv == "answer" and not o.right_first for lv, o in answerable), n_a),
        "clarify_offering_it": share(sum(lv == "clarify" and o.right_offered for lv, o in answerable), n_a),
        "abstained": share(sum(lv == "abstain" for lv, _ in answerable), n_a),
        "unanswerable": n_u,
        "unanswerable_answered": share(sum(lv == "answer" for lv in unanswerable), n_u),
        "unanswerable_clarified": share(sum(lv == "clarify" for lv in unanswerable), n_u),
        "unanswerable_abstained": share(sum(lv == "abstain" for lv in unanswerable), n_u),
    }


@dataclass
class Levels:
    model: ConfidenceModel
    answer_min: float
    clarify_min: float
    measured: dict[str, Any]


def calibrate_levels(
    rows: Sequence[Observation], *, wrong_target: float, unanswerable_target: float, abstain_max: float
) -> Levels:
    """Fit on one half of the items, choose and measure the thresholds on the other."""
    fit_rows = [r for r in rows if r.half == 0]
    held = [r for r in rows if r.half == 1]
    if not held or not fit_rows:
        fit_rows = held = list(rows)
    model = fit_model(fit_rows)
    scored = [(model.of_values(r.values), r) for r in held]
    answer_min, clarify_min = choose_levels(
        scored, wrong_target=wrong_target, unanswerable_target=unanswerable_target, abstain_max=abstain_max
    )
    measured = rates(scored, answer_min, clarify_min)
    measured["targets"] = {
        "wrong_answer": wrong_target,
        "unanswerable_answered": unanswerable_target,
        "abstain_max": abstain_max,
    }
    return Levels(model, answer_min, clarify_min, measured)
