"""Policy documents become citable chunks; JSONL is mapped onto our fields; format detection."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from knowledge.importers import (
    ImportFormatError,
    ImportOptions,
    detect_format,
    import_path,
)
from knowledge.models import PolicyChunk
from tests.utils.factories import as_chunks, as_guides, write

PARAGRAPHS = [
    "第一条 为规范政务服务热线工作，提升群众办事体验，制定本办法。",
    "第二条 12345热线受理群众的咨询、投诉、举报、求助和建议，紧急事项应在2小时内反馈。",
    "第三条 承办单位应当按时办理交办的工单，办结后及时回复群众并接受回访评价。",
    "第四条 热线工作机构应当每日分析工单数据，发现群众反映集中的问题并向有关部门通报。",
]
TITLE = "示例市政务服务便民热线管理办法"


def _check_chunks(items: Sequence[object], source: str) -> list[PolicyChunk]:
    """Numbered, uniquely identified chunks of one source; returns them typed."""
    chunks = as_chunks(items)
    assert chunks, "no chunks"
    assert [c.chunk_no for c in chunks] == list(range(1, len(chunks) + 1))
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    assert all(c.id.startswith("doc-") and c.id.endswith(f"-{c.chunk_no:04d}") for c in chunks)
    assert {c.source for c in chunks} == {source}
    assert "12345热线" in "".join(c.text for c in chunks)
    return chunks


def _options() -> ImportOptions:
    return ImportOptions(chunk_chars=80, chunk_overlap=10)


def test_txt_document(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.txt", TITLE + "\n\n" + "\n\n".join(PARAGRAPHS))
    result = import_path(path, "auto", _options())
    assert result.errors == []
    chunks = _check_chunks(result.items, "rules.txt")
    assert chunks[0].doc_title == TITLE
    assert len(chunks) >= 3


def test_gb18030_txt_document(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes((TITLE + "\n\n" + "\n\n".join(PARAGRAPHS)).encode("gb18030"))
    result = import_path(path, "txt", _options())
    _check_chunks(result.items, "legacy.txt")


def test_html_document_drops_scripts_and_navigation(tmp_path: Path) -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    html = (
        f"<html><head><title>x</title><style>p {{color: red}}</style></head><body>"
        f"<nav>首页 导航栏目</nav><h1>{TITLE}</h1>{body}"
        "<script>var tracking = 'SECRET_SCRIPT';</script><footer>版权所有 页脚</footer></body></html>"
    )
    result = import_path(write(tmp_path / "page.html", html), "auto", _options())
    chunks = _check_chunks(result.items, "page.html")
    joined = "".join(c.text for c in chunks)
    assert "SECRET_SCRIPT" not in joined and "页脚" not in joined and "导航栏目" not in joined


def test_empty_document_is_reported(tmp_path: Path) -> None:
    result = import_path(write(tmp_path / "empty.txt", "  \n\n "), "auto", _options())
    assert result.items == []
    assert "no text" in result.errors[0].reason


def test_docx_document(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading(TITLE, level=1)
    for paragraph in PARAGRAPHS:
        document.add_paragraph(paragraph)
    path = tmp_path / "rules.docx"
    document.save(str(path))
    result = import_path(path, "auto", _options())
    assert result.errors == []
    chunks = _check_chunks(result.items, "rules.docx")
    assert chunks[0].doc_title == TITLE


def _write_pdf(path: Path, lines: list[str]) -> None:
    """A one-page PDF with Helvetica text, built with pypdf alone."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    stream = DecodedStreamObject()
    shown = " ".join(f"({line}) Tj T*" for line in lines)
    stream.set_data(f"BT /F1 11 Tf 72 740 Td 14 TL {shown} ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    writer.write(str(path))


def test_pdf_document(tmp_path: Path) -> None:
    lines = [
        "Residence Permit Service Rules",
        "",
        "Applicants who have lived in the city for six months may apply for a residence permit.",
        "Bring your identity card, proof of address and a recent photograph to any service hall.",
        "",
        "The permit is issued within fifteen working days and is renewed every year online.",
    ]
    path = tmp_path / "rules.pdf"
    try:
        _write_pdf(path, lines)
    except Exception as exc:  # pypdf's writer API is the only PDF tool installed
        pytest.skip(f"cannot generate a PDF with pypdf here: {exc}")
    result = import_path(path, "auto", ImportOptions(chunk_chars=1000, chunk_overlap=10))
    assert result.errors == []
    chunks = as_chunks(result.items)
    assert chunks
    joined = " ".join(c.text for c in chunks)
    assert "residence permit" in joined and "fifteen working days" in joined
    assert chunks[0].doc_title == "Residence Permit Service Rules"


@pytest.mark.parametrize("suffix", ["docx", "pdf"])
def test_corrupted_binary_document(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"broken.{suffix}"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ImportFormatError, match=rf"broken\.{suffix}: cannot read as {suffix}"):
        import_path(path, "auto", ImportOptions())


JSONL_LINES = [
    json.dumps(
        {"code": "J-1", "title": "映射事项一", "dept": "示例市测试局", "extra": 1}, ensure_ascii=False
    ),
    "{not json",
    json.dumps({"code": "J-2", "title": "映射事项二", "dept": "示例市测试局"}, ensure_ascii=False),
    "",
    json.dumps(["a", "list"]),
    json.dumps({"code": "J-3", "dept": "缺少名称"}, ensure_ascii=False),
]


def test_jsonl_with_mapping_and_bad_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "items.jsonl", "\n".join(JSONL_LINES) + "\n")
    options = ImportOptions(field_map={"id": "code", "name": "title", "department": "dept"})
    result = import_path(path, "auto", options)
    assert [i.id for i in result.items] == ["J-1", "J-2"]
    guides = as_guides(result.items)
    assert guides[0].name == "映射事项一" and guides[0].department == "示例市测试局"
    by_line = {e.line: e.reason for e in result.errors}
    assert set(by_line) == {2, 5, 6}
    assert "invalid JSON" in by_line[2]
    assert "not a JSON object" in by_line[5]
    assert "name" in by_line[6]


