"""The bundled YAML format: a file with `guides:` and/or `faqs:` lists.

Line numbers come from the YAML node tree, so an error names the line where the
bad record starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.yamlio import load_yaml
from knowledge.importers.base import (
    ImportFormatError,
    ImportResult,
    RecordError,
    explain_validation,
)
from knowledge.importers.options import ImportOptions
from knowledge.models import FAQ, ServiceGuide

_SECTIONS: dict[str, type[ServiceGuide] | type[FAQ]] = {"guides": ServiceGuide, "faqs": FAQ}


def _record_lines(text: str) -> dict[str, list[int]]:
    """1-based start line of each record in each known section."""
    root = yaml.compose(text)
    lines: dict[str, list[int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        if key_node.value in _SECTIONS and isinstance(value_node, yaml.SequenceNode):
            lines[key_node.value] = [n.start_mark.line + 1 for n in value_node.value]
    return lines


def import_yaml(path: Path, options: ImportOptions) -> ImportResult:
    text = path.read_text(encoding="utf-8")
    try:
        data = load_yaml(text)
        lines = _record_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        return ImportResult(errors=[RecordError(str(path), line, f"invalid YAML: {exc}")])
    if not isinstance(data, dict) or not any(k in data for k in _SECTIONS):
        raise ImportFormatError(f"{path}: expected a mapping with 'guides:' or 'faqs:' lists")
    sample = bool(data.get("sample", options.sample))
    result = ImportResult()
    for section, model in _SECTIONS.items():
        records = data.get(section) or []
        if not isinstance(records, list):
            result.errors.append(RecordError(str(path), 1, f"'{section}' must be a list"))
            continue
        section_lines = lines.get(section, [])
        for pos, record in enumerate(records):
            line = section_lines[pos] if pos < len(section_lines) else 0
            result.extend(_validate(model, record, path, line, sample))
    return result


def _validate(
    model: type[ServiceGuide] | type[FAQ], record: Any, path: Path, line: int, sample: bool
) -> ImportResult:
    if not isinstance(record, dict):
        return ImportResult(errors=[RecordError(str(path), line, "record is not a mapping")])
    record = {**record, "sample": record.get("sample", sample)}
    record.setdefault("source", path.name)
    try:
        return ImportResult(items=[model.model_validate(record)])
    except ValidationError as exc:
        return ImportResult(errors=[RecordError(str(path), line, explain_validation(exc))])
