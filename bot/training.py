"""`govbot train`: the intent and category classifiers, and the answer threshold.

The shipped category model learns from project-authored examples
(nlu/data/categories.yml); a deployment adds its own historic tickets with
`govbot train --tickets FILE.jsonl` (one JSON object per line with the text
in `content`, `detail`, `text` or `title`, and the label in `category`). The
tickets join the authored examples, and the classifier's C and embedding weight
are chosen by an inner cross-validation scored on the tickets only (see
nlu.classifier), so a deployment's model fits how its own citizens write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bot.confidence import FEATURES, ConfidenceModel
from bot.policy import Calibration
from core.yamlio import load_yaml
from nlu.classifier import Features, TextClassifier
from nlu.normalize import normalize_text

CALIBRATION_FILE = "calibration.json"


def load_category_examples(path: Path) -> tuple[list[str], list[str]]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    texts, labels = [], []
    for block in data.get("categories", []):
        for example in block.get("examples", []):
            texts.append(normalize_text(str(example)))
            labels.append(str(block["name"]))
    return texts, labels


def ticket_text(record: dict[str, Any]) -> str:
    """The text of a historic ticket or message, whichever keys it uses."""
    parts = [str(record.get(k) or "") for k in ("title", "content", "detail", "text")]
    return normalize_text(" ".join(p for p in parts if p))


def load_ticket_examples(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(texts, labels, errors) from a tickets JSONL; bad lines are reported, not fatal."""
    texts, labels, errors = [], [], []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{line_no}: invalid JSON: {exc.msg}")
                continue
            text = ticket_text(record) if isinstance(record, dict) else ""
            label = record.get("category") if isinstance(record, dict) else None
            if not text or not label:
                errors.append(f"{path}:{line_no}: needs text and category")
                continue
            texts.append(text)
            labels.append(str(label))
    return texts, labels, errors


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    vectors: np.ndarray,
    folder: Path,
    *,
    select_on: Sequence[bool] | None = None,
    features: Features = "chars+words",
) -> TextClassifier:
    """Fit and save; `select_on` marks the examples (historic tickets) that choose C and weights."""
    classifier = TextClassifier(features=features)
    classifier.fit(texts, labels, vectors, select_on=select_on)
    classifier.save(folder)
    return classifier


def choose_threshold(in_scope: Sequence[float], out_of_scope: Sequence[float]) -> float:
    """The dense-score threshold with the best balanced accuracy between the two samples."""
    if not in_scope or not out_of_scope:
        raise ValueError("calibration needs in-scope and out-of-scope examples")
    inside, outside = np.asarray(in_scope), np.asarray(out_of_scope)
    best, best_acc = float(np.median(inside)), -1.0
    for threshold in np.unique(np.concatenate([inside, outside])):
        acc = 0.5 * ((inside >= threshold).mean() + (outside < threshold).mean())
        if acc > best_acc:
            best, best_acc = float(threshold), float(acc)
    return best


def save_calibration(models_dir: Path, calibration: Calibration) -> None:
    models_dir.mkdir(parents=True, exist_ok=True)
    (models_dir / CALIBRATION_FILE).write_text(json.dumps(asdict(calibration), indent=1))


def load_calibration(models_dir: Path) -> Calibration | None:
    path = models_dir / CALIBRATION_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    model = data.pop("model", None)
    calibration = Calibration(**data)
    if model is not None and model.get("names") == list(FEATURES):  # a stale model is ignored
        calibration.model = ConfidenceModel(**model)
    return calibration


def calibration_summary(calibration: Calibration) -> dict[str, Any]:
    """Thresholds and their measured error rates, as `govbot kb stats` prints them."""
    summary: dict[str, Any] = {"dense_min": calibration.dense_min, "measured_on": calibration.measured_on}
    if calibration.model is not None:
        summary |= {
            "answer_min": calibration.answer_min,
            "clarify_min": calibration.clarify_min,
            "measured": calibration.measured,
        }
    return summary


def calibration_lines(calibration: Calibration) -> list[str]:
    """The same, in sentences for `govbot train` and `govbot index build`."""
    if calibration.model is None:
        return [f"answer threshold: dense ≥ {calibration.dense_min} (measured on {calibration.measured_on})"]
    m = calibration.measured
    targets = m.get("targets", {})
    on = calibration.measured_on
    return [
        f"dense threshold (used with `confidence: dense`, the default): ≥ {calibration.dense_min}",
        f"corpus model (used with `confidence: corpus`): {on.get('probes', 0)} probes from "
        f"{on.get('items', 0)} items "
        f"(+ left-out and off-topic versions); thresholds measured on the held-out half",
        f"answer when confidence ≥ {calibration.answer_min}, offer choices when ≥ {calibration.clarify_min}, "
        "else say it is not in the knowledge base",
        f"answerable probes ({m.get('answerable', 0)}): answered right {m.get('answered_right', 0):.1%}, "
        f"answered wrong {m.get('answered_wrong', 0):.1%} (target ≤ {targets.get('wrong_answer', 0):.0%}), "
        f"clarify offering it {m.get('clarify_offering_it', 0):.1%}, abstained {m.get('abstained', 0):.1%}",
        f"unanswerable probes ({m.get('unanswerable', 0)}): answered {m.get('unanswerable_answered', 0):.1%} "
        f"(target ≤ {targets.get('unanswerable_answered', 0):.0%}), "
        f"clarified {m.get('unanswerable_clarified', 0):.1%}, "
        f"abstained {m.get('unanswerable_abstained', 0):.1%}",
    ]
