"""JSON Lines records, mapped onto our fields; the Guangdong catalog is one mapping.

A mapping says, for each of our fields, which key of the source record holds
it, so another province's catalog needs a mapping, not code. The mapping adds
to the identity: keys that are already our field names are kept as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge.importers.base import ImportFormatError, ImportResult, RecordError, explain_validation
from knowledge.importers.options import ImportOptions
from knowledge.models import IMPORTABLE, ServiceGuide, importable_fields, item_from_dict

# ../shared/data/guangdong_services.jsonl (the Guangdong service catalog).
GD_CATALOG_MAP: dict[str, str] = {
    "id": "TASK_CODE",
    "name": "matter_name",
    "parent": "parentCatalogName",
    "department": "DEPT_NAME",
    "item_type": "TASK_TYPE_TEXT",
    "conditions": "accept_standard",
    "materials": "material_intro",
    "legal_time_limit": "handle_time",
    "promised_time_limit": "handle_time_limit",
    "location": "handle_location",
    "phone_enquiry": "consult_phone",
    "phone_complaint": "complain_phone",
    "online_url": "URL",
    "targets": "service_object_name",
    "themes": "theme_category",
    "region": "AREA_CODE_TEXT",
    "level": "matter_level",
}

_WORKDAYS = re.compile(r"^(\d+)\s*[(（]\s*工作日\s*[)）]$")
_LOCATION_PREFIX = re.compile(r"^办理地点[:：]\s*")


def _tidy(field: str, value: Any) -> Any:
    """Small catalog conventions made readable: `30(工作日)` -> `30个工作日`."""
    if isinstance(value, str):
        value = value.strip()
        if field.endswith("time_limit"):
            match = _WORKDAYS.match(value)
            if match:
                return f"{match.group(1)}个工作日"
        if field == "location":
            return _LOCATION_PREFIX.sub("", value)
    return value


def _fields_of(kind: object) -> dict[str, str]:
    """Our field names for a record kind, with their shape (text, list, other)."""
    kind = kind if isinstance(kind, str) and kind in IMPORTABLE else "guide"
    return {f.name: f.shape for f in importable_fields(kind)}


def _join_list(value: Any) -> Any:
    """A list given for a text field becomes one text, its entries separated by ；."""
    if isinstance(value, list):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return "；".join(parts) or None
    return value


def _map_record(
    record: dict[str, Any], mapping: dict[str, str], *, identity: bool
) -> tuple[dict[str, Any], list[str]]:
    """Our record from a source record, and the source keys that were dropped.

    With `identity`, keys that already are our field names are kept and the mapping
    adds to them; without it only mapped keys are read (a catalog adapter).
    """
    consumed = set(mapping.values())
    fields = _fields_of(record.get(mapping.get("kind", "kind")))
    mapped: dict[str, Any] = {}
    if identity:
        mapped = {k: v for k, v in record.items() if k in fields and k not in consumed}
    for field, key in mapping.items():
        if key in record:
            mapped[field] = record[key]
    dropped = [k for k in record if k not in consumed and not (identity and k in fields)]
    out: dict[str, Any] = {}
    for field, value in mapped.items():
        value = _tidy(field, value)
        if fields.get(field) == "text":
            value = _join_list(value)
        out[field] = value
    if out.get("parent") is not None and out.get("parent") == out.get("name"):
        out["parent"] = None
    return {k: v for k, v in out.items() if v is not None}, dropped


def import_jsonl(
    path: Path,
    options: ImportOptions,
    *,
    mapping: dict[str, str] | None = None,
    identity: bool = True,
    merge_same_name: bool = False,
    source: str | None = None,
) -> ImportResult:
    """Read one record per line; bad lines are reported, good ones kept.

    A mapped key that no record holds is a mistake in the mapping, not in the data:
    the whole file is refused (ImportFormatError) before anything is stored.
    """
    mapping = options.field_map if mapping is None else mapping
    result = ImportResult()
    by_name: dict[str, ServiceGuide] = {}
    seen_keys: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                result.errors.append(RecordError(str(path), line_no, f"invalid JSON: {exc.msg}"))
                continue
            if not isinstance(raw, dict):
                result.errors.append(RecordError(str(path), line_no, "line is not a JSON object"))
                continue
            seen_keys.update(raw)
            record, dropped = _map_record(raw, mapping, identity=identity)
            result.dropped.update(dropped)
            record.setdefault("source", source or path.name)
            record.setdefault("sample", options.sample)
            record.setdefault("kind", "guide")
            try:
                item = item_from_dict(record)
            except ValidationError as exc:
                result.errors.append(RecordError(str(path), line_no, explain_validation(exc)))
                continue
            if merge_same_name and isinstance(item, ServiceGuide):
                first = by_name.get(item.name)
                if first is not None:
                    first.variant_ids.append(item.id)
                    result.merged_duplicates += 1
                    continue
                by_name[item.name] = item
            result.items.append(item)
    missing = sorted({key for key in mapping.values() if key not in seen_keys})
    if missing and seen_keys:
        raise ImportFormatError(
            f"{path}: mapped key(s) {', '.join(missing)} appear in no record; "
            f"the records hold: {', '.join(sorted(seen_keys))}"
        )
    return result


def import_gd_catalog(path: Path, options: ImportOptions) -> ImportResult:
    """The Guangdong catalog: records of one name are one item."""
    return import_jsonl(
        path,
        options,
        mapping=GD_CATALOG_MAP,
        identity=False,
        merge_same_name=True,
        source="广东政务服务网事项目录",
    )
