"""The bundled YAML format and Markdown guides: good records kept, bad ones reported by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.importers import ImportFormatError, ImportOptions, import_path
from knowledge.models import FAQ, PolicyChunk, ServiceGuide
from tests.utils.factories import write

GOOD_YAML = """\
sample: true
guides:
  - id: g-one
    name: 测试事项一
    department: 示例市测试局
    materials: [身份证, 申请表]
    fees: 不收费
  - id: g-two
    name: 测试事项二
    location: 示例市政务服务中心
faqs:
  - id: f-one
    question: 测试事项怎么办？
    alt_questions: [测试事项咋办]
    answer: 按指南办理。
"""

ONE_BAD_YAML = """\
guides:
  - id: g-ok-1
    name: 正常事项一
  - id: g-bad
    department: 缺少名称的事项
    materials: [身份证]
  - id: g-ok-2
    name: 正常事项二
"""


def _import(path: Path, fmt: str = "auto", **options: object) -> tuple[list, list]:
    result = import_path(path, fmt, ImportOptions(**options))  # type: ignore[arg-type]
    return result.items, result.errors


def test_good_yaml(tmp_path: Path) -> None:
    items, errors = _import(write(tmp_path / "good.yml", GOOD_YAML))
    assert errors == []
    assert [i.id for i in items] == ["g-one", "g-two", "f-one"]
    guide, _, faq = items
    assert isinstance(guide, ServiceGuide) and isinstance(faq, FAQ)
    assert guide.materials == ["身份证", "申请表"]
    assert guide.sample is True  # file-level flag applies to every record
    assert guide.source == "good.yml"
    assert items[1].fees is None  # absent stays absent


def test_yaml_with_one_bad_record(tmp_path: Path) -> None:
    """The bad record is reported with its start line and the field at fault; others are kept."""
    items, errors = _import(write(tmp_path / "one_bad.yml", ONE_BAD_YAML))
    assert [i.id for i in items] == ["g-ok-1", "g-ok-2"]
    assert len(errors) == 1
    error = errors[0]
    assert error.line == 4  # "- id: g-bad" is on line 4
    assert "name" in error.reason
    assert error.file.endswith("one_bad.yml")
    assert str(error).startswith(f"{error.file}:4:")


def test_yaml_placeholder_values_are_missing(tmp_path: Path) -> None:
    """Catalog placeholders such as 无 and empty lists never become field values."""
    text = "guides:\n  - id: g\n    name: 事项\n    fees: 无\n    materials: []\n    location: ' - '\n"
    items, errors = _import(write(tmp_path / "ph.yml", text))
    assert errors == []
    assert items[0].fees is None and items[0].materials is None and items[0].location is None


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    text = "guides:\n  - id: a\n    name: 事项\n  - id: [unclosed\n    name: x\n"
    items, errors = _import(write(tmp_path / "broken.yml", text))
    assert items == []
    assert len(errors) == 1
    assert "invalid YAML" in errors[0].reason
    assert errors[0].line >= 4


@pytest.mark.parametrize("content", ["- a\n- b\n", "just text\n", "other: 1\n"])
def test_non_mapping_yaml_is_a_format_error(tmp_path: Path, content: str) -> None:
    with pytest.raises(ImportFormatError, match="guides"):
        _import(write(tmp_path / "list.yml", content))


def test_section_that_is_not_a_list(tmp_path: Path) -> None:
    items, errors = _import(write(tmp_path / "s.yml", "guides: 不是列表\n"))
    assert items == []
    assert "'guides' must be a list" in errors[0].reason


def test_record_that_is_not_a_mapping(tmp_path: Path) -> None:
    items, errors = _import(write(tmp_path / "r.yml", "guides:\n  - 一个字符串\n  - id: ok\n    name: 好\n"))
    assert [i.id for i in items] == ["ok"]
    assert errors[0].line == 2 and "not a mapping" in errors[0].reason


GUIDE_MD = """\
---
id: md-guide
name: 测试证明开具
department: 示例市测试局
fees: 免费
---
# 测试证明开具

## 申请条件
本市居民。

## 申请材料
- 居民身份证原件
* 户口簿
1. 申请表（现场填写）

## 办理流程
1、网上预约
2、窗口提交

## 不认识的标题
这段不会成为字段。

## 办理地点
示例市政务服务中心二楼
"""


def test_markdown_guide_with_front_matter(tmp_path: Path) -> None:
    items, errors = _import(write(tmp_path / "guide.md", GUIDE_MD))
    assert errors == []
    (guide,) = items
    assert isinstance(guide, ServiceGuide)
    assert guide.id == "md-guide" and guide.name == "测试证明开具"
    assert guide.materials == ["居民身份证原件", "户口簿", "申请表（现场填写）"]
    assert guide.steps == ["网上预约", "窗口提交"]
    assert guide.conditions == "本市居民。"
    assert guide.location == "示例市政务服务中心二楼"
    assert guide.fees == "免费"
    assert "不会成为字段" not in str(guide.model_dump())


def test_markdown_guide_id_defaults_to_file_stem(tmp_path: Path) -> None:
    items, _ = _import(write(tmp_path / "my-guide.md", "---\nname: 某事项\n---\n## 办理地点\n大厅\n"))
    assert items[0].id == "my-guide"


def test_markdown_guide_with_invalid_front_matter_value(tmp_path: Path) -> None:
    items, errors = _import(write(tmp_path / "bad.md", "---\nname: ''\n---\n## 办理地点\n大厅\n"))
    assert items == []
    assert errors[0].line == 1 and "name" in errors[0].reason


def test_markdown_without_front_matter_is_a_policy_text(tmp_path: Path) -> None:
    body = "# 示例市政务服务管理办法\n\n" + "\n\n".join(
        f"第{n}条 政务服务事项应当公开办理条件、申请材料和办理时限，方便群众查询和办理。" * 3
        for n in range(1, 6)
    )
    items, errors = _import(write(tmp_path / "policy.md", body), chunk_chars=200, chunk_overlap=20)
    assert errors == []
    assert len(items) >= 2
    assert all(isinstance(i, PolicyChunk) for i in items)
    assert items[0].doc_title == "示例市政务服务管理办法"
    assert [i.chunk_no for i in items] == list(range(1, len(items) + 1))
