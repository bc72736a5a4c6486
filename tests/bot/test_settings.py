"""Every key in config.yml is declared, with help text; the data directory's precedence."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_origin

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from connectors import Channel, load_channels
from core.settings import DEFAULT_CONFIG, Settings, describe, load_settings
from nlu.pipeline import REGISTRY
from tests.utils.factories import write

COMPONENT_LISTS = ("pipeline", "policies")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _undocumented(data: dict[str, Any], model: type[BaseModel], where: str) -> list[str]:
    """Keys of `data` that `model` does not declare, or declares without a description."""
    problems = []
    for key, value in data.items():
        path = f"{where}{key}"
        field = model.model_fields.get(key)
        if field is None:
            problems.append(f"{path}: not declared in bot/settings.py")
            continue
        if not field.description:
            problems.append(f"{path}: declared without a description")
        if key in COMPONENT_LISTS and model is Settings:
            continue
        if key == "channels" and model is Settings and isinstance(value, dict):
            problems += _undocumented_channels(value)
            continue
        sub = _model_of(field.annotation)
        if isinstance(value, dict) and get_origin(field.annotation) is dict:
            continue  # a free-form mapping (routing table, channel sections): keys are data
        if isinstance(value, dict):
            if get_origin(field.annotation) is dict:
                continue  # a free-form map (routing table, status map): its keys are data, not settings
            if sub is None:
                problems.append(f"{path}: a section in config.yml but not a model")
            else:
                problems += _undocumented(value, sub, f"{path}.")
    return problems


def _undocumented_channels(sections: dict[str, Any]) -> list[str]:
    """Each `channels.<name>` names a registered channel; its keys are declared by its config_model."""
    load_channels({})  # registers the built-in channels
    problems = []
    for name, section in sections.items():
        channel = Channel.registry.get(name)
        if channel is None:
            problems.append(f"channels.{name}: no channel of that name in connectors/")
        else:
            problems += _undocumented(section or {}, channel.config_model, f"channels.{name}.")
    return problems


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def test_every_config_key_is_declared_with_help(config: dict[str, Any]) -> None:
    assert _undocumented(config, Settings, "") == []


def test_walk_finds_undeclared_keys() -> None:
    """The checker itself catches a stray key and a nested one."""
    bad = {
        "language": "zh",
        "typo_key": 1,
        "index": {"weights": {"dense": 1, "sparse": 2}},
        "channels": {"web": {}, "rest": {"send_card": True}, "fax": {}},
    }
    assert _undocumented(bad, Settings, "") == [
        "typo_key: not declared in bot/settings.py",
        "index.weights.sparse: not declared in bot/settings.py",
        "channels.rest.send_card: not declared in bot/settings.py",
        "channels.fax: no channel of that name in connectors/",
    ]


def test_pipeline_components_are_registered_with_declared_options(config: dict[str, Any]) -> None:
    """Each pipeline entry names a registered component; its options are ones it declares."""
    assert config["pipeline"], "config.yml has no pipeline"
    for entry in config["pipeline"]:
        assert entry["name"] in REGISTRY, entry["name"]
        declared = REGISTRY[entry["name"]].default_config()
        extra = set(entry) - {"name"} - set(declared)
        assert not extra, f"{entry['name']}: undeclared options {sorted(extra)}"


def test_policies_have_names(config: dict[str, Any]) -> None:
    assert all(entry.get("name") for entry in config["policies"])
    assert "DecisionPolicy" in [entry["name"] for entry in config["policies"]]


def test_config_file_loads(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.data_dir == tmp_path
    assert settings.kb_path == tmp_path / "kb.sqlite"
    assert settings.index_dir == tmp_path / "index"
    assert settings.models_dir == tmp_path / "models"
    assert settings.resolve(settings.knowledge.sample_dir).is_dir()
    assert settings.pipeline[0].name == "Normalizer"
    assert isinstance(settings.policy("DecisionPolicy"), dict)
    assert settings.policy("NoSuchPolicy") == {}
    assert describe(settings)["pipeline"][0]["name"] == "Normalizer"


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--data-dir beats GOVBOT_DATA_DIR, which beats the file."""
    monkeypatch.setenv("GOVBOT_DATA_DIR", str(tmp_path / "from-env"))
    assert load_settings().data_dir == tmp_path / "from-env"
    assert load_settings(data_dir=tmp_path / "from-flag").data_dir == tmp_path / "from-flag"
    monkeypatch.delenv("GOVBOT_DATA_DIR")
    config = write(tmp_path / "c.yml", "data_dir: /srv/govbot\n")
    assert load_settings(config).data_dir == Path("/srv/govbot")


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="typo"):
        load_settings(write(tmp_path / "c.yml", "index:\n  typo: 1\n"))


def test_non_mapping_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mapping"):
        load_settings(write(tmp_path / "c.yml", "- a\n- b\n"))
