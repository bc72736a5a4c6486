"""The exported classifier predicts what scikit-learn predicts, without importing it.

Both shipped training sets (intent examples from nlu.yml with char_wb features, category
examples from categories.yml with char + word features) are fitted with scikit-learn; the
exported arrays must give the same probabilities on the training texts, on text the
vectorizers never saw (mixed case, whitespace runs, emoji, Latin letters) and, when
../shared is present, on the 495 real citizen messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.training import load_category_examples, ticket_text
from nlu.classifier import Features, TextClassifier
from nlu.linear_model import LinearTextModel, char_ngrams, char_wb_ngrams
from nlu.training_data import load_nlu

REPO = Path(__file__).resolve().parents[2]
SHARED_MESSAGES = REPO.parent / "shared" / "data" / "citizen_messages_labeled.jsonl"

ODD_TEXTS = [
    "",
    "   ",
    "ABC 居住证  怎么办",
    "我想查一下\t\t工单 20261201-0003 的进度",
    "楼下KTV噪音😡太吵了！！",
    "C1增驾B2",
    "社保\n\n断缴能补吗",
    "a",
]


def _sklearn_pair(
    texts: list[str], labels: list[str], features: Features, dims: int
) -> tuple[TextClassifier, Any, np.random.Generator]:
    """(the fitted vectorizers, the scikit-learn model, the random source) for one training set."""
    clf = TextClassifier(features=features, embedding_weight=2.0)
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((len(texts), dims)) if dims else None
    clf._fit_vectorizers(texts)
    model = clf._logistic(clf.c).fit(clf._join(clf._sparse(texts), vectors, clf.embedding_weight), labels)
    return clf, model, rng


def _queries() -> list[str]:
    queries = list(ODD_TEXTS)
    if SHARED_MESSAGES.is_file():
        with SHARED_MESSAGES.open(encoding="utf-8") as handle:
            queries += [ticket_text(json.loads(line)) for line in handle if line.strip()]
    else:
        print(f"skipping the real citizen messages: {SHARED_MESSAGES} is absent")
    return queries


@pytest.mark.parametrize("which", ["intent", "category"])
def test_probabilities_match_scikit_learn(which: str) -> None:
    if which == "intent":
        data = load_nlu(REPO / "nlu" / "data" / "nlu.yml")
        texts = [t for intent, examples in data.intents.items() for t in examples]
        labels = [intent for intent, examples in data.intents.items() for _ in examples]
        features: Features = "chars"
    else:
        texts, labels = load_category_examples(REPO / "nlu" / "data" / "categories.yml")
        features = "chars+words"
    clf, model, rng = _sklearn_pair(texts, labels, features, dims=8)
    linear = LinearTextModel.from_sklearn(clf._vectorizers, model, clf.embedding_weight)

    queries = texts + _queries()
    vectors = rng.standard_normal((len(queries), 8))
    expected = model.predict_proba(clf._join(clf._sparse(queries), vectors, clf.embedding_weight))
    got = linear.probabilities(queries, vectors)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert linear.labels == [str(c) for c in model.classes_]


def test_two_classes_use_the_logistic_of_one_decision() -> None:
    texts = ["老板拖欠工资", "工地拖欠工资", "不发工资", "楼下噪音扰民", "夜间施工噪音", "酒吧太吵"]
    labels = ["劳动"] * 3 + ["环境"] * 3
    clf, model, _ = _sklearn_pair(texts, labels, "chars+words", dims=0)
    linear = LinearTextModel.from_sklearn(clf._vectorizers, model, 0.0)
    queries = ["拖欠工资怎么办", "噪音", ""]
    expected = model.predict_proba(clf._sparse(queries))
    np.testing.assert_allclose(linear.probabilities(queries, None), expected, rtol=1e-9, atol=1e-12)


def test_char_analyzers_match_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    for text in [*ODD_TEXTS, "居住证", "Ab  Cd\tEf"]:
        wb = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).build_analyzer()
        char = TfidfVectorizer(analyzer="char", ngram_range=(1, 4)).build_analyzer()
        assert char_wb_ngrams(text, 1, 3) == wb(text), text
        assert char_ngrams(text, 1, 4) == char(text), text


def test_saved_model_round_trips_and_loads_without_scikit_learn(tmp_path: Path) -> None:
    texts, labels = load_category_examples(REPO / "nlu" / "data" / "categories.yml")
    clf = TextClassifier()
    clf.fit(texts, labels, None)
    clf.save(tmp_path)
    assert not (tmp_path / "model.joblib").exists()
    before = clf.predict("楼下烧烤店油烟扰民", None)

    probe = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from nlu.classifier import Features, TextClassifier\n"
        f"p = TextClassifier.load(Path({str(tmp_path)!r})).predict('楼下烧烤店油烟扰民', None)\n"
        "print(json.dumps([p.label, p.confidence, 'sklearn' in sys.modules, 'joblib' in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    label, confidence, sklearn_loaded, joblib_loaded = json.loads(out.stdout)
    assert (label, confidence) == (before.label, pytest.approx(before.confidence))
    assert not sklearn_loaded and not joblib_loaded


def test_a_pickled_model_from_before_is_exported_on_load(tmp_path: Path) -> None:
    import joblib

    texts, labels = load_category_examples(REPO / "nlu" / "data" / "categories.yml")
    clf, model, _ = _sklearn_pair(texts, labels, "chars+words", dims=0)
    joblib.dump({"vectorizers": clf._vectorizers, "model": model}, tmp_path / "model.joblib")
    meta = {"labels": [str(c) for c in model.classes_], "embedding_weight": 0.0, "c": 4.0}
    (tmp_path / "config.json").write_text(json.dumps(meta))
    assert TextClassifier.saved_in(tmp_path)

    loaded = TextClassifier.load(tmp_path)
    assert LinearTextModel.saved_in(tmp_path)
    expected = model.predict_proba(clf._sparse(["工地夜里施工太吵"]))[0]
    got = dict(loaded.predict("工地夜里施工太吵", None).ranking)
    assert [got[label] for label in loaded.labels] == pytest.approx(list(expected))
