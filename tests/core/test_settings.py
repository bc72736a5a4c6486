"""Every key in config.yml is declared once, with help text; an unknown key anywhere is refused at
load with its dotted path and the valid names; the data directory's precedence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from bot.policy import PolicyConfig
from cli.main import app
from connectors import Channel, load_channels
from core.channel_settings import CHANNEL_MODELS
from core.component_settings import (
    PIPELINE_COMPONENTS,
    POLICIES,
    DecisionPolicyOptions,
    NormalizerOptions,
)
from core.config_model import ConfigError, walk
from core.settings import DEFAULT_CONFIG, PROJECT_ROOT, Settings, describe, load_settings
from nlu.pipeline import REGISTRY
from tests.utils.factories import write


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def _load(tmp_path: Path, text: str) -> list[str]:
    """The problems load_settings reports for this config.yml text."""
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path / "c.yml", text), data_dir=tmp_path)
    return refused.value.problems


# ------------------------------------------------------------------ every key declared, with help


def test_every_config_key_is_declared_with_help(config: dict[str, Any]) -> None:
    keys = list(walk(config, Settings))
    assert [k.path for k in keys if k.field is None] == []
    assert [k.path for k in keys if k.field is not None and not k.field.description] == []
    paths = {k.path for k in keys}
    # the walk reaches component, policy and channel options, not only the sections
    assert {
        "pipeline[0].max_chars",
        "pipeline[6].name",
        "policies[0].clarify_margin",
        "policies[0].answer_min_score",
        "tickets.working_hours[1].end",
        "channels.rest.send_cards",
        "channels.wechat.outbox.retry.lease_seconds",
    } <= paths


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """`model` and every model its fields hold (sections, lists of sections, unions)."""
    found = {model}
    for field in model.model_fields.values():
        for arg in [field.annotation, *get_args(field.annotation)]:
            for inner in [arg, *get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found |= _models(inner)
    return found


def test_every_declared_option_has_help() -> None:
    """Declared but not in config.yml counts too: `govbot config` and the docs show them all."""
    roots = [Settings, *PIPELINE_COMPONENTS.values(), *POLICIES.values(), *CHANNEL_MODELS.values()]
    models = set().union(*(_models(root) for root in roots))
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert undocumented == []
    assert len(models) > 15  # the walk did reach the nested sections


def test_registries_match_the_declarations() -> None:
    """nlu/ and connectors/ register exactly the components and channels core declares."""
    assert list(REGISTRY) == list(PIPELINE_COMPONENTS)
    load_channels({})  # registers the built-in channels
    assert {name: cls.config_model for name, cls in Channel.registry.items()} == CHANNEL_MODELS
    assert PolicyConfig is POLICIES["DecisionPolicy"]


# ------------------------------------------------------------------ typos refused, with path and names


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (  # top level
            "languag: zh\n",
            "languag: unknown key; valid: language, data_dir, pipeline, policies, knowledge, index, bot,"
            " server, tickets, retention, runtime, handoff, hotline_platform, channels",
        ),
        (  # a section
            "bot:\n  min_source: 5\n",
            "bot.min_source: unknown key of 'bot'; valid: session_ttl_minutes, min_sources",
        ),
        (  # a nested section
            "index:\n  weights: {dense: 1, sparse: 2}\n",
            "index.weights.sparse: unknown key of 'index.weights'; valid: dense, lexical, fuzzy",
        ),
        (  # a list of sections
            "tickets:\n  working_hours: [{start: '09:00', ende: '12:00'}]\n",
            "tickets.working_hours[0].ende: unknown key of 'tickets.working_hours[0]'; valid: start, end",
        ),
        (  # a pipeline component's option
            "pipeline:\n  - name: JiebaTokenizer\n  - name: Normalizer\n    max_char: 100\n",
            "pipeline[1].max_char: unknown option of pipeline component 'Normalizer'; valid: max_chars",
        ),
        (  # an option of a component that has none
            "pipeline:\n  - name: FieldDetector\n    words: x\n",
            "pipeline[0].words: unknown option of pipeline component 'FieldDetector'; valid: (none)",
        ),
        (  # a policy's option
            "policies:\n  - name: DecisionPolicy\n    clarify_margn: 0.1\n",
            "policies[0].clarify_margn: unknown option of policy 'DecisionPolicy'; valid: answer_min_score,"
            " clarify_margin, clarify_max_options, unsure_options, smalltalk_max_chars,"
            " strong_match_dense_margin, strong_match_min_score, complaint_clear_confidence,"
            " complaint_words, own_ticket_words, answer_min_lexical, answer_min_fuzzy, dense_rival_window,"
            " confidence,"
            " calibration_items, wrong_answer_target, unanswerable_answer_target, abstain_max",
        ),
        (  # an unknown policy
            "policies:\n  - name: answer_threshold\n",
            "policies[0].name: unknown policy 'answer_threshold'; valid: DecisionPolicy",
        ),
        (  # an unknown pipeline component
            "pipeline:\n  - name: Normalizer\n  - name: SpacyTokenizer\n",
            "pipeline[1].name: unknown pipeline component 'SpacyTokenizer'; valid: Normalizer,"
            " JiebaTokenizer, SynonymMapper, RuleEntityExtractor, FieldDetector, IntentClassifier,"
            " CategoryClassifier",
        ),
        (  # an entry without a name
            "policies:\n  - clarify_margin: 0.1\n",
            "policies[0].name: missing; valid: DecisionPolicy",
        ),
        (  # a channel's option
            "channels:\n  rest:\n    send_card: true\n",
            "channels.rest.send_card: unknown option of channel 'rest'; valid: enabled, send_cards",
        ),
        (  # a nested section of a channel
            "channels:\n  wechat:\n    outbox: {poll: 1}\n",
            "channels.wechat.outbox.poll: unknown key of 'channels.wechat.outbox';"
            " valid: poll_seconds, retry",
        ),
        (  # an unknown channel
            "channels:\n  fax: {}\n",
            "channels.fax: unknown channel; valid: web, rest, wechat, callback",
        ),
        (  # secrets come from the environment only
            "secrets:\n  redis_url: redis://x\n",
            "secrets: unknown key; valid: language, data_dir, pipeline, policies, knowledge, index, bot,"
            " server, tickets, retention, runtime, handoff, hotline_platform, channels",
        ),
    ],
)
def test_unknown_keys_are_refused_with_path_and_valid_names(tmp_path: Path, text: str, problem: str) -> None:
    assert _load(tmp_path, text) == [problem]


def test_every_typo_is_reported_at_once(tmp_path: Path) -> None:
    text = "languag: zh\npipeline:\n  - name: Normalizer\n    max_char: 1\nchannels:\n  web: {enable: true}\n"
    assert [line.split(":")[0] for line in _load(tmp_path, text)] == [
        "languag",
        "pipeline[0].max_char",
        "channels.web.enable",
    ]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("index:\n  top_k: many\n", "index.top_k"),
        ("pipeline:\n  - name: Normalizer\n    max_chars: long\n", "pipeline[0].max_chars"),
        ("policies:\n- name: DecisionPolicy\n  answer_min_score: guessed\n", "policies[0].answer_min_score"),
        ("policies:\n- name: DecisionPolicy\n  clarify_max_options: 1\n", "policies[0].clarify_max_options"),
        ("channels:\n  wechat:\n    reply_budget_seconds: 6\n", "channels.wechat.reply_budget_seconds"),
        ("channels:\n  wechat:\n    apps: [{app_id: 'wx/../x'}]\n", "channels.wechat.apps[0].app_id"),
    ],
)
def test_wrong_values_are_refused_with_path(tmp_path: Path, text: str, path: str) -> None:
    [problem] = _load(tmp_path, text)
    assert problem.startswith(f"{path}: ")


def test_non_mapping_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mapping"):
        load_settings(write(tmp_path / "c.yml", "- a\n- b\n"))


# ------------------------------------------------------------------ what the packages receive


def test_config_file_loads(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.data_dir == tmp_path
    assert settings.kb_path == tmp_path / "kb.sqlite"
    assert settings.index_dir == tmp_path / "index"
    assert settings.models_dir == tmp_path / "models"
    assert settings.resolve(settings.knowledge.sample_dir).is_dir()
    assert isinstance(settings.pipeline[0], NormalizerOptions)
    assert settings.policy(DecisionPolicyOptions).answer_min_score == "calibrated"
    assert describe(settings)["pipeline"][0]["name"] == "Normalizer"


def test_options_are_typed_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    text = (
        "pipeline:\n  - name: Normalizer\n    max_chars: '300'\n"
        "policies:\n  - name: DecisionPolicy\n    answer_min_score: 0.9\n    clarify_margin: 0.1\n"
    )
    settings = load_settings(write(tmp_path / "c.yml", text), data_dir=tmp_path)
    assert settings.pipeline == [NormalizerOptions(max_chars=300)]
    policy = settings.policy(PolicyConfig)
    assert (policy.answer_min_score, policy.clarify_margin, policy.clarify_max_options) == (0.9, 0.1, 5)


def test_an_unlisted_policy_gets_its_declared_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "c.yml", "policies: []\n"), data_dir=tmp_path)
    assert settings.policy(PolicyConfig) == PolicyConfig()
    assert PolicyConfig().clarify_margin == DecisionPolicyOptions.model_fields["clarify_margin"].default


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--data-dir beats GOVBOT_DATA_DIR, which beats the file."""
    monkeypatch.setenv("GOVBOT_DATA_DIR", str(tmp_path / "from-env"))
    assert load_settings().data_dir == tmp_path / "from-env"
    assert load_settings(data_dir=tmp_path / "from-flag").data_dir == tmp_path / "from-flag"
    monkeypatch.delenv("GOVBOT_DATA_DIR")
    config = write(tmp_path / "c.yml", "data_dir: /srv/govbot\n")
    assert load_settings(config).data_dir == Path("/srv/govbot")


def test_settings_import_without_a_web_framework_or_database() -> None:
    """The Rasa action server (its own venv: no SQLAlchemy) and the jobs load settings alone."""
    heavy = "{'fastapi', 'starlette', 'httpx', 'uvicorn', 'sqlalchemy'}"
    probe = f"import sys, core.settings\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


# ------------------------------------------------------------------ `govbot config`


def test_govbot_config_prints_options_and_refuses_typos(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["--data-dir", str(tmp_path), "config"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["pipeline"][0] == {"name": "Normalizer", "max_chars": 2000}
    assert data["policies"][0]["clarify_margin"] == 0.04
    bad = write(tmp_path / "c.yml", "policies:\n  - name: DecisionPolicy\n    clarify_margn: 0.1\n")
    refused = runner.invoke(app, ["--config", str(bad), "config"], env={"COLUMNS": "300"})
    assert refused.exit_code == 1
    assert "policies[0].clarify_margn: unknown option of policy 'DecisionPolicy'" in refused.output
