"""load_yaml (libyaml's parser where available) reads our files as PyYAML's own SafeLoader does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".venv-rasa", "node_modules", ".git", "var"}
FILES = sorted(
    p
    for pattern in ("*.yml", "*.yaml")
    for p in ROOT.rglob(pattern)
    if not SKIP & set(p.relative_to(ROOT).parts)
)


def test_the_repository_has_yaml_to_compare() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"config.yml", "nlu/data/nlu.yml"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_same_data_as_the_python_safe_loader(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['true']")
