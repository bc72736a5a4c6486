"""Catalogs of name + free text: the body field, additive --map, and honest import summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.importers import ImportFormatError, ImportOptions, import_path
from knowledge.models import FAQ, IMPORTABLE, importable_fields
from tests.utils.factories import as_guides, make_faq, make_guide, write

SUMMARY = "凡本省户籍居民因就业需要，可向户籍所在地派出所申请开具无犯罪记录证明，当场办结。"


def _jsonl(tmp_path: Path, records: list[dict[str, object]], name: str = "items.jsonl") -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    return write(tmp_path / name, "\n".join(lines) + "\n")


def test_every_importable_field_says_what_it_means() -> None:
    for kind in IMPORTABLE:
        fields = importable_fields(kind)
        assert [f.name for f in fields] == list(IMPORTABLE[kind].model_fields)
        undocumented = [f.name for f in fields if len(f.description) < 8]
        assert not undocumented, f"{kind}: fields without a description: {undocumented}"
    shapes = {f.name: f.shape for f in importable_fields("guide")}
    assert (shapes["body"], shapes["materials"], shapes["aliases"]) == ("text", "list", "list")


def test_body_is_searched_lexically_and_densely() -> None:
    guide = make_guide("g1", "无犯罪记录证明", body=SUMMARY, conditions="本省户籍")
    assert SUMMARY in guide.lexical_fields()["body"]
    assert "本省户籍" in guide.lexical_fields()["body"]  # conditions are searched too
    assert any(SUMMARY in view for view in guide.dense_views())
    plain = make_guide("g2", "无犯罪记录证明")
    assert len(plain.dense_views()) == 2  # no body: the vector stays as it was
    faq = make_faq("f1", body="补充说明：挂失后原卡停用")
    assert "挂失后原卡停用" in faq.lexical_fields()["body"]
    assert any("挂失后原卡停用" in view for view in faq.dense_views())


def test_map_adds_to_identity_and_keeps_our_field_names(tmp_path: Path) -> None:
    record = {"id": "X-1", "title": "无犯罪记录证明", "body": SUMMARY, "dept": "某公安局", "area": "某市"}
    path = _jsonl(tmp_path, [record])
    options = ImportOptions(field_map={"name": "title", "department": "dept"})
    result = import_path(path, "jsonl", options)
    assert result.errors == []
    guide = as_guides(result.items)[0]
    assert (guide.id, guide.name, guide.body, guide.department) == (
        "X-1",
        "无犯罪记录证明",
        SUMMARY,
        "某公安局",
    )
    assert result.dropped == {"area": 1}  # neither ours nor mapped: dropped, and said so
    kept = result.kept_fields()
    assert {"id", "name", "body", "department"} <= set(kept) and "area" not in kept


def test_mapped_key_missing_from_every_record_is_an_error(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [{"id": "X-1", "name": "甲"}, {"id": "X-2", "name": "乙"}])
    with pytest.raises(ImportFormatError, match="summary") as raised:
        import_path(path, "jsonl", ImportOptions(field_map={"body": "summary"}))
    assert "id, name" in str(raised.value)  # the keys the records do hold
    one_has_it = _jsonl(
        tmp_path, [{"id": "X-1", "name": "甲"}, {"id": "X-2", "name": "乙", "summary": "说明"}]
    )
    result = import_path(one_has_it, "jsonl", ImportOptions(field_map={"body": "summary"}))
    assert [g.body for g in as_guides(result.items)] == [None, "说明"]


def test_lists_join_into_text_fields(tmp_path: Path) -> None:
    record = {"id": "X-1", "name": "甲", "body": ["第一段", "", "第二段"], "materials": ["身份证"]}
    result = import_path(_jsonl(tmp_path, [record]), "jsonl", ImportOptions())
    guide = as_guides(result.items)[0]
    assert guide.body == "第一段；第二段"
    assert guide.materials == ["身份证"]  # list fields stay lists


def test_duplicate_ids_within_a_file_are_reported(tmp_path: Path) -> None:
    records = [{"id": "X-1", "name": "甲"}, {"id": "X-2", "name": "乙"}, {"id": "X-1", "name": "丙"}]
    result = import_path(_jsonl(tmp_path, records), "jsonl", ImportOptions())
    assert [g.name for g in as_guides(result.items)] == ["甲", "乙"]  # the first is kept
    assert len(result.errors) == 1 and "duplicate id 'X-1'" in result.errors[0].reason


def test_unknown_field_in_yaml_lists_the_valid_names(tmp_path: Path) -> None:
    path = write(tmp_path / "g.yml", "guides:\n  - id: g1\n    name: 甲\n    materails: [身份证]\n")
    result = import_path(path, "yaml", ImportOptions())
    assert result.items == []
    reason = result.errors[0].reason
    assert "materails: unknown field" in reason
    assert "materials" in reason and "body" in reason  # the valid names, where the error is read


def test_faq_records_get_faq_fields(tmp_path: Path) -> None:
    record = {"id": "q1", "kind": "faq", "q": "问？", "answer": "答。", "body": ["甲", "乙"]}
    result = import_path(_jsonl(tmp_path, [record]), "jsonl", ImportOptions(field_map={"question": "q"}))
    assert result.errors == []
    faq = result.items[0]
    assert isinstance(faq, FAQ)
    assert faq.title == "问？" and faq.body == "甲；乙"
