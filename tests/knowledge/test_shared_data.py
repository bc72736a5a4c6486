"""The real data in ../shared: the Guangdong catalog and the five seed documents (skipped when absent)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from knowledge.importers import ImportOptions, ImportResult, detect_format, import_path
from knowledge.models import PolicyChunk, ServiceGuide
from tests.utils.factories import as_chunks, as_guides
from tests.utils.shared import shared_path

SharedPath = Callable[..., Path]


@pytest.fixture(scope="module")
def catalog_path() -> Path:
    return shared_path("data", "guangdong_services.jsonl")


@pytest.fixture(scope="module")
def catalog_rows(catalog_path: Path) -> list[dict[str, Any]]:
    lines = catalog_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def catalog(catalog_path: Path) -> ImportResult:
    return import_path(catalog_path, "auto", ImportOptions())


@pytest.fixture(scope="module")
def guides(catalog: ImportResult) -> list[ServiceGuide]:
    return as_guides(catalog.items)


def test_gd_catalog_import(
    catalog_path: Path, catalog: ImportResult, guides: list[ServiceGuide], catalog_rows: list[dict[str, Any]]
) -> None:
    """1,965 distinct services from 2,262 rows: 297 same-name records merged as variants."""
    assert detect_format(catalog_path) == "gd-catalog"
    assert len(catalog_rows) == 2262
    assert catalog.errors == []
    assert len(guides) == 1965
    assert catalog.merged_duplicates == 297

    codes_by_name: dict[str, list[str]] = defaultdict(list)
    for row in catalog_rows:
        codes_by_name[row["matter_name"]].append(row["TASK_CODE"])
    assert {g.name for g in guides} == set(codes_by_name)
    for guide in guides:
        codes = codes_by_name[guide.name]
        assert guide.id == codes[0]  # the first record of a name gives the id
        assert guide.variant_ids == codes[1:]
        assert guide.source == "广东政务服务网事项目录"
    assert sum(len(g.variant_ids) for g in guides) == 297


def test_gd_catalog_fields_are_tidied(guides: list[ServiceGuide], catalog_rows: list[dict[str, Any]]) -> None:
    """`30(工作日)` reads 30个工作日; the 办理地点： prefix and 无 placeholders are gone."""
    first = catalog_rows[0]
    guide = next(g for g in guides if g.id == first["TASK_CODE"])
    assert guide.name == first["matter_name"]
    assert guide.department == first["DEPT_NAME"]
    assert guide.legal_time_limit == "30个工作日"
    assert guide.location and not guide.location.startswith("办理地点")
    for other in guides:
        for field in ("fees", "location", "department", "phone_enquiry", "online_url"):
            assert getattr(other, field) not in ("无", "", "None")


def test_seed_documents_import_as_chunks(shared: SharedPath) -> None:
    """Each of the five long policy documents becomes numbered, citable chunks."""
    folder = shared("seeds")
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert len(files) == 5
    result = import_path(folder, "auto", ImportOptions())
    assert result.errors == []
    by_source: dict[str, list[PolicyChunk]] = defaultdict(list)
    for chunk in as_chunks(result.items):
        by_source[chunk.source].append(chunk)
    assert sorted(by_source) == files
    for chunks in by_source.values():
        assert [c.chunk_no for c in chunks] == list(range(1, len(chunks) + 1))
        assert all(len(c.text) >= 20 for c in chunks)
        assert len({c.doc_title for c in chunks}) == 1
    ids = [c.id for c in result.items]
    assert len(set(ids)) == len(ids)
