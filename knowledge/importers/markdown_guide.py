"""A service guide written as Markdown: YAML front matter plus `## 申请材料`-style sections.

Section headings use the same Chinese labels that answers show, so an author
writes a guide the way a citizen reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from core.vocab import GUIDE_FIELD_LABELS
from core.yamlio import load_yaml
from knowledge.importers.base import ImportResult, RecordError, explain_validation
from knowledge.importers.documents import import_document, split_front_matter
from knowledge.importers.options import ImportOptions
from knowledge.models import ServiceGuide

_LABEL_TO_FIELD = {label: field for field, label in GUIDE_FIELD_LABELS.items()}
_LIST_FIELDS = {"materials", "steps", "targets"}
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.、)])\s*")


def _sections(body: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    current: str | None = None
    for line in body.splitlines():
        heading = re.match(r"^#{2,3}\s*(.+?)\s*$", line)
        if heading:
            current = _LABEL_TO_FIELD.get(heading.group(1))
            if current:
                sections[current] = ""
            continue
        if current:
            sections[current] += line + "\n"
    return sections


def import_markdown(path: Path, options: ImportOptions) -> ImportResult:
    text = path.read_text(encoding="utf-8")
    front, body = split_front_matter(text)
    meta = load_yaml(front) if front else None
    if not isinstance(meta, dict) or "name" not in meta:
        return import_document(path, "md", options)  # a policy text, not a guide
    record = dict(meta)
    for field, content in _sections(body).items():
        if field in _LIST_FIELDS:
            record[field] = [_LIST_ITEM.sub("", ln).strip() for ln in content.splitlines() if ln.strip()]
        else:
            record[field] = content.strip()
    record.setdefault("id", path.stem)
    record.setdefault("source", path.name)
    record.setdefault("sample", options.sample)
    try:
        return ImportResult(items=[ServiceGuide.model_validate(record)])
    except ValidationError as exc:
        return ImportResult(errors=[RecordError(str(path), 1, explain_validation(exc))])
