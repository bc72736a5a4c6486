"""Calibration on the corpus itself: probes from items, thresholds that hold the error targets."""

from __future__ import annotations

import random
from pathlib import Path

from bot.calibration import (
    Observation,
    calibrate_levels,
    choose_levels,
    group_of,
    make_probes,
    observe,
    probes_for,
)
from bot.confidence import FEATURES, features
from bot.policy import Calibration
from bot.training import calibration_lines, calibration_summary, load_calibration, save_calibration
from knowledge.models import PolicyChunk, ServiceGuide
from tests.utils.factories import make_hit

GUIDE = ServiceGuide(id="g1", name="办理往来台湾通行证学习签注", body="赴台就读的学生申请。需要录取通知书。")
CHUNK = PolicyChunk(
    id="c1",
    source="law.md",
    doc_title="失业保险条例",
    chunk_no=3,
    text="第十条 失业人员应当在终止劳动关系之日起六十日内办理失业登记。逾期的，按实际登记日计算。",
)


def test_guide_probes_are_cut_down_names_and_body_sentences() -> None:
    probes = probes_for(GUIDE, random.Random(0))
    styles = {p.style for p in probes}
    assert {"name", "cut", "body"} <= styles
    assert all(p.item_id == "g1" and p.group == "item:g1" for p in probes)
    assert all(p.text != GUIDE.name for p in probes)  # never the title word for word
    cut = next(p.text for p in probes if p.style == "cut")
    core = "往来台湾通行证学习签注"
    assert core not in cut and any(core[i : i + 4] in cut for i in range(len(core) - 3))


def test_chunk_probes_are_clauses_without_their_article_number() -> None:
    probes = probes_for(CHUNK, random.Random(0))
    assert probes and all(p.style == "clause" and p.group == "doc:law.md" for p in probes)
    assert all("第十条" not in p.text and p.text[-8:] in CHUNK.text for p in probes)


def test_probes_are_the_same_for_the_same_corpus() -> None:
    items = [GUIDE, CHUNK]
    assert make_probes(items, 10) == make_probes(list(reversed(items)), 10)
    assert len({p.item_id for p in make_probes(items, 1)}) == 1


def test_leaving_out_removes_the_whole_document() -> None:
    """A chunk probe's unanswerable version ranks without any chunk of its document."""
    other = CHUNK.model_copy(update={"id": "c2", "chunk_no": 4})
    groups = {"c1": group_of(CHUNK), "c2": group_of(other), "x": "item:x"}
    hits = [make_hit("c2", 0.9, dense=0.95), make_hit("c1", 0.8, dense=0.9), make_hit("x", 0.3, dense=0.8)]
    probe = probes_for(CHUNK, random.Random(0))[0]
    rows = observe([probe], ["今天天气怎么样"], lambda text: hits, groups, offered=3)
    answerable, left_out, offtopic = rows
    assert answerable.answerable and answerable.right_first  # c2 is of the same document
    assert not left_out.answerable
    assert left_out.values == features([hits[2]])  # only x is left
    assert not offtopic.answerable


def _rows(n: int = 200) -> list[Observation]:
    """Synthetic probes: answerable ones score dense 0.9-1.0 (1 in 10 ranked wrong), left-out 0.8-0.9."""
    rng = random.Random(1)
    rows = []
    for i in range(n):
        dense = rng.uniform(0.9, 1.0)
        right = i % 10 != 0
        values = features([make_hit("a", 0.9, dense=dense if right else dense - 0.08)])
        rows.append(Observation(values, True, right, right, i % 2))
        rows.append(
            Observation(
                features([make_hit("b", 0.5, dense=rng.uniform(0.8, 0.9))]), False, False, False, i % 2
            )
        )
    return rows


def test_levels_hold_the_targets_on_held_out_probes() -> None:
    levels = calibrate_levels(_rows(), wrong_target=0.02, unanswerable_target=0.05, abstain_max=0.05)
    m = levels.measured
    assert m["answered_wrong"] <= 0.02 and m["unanswerable_answered"] <= 0.05
    assert m["answered_right"] > 0.5  # not by refusing everything
    assert 0 < levels.clarify_min <= levels.answer_min < 1
    assert levels.model.names == list(FEATURES)


def test_stricter_targets_raise_the_answer_threshold() -> None:
    scored = [(i / 100, Observation([], i >= 50, i >= 60, True, 0)) for i in range(100)]
    loose, _ = choose_levels(scored, wrong_target=0.5, unanswerable_target=0.5, abstain_max=0.0)
    strict, clarify = choose_levels(scored, wrong_target=0.0, unanswerable_target=0.0, abstain_max=0.0)
    assert loose < strict == 0.6
    assert clarify == 0.6  # abstain_max 0: every rightly ranked probe is at least offered


def test_fitted_calibration_round_trip_and_report(tmp_path: Path) -> None:
    levels = calibrate_levels(_rows(), wrong_target=0.02, unanswerable_target=0.05, abstain_max=0.05)
    calibration = Calibration(
        dense_min=0.88,
        model=levels.model,
        answer_min=levels.answer_min,
        clarify_min=levels.clarify_min,
        measured=levels.measured,
    )
    save_calibration(tmp_path, calibration)
    loaded = load_calibration(tmp_path)
    assert loaded == calibration
    summary = calibration_summary(calibration)
    assert summary["answer_min"] == levels.answer_min and "answered_wrong" in summary["measured"]
    text = "\n".join(calibration_lines(calibration))
    assert str(levels.answer_min) in text and "target ≤ 2%" in text
