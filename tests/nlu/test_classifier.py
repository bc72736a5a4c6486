"""TextClassifier: char + word TF-IDF with embeddings, the inner selection, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlu.classifier import GRID, TextClassifier, word_ngrams

WAGES = [
    "老板拖欠工资三个月",
    "工地拖欠农民工工资",
    "公司不发工资还不签合同",
    "拖欠工资找谁",
    "加班工资一直不给",
]
NOISE = ["楼下酒吧噪音扰民", "工地夜间施工噪音太大", "广场舞音响噪音很吵", "空调外机噪音扰民", "夜里装修噪音"]


def _data() -> tuple[list[str], list[str], np.ndarray]:
    texts = WAGES + NOISE
    labels = ["劳动和社会保障"] * len(WAGES) + ["环境保护"] * len(NOISE)
    vectors = np.random.default_rng(0).standard_normal((len(texts), 8)).astype(np.float32)
    return texts, labels, vectors


def test_word_ngrams_are_tokens_and_pairs() -> None:
    grams = word_ngrams("拖欠工资")
    assert "工资" in grams
    assert any(" " in g for g in grams)


def test_fit_predict_with_and_without_vectors() -> None:
    texts, labels, vectors = _data()
    for v in (vectors, None):
        clf = TextClassifier()
        clf.fit(texts, labels, v)
        query = None if v is None else np.zeros(8, dtype=np.float32)
        prediction = clf.predict("物业拖欠保安工资", query)
        assert prediction.label == "劳动和社会保障"
        assert abs(sum(p for _, p in prediction.ranking) - 1) < 1e-6
    assert clf.selection == {}  # no tickets marked: the defaults


def test_select_on_chooses_from_the_grid() -> None:
    texts, labels, vectors = _data()
    clf = TextClassifier()
    clf.fit(texts, labels, vectors, select_on=[True] * len(texts))
    assert (clf.c, clf.embedding_weight) in GRID
    assert 0 <= clf.selection["inner_accuracy"] <= 1


def test_select_on_with_too_few_tickets_keeps_the_defaults() -> None:
    texts, labels, vectors = _data()
    clf = TextClassifier(c=3.0)
    clf.fit(texts, labels, vectors, select_on=[i == 0 for i in range(len(texts))])
    assert clf.c == 3.0 and clf.selection == {}


def test_needs_two_labels() -> None:
    with pytest.raises(ValueError, match="two labels"):
        TextClassifier().fit(["a", "b"], ["x", "x"], None)


def test_save_load_round_trip(tmp_path: Path) -> None:
    texts, labels, vectors = _data()
    clf = TextClassifier()
    clf.fit(texts, labels, vectors, select_on=[True] * len(texts))
    clf.save(tmp_path)
    loaded = TextClassifier.load(tmp_path)
    assert loaded.labels == clf.labels and loaded.selection == clf.selection
    a = clf.predict_many(["夜里施工太吵"], vectors[:1])[0]
    b = loaded.predict_many(["夜里施工太吵"], vectors[:1])[0]
    assert a.label == b.label and a.confidence == pytest.approx(b.confidence)