def test_jsonl_without_mapping_takes_our_field_names(tmp_path: Path) -> None:
    line = json.dumps({"id": "q1", "kind": "faq", "question": "问？", "answer": "答。"}, ensure_ascii=False)
    result = import_path(write(tmp_path / "faqs.jsonl", line + "\n"), "jsonl", ImportOptions())
    assert result.errors == []
    assert result.items[0].kind == "faq"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.yml", "yaml"),
        ("a.YAML", "yaml"),
        ("a.md", "md"),
        ("a.markdown", "md"),
        ("a.jsonl", "jsonl"),
        ("a.txt", "txt"),
        ("a.htm", "html"),
        ("a.html", "html"),
        ("a.docx", "docx"),
        ("a.pdf", "pdf"),
    ],
)
def test_detect_format_by_suffix(tmp_path: Path, name: str, expected: str) -> None:
    assert detect_format(write(tmp_path / name, "{}\n")) == expected


def test_detect_format_recognises_the_gd_catalog(tmp_path: Path) -> None:
    record = {"TASK_CODE": "114400", "matter_name": "某事项"}
    path = write(tmp_path / "catalog.jsonl", json.dumps(record, ensure_ascii=False) + "\n")
    assert detect_format(path) == "gd-catalog"


def test_detect_format_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="--format"):
        detect_format(write(tmp_path / "data.csv", "a,b\n"))


def test_import_path_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no such file"):
        import_path(tmp_path / "nope.yml", "auto", ImportOptions())


def test_import_path_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="unknown format"):
        import_path(write(tmp_path / "a.yml", "guides: []\n"), "csv", ImportOptions())


def test_import_folder_collects_errors_per_file(tmp_path: Path) -> None:
    """A folder imports every known file; a whole-file failure becomes one error, others go on."""
    write(tmp_path / "kb" / "good.yml", "guides:\n  - id: a\n    name: 事项甲\n")
    write(tmp_path / "kb" / "sub" / "notes.txt", TITLE + "\n\n" + "\n\n".join(PARAGRAPHS))
    write(tmp_path / "kb" / "list.yml", "- not a mapping\n")
    write(tmp_path / "kb" / "ignored.csv", "a,b\n")
    write(tmp_path / "kb" / ".hidden.yml", "guides:\n  - id: h\n    name: 隐藏\n")
    result = import_path(tmp_path / "kb", "auto", _options())
    ids = [i.id for i in result.items]
    assert "a" in ids and "h" not in ids
    assert any(i.kind == "chunk" for i in result.items)
    assert len(result.errors) == 1 and result.errors[0].file.endswith("list.yml")
