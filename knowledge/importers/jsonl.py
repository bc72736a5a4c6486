"""JSON Lines records, mapped onto our fields; the Guangdong catalog is one mapping.

A mapping says, for each of our fields, which key of the source record holds
it, so another province's catalog needs a mapping, not code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge.importers.base import ImportResult, RecordError, explain_validation
from knowledge.importers.options import ImportOptions
from knowledge.models import ServiceGuide, item_from_dict

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


def _map_record(record: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    if not mapping:
        return record
    mapped = {field: _tidy(field, record.get(key)) for field, key in mapping.items()}
    mapped.setdefault("kind", "guide")
    if mapped.get("parent") == mapped.get("name"):
        mapped["parent"] = None
    return {k: v for k, v in mapped.items() if v is not None}


def import_jsonl(
    path: Path,
    options: ImportOptions,
    *,
    mapping: dict[str, str] | None = None,
    merge_same_name: bool = False,
    source: str | None = None,
) -> ImportResult:
    """Read one record per line; bad lines are reported, good ones kept."""
    mapping = options.field_map if mapping is None else mapping
    result = ImportResult()
    by_name: dict[str, ServiceGuide] = {}
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
            record = _map_record(raw, mapping)
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
    return result


def import_gd_catalog(path: Path, options: ImportOptions) -> ImportResult:
    """The Guangdong catalog: records of one name are one item."""
    return import_jsonl(
        path, options, mapping=GD_CATALOG_MAP, merge_same_name=True, source="广东政务服务网事项目录"
    )
