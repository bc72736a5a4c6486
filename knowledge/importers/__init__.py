"""Importers by format, and format detection for `govbot kb import --format auto`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from knowledge.importers.base import ImportFormatError, ImportResult, RecordError
from knowledge.importers.documents import import_document
from knowledge.importers.jsonl import import_gd_catalog, import_jsonl
from knowledge.importers.markdown_guide import import_markdown
from knowledge.importers.options import ImportOptions
from knowledge.importers.yaml_guides import import_yaml

FORMATS = ("auto", "yaml", "md", "jsonl", "gd-catalog", "txt", "html", "docx", "pdf")

_BY_FORMAT: dict[str, Callable[[Path, ImportOptions], ImportResult]] = {
    "yaml": import_yaml,
    "md": import_markdown,
    "jsonl": import_jsonl,
    "gd-catalog": import_gd_catalog,
    "txt": lambda p, o: import_document(p, "txt", o),
    "html": lambda p, o: import_document(p, "html", o),
    "docx": lambda p, o: import_document(p, "docx", o),
    "pdf": lambda p, o: import_document(p, "pdf", o),
}

_BY_SUFFIX = {
    ".yml": "yaml",
    ".yaml": "yaml",
    ".md": "md",
    ".markdown": "md",
    ".jsonl": "jsonl",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
}


def detect_format(path: Path) -> str:
    """Format from the suffix; a JSONL whose first record has TASK_CODE is the GD catalog."""
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise ImportFormatError(
            f"{path}: cannot tell the format from the name; pass --format ({', '.join(FORMATS[1:])})"
        )
    if fmt == "jsonl":
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
        try:
            record = json.loads(first)
        except json.JSONDecodeError:
            return fmt
        if isinstance(record, dict) and "TASK_CODE" in record and "matter_name" in record:
            return "gd-catalog"
    return fmt


def import_path(path: Path, fmt: str, options: ImportOptions) -> ImportResult:
    """Import a file, or every importable file below a folder."""
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        result = ImportResult()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() not in _BY_SUFFIX or child.name.startswith("."):
                continue
            try:
                result.extend(import_path(child, fmt, options))
            except ImportFormatError as exc:
                result.errors.append(RecordError(str(child), 0, str(exc)))
        return result
    chosen = detect_format(path) if fmt == "auto" else fmt
    if chosen not in _BY_FORMAT:
        raise ImportFormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    try:
        result = _BY_FORMAT[chosen](path, options)
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from exc
    result.reject_duplicate_ids(str(path))
    return result


__all__ = [
    "FORMATS",
    "ImportFormatError",
    "ImportOptions",
    "ImportResult",
    "RecordError",
    "detect_format",
    "import_path",
]
