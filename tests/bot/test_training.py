"""Training helpers: the calibrated threshold, ticket examples, calibration files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.policy import Calibration
from bot.resources import CATEGORIES_FILE
from bot.training import (
    choose_threshold,
    load_calibration,
    load_category_examples,
    load_ticket_examples,
    save_calibration,
    ticket_text,
)
from core.settings import Settings
from tests.utils.factories import write


def test_choose_threshold_separates_two_samples() -> None:
    inside, outside = [0.91, 0.93, 0.95, 0.97], [0.80, 0.83, 0.86, 0.88]
    threshold = choose_threshold(inside, outside)
    assert all(s >= threshold for s in inside)
    assert all(s < threshold for s in outside)


def test_choose_threshold_with_overlap_balances_errors() -> None:
    inside, outside = [0.85, 0.90, 0.92, 0.95], [0.80, 0.82, 0.87, 0.86]
    threshold = choose_threshold(inside, outside)
    correct_in = sum(s >= threshold for s in inside) / len(inside)
    correct_out = sum(s < threshold for s in outside) / len(outside)
    assert (correct_in + correct_out) / 2 >= 0.75


def test_choose_threshold_needs_both_samples() -> None:
    with pytest.raises(ValueError, match="in-scope and out-of-scope"):
        choose_threshold([0.9], [])
    with pytest.raises(ValueError):
        choose_threshold([], [0.5])


def test_load_ticket_examples_reports_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"content": "小区噪音扰民", "category": "环境保护"}, ensure_ascii=False),
        "{broken json",
        json.dumps(
            {"title": "路灯坏了", "detail": "三个月没人修", "category": "城乡建设"}, ensure_ascii=False
        ),
        "",
        json.dumps({"content": "没有分类"}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
        json.dumps({"category": "环境保护"}, ensure_ascii=False),
    ]
    path = write(tmp_path / "tickets.jsonl", "\n".join(lines) + "\n")
    texts, labels, errors = load_ticket_examples(path)
    assert texts == ["小区噪音扰民", "路灯坏了 三个月没人修"]
    assert labels == ["环境保护", "城乡建设"]
    assert [e.split(":")[1] for e in errors] == ["2", "5", "6", "7"]
    assert "invalid JSON" in errors[0]
    assert all(e.startswith(str(path)) for e in errors)


def test_ticket_text_normalises() -> None:
    assert ticket_text({"title": "噪音", "content": "  晚上\n施工 "}) == "噪音 晚上 施工"
    assert ticket_text({}) == ""


def test_category_examples_cover_several_categories() -> None:
    texts, labels = load_category_examples(CATEGORIES_FILE)
    assert len(texts) == len(labels) > 100
    assert len(set(labels)) >= 7
    assert all(texts)


def test_calibration_round_trip(tmp_path: Path) -> None:
    assert load_calibration(tmp_path) is None
    calibration = Calibration(dense_min=0.8667, measured_on={"in_scope": 3, "out_of_scope": 2})
    save_calibration(tmp_path / "models", calibration)
    assert load_calibration(tmp_path / "models") == calibration


def test_prepared_calibration_is_plausible(settings: Settings) -> None:
    """`govbot train` wrote a threshold measured on both kinds of examples."""
    calibration = load_calibration(settings.models_dir)
    assert calibration is not None
    assert 0.0 < calibration.dense_min < 1.0
    assert calibration.measured_on["in_scope"] > 0 and calibration.measured_on["out_of_scope"] > 0


# A deployment whose road authority maintains the street lights: its historic tickets file
# 路灯 under 交通运输, where the authored taxonomy puts it under 城乡建设.
STREET_LIGHT_TICKETS = [
    "主干道两侧的路灯一到晚上就不亮，开车经过很危险",
    "国道边上那一段路灯坏了半个月，夜里行人看不清路",
    "新修的公路只装了路灯杆，一直没通电",
    "十字路口的路灯和指示牌被货车撞倒了，没人来修",
    "环城路的路灯时亮时不亮，请尽快检修线路",
    "镇上通往高速入口的路灯全部熄灭了",
    "大桥上的路灯坏了好几盏，晚上桥面一片漆黑",
    "县道上的路灯电缆被人偷了，整条路没有照明",
]


def test_train_with_tickets_moves_predictions_toward_the_deployment(tmp_path: Path) -> None:
    from bot.resources import Resources
    from core.settings import load_settings
    from jobs.operations import train_models
    from knowledge.store import KnowledgeStore
    from nlu.intents import load_classifier
    from tests.utils.factories import FakeEncoder

    settings = load_settings(data_dir=tmp_path / "data")
    kb = KnowledgeStore(tmp_path / "kb.sqlite")
    resources = Resources(settings, kb)
    resources.__dict__["encoder"] = FakeEncoder()  # TF-IDF carries the lesson; no e5 needed
    message = "我们小区外面那条路的路灯坏了，晚上一片漆黑"

    def probability(label: str) -> float:
        model = load_classifier(settings.models_dir / "category")
        ranking = dict(model.predict(message, resources.embed_query(message)).ranking)
        return ranking[label]

    try:
        report = train_models(settings, resources)
        assert report.ticket_examples == 0
        before = probability("交通运输")
        lines = [
            json.dumps({"content": t, "category": "交通运输"}, ensure_ascii=False)
            for t in STREET_LIGHT_TICKETS
        ]
        tickets = write(tmp_path / "tickets.jsonl", "\n".join(lines) + "\n")
        report = train_models(settings, resources, tickets=tickets)
        assert report.ticket_examples == len(STREET_LIGHT_TICKETS)
        after = probability("交通运输")
    finally:
        kb.close()
    assert after > before + 0.2
    model = load_classifier(settings.models_dir / "category")
    assert model.predict(message, resources.embed_query(message)).label == "交通运输"
