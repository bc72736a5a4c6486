"""The `channels: wechat:` section and its secrets: declared, validated, read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.messages import BotReply, UserMessage
from connectors import load_channels
from connectors.base import ChannelRuntime
from connectors.wechat.channel import WeChatChannel
from core.channel_settings import WeChatAppSecrets, WeChatSettings
from core.config_model import ConfigError
from core.settings import Secrets, describe, load_settings, wechat_secrets
from tests.utils.factories import write
from tests.utils.wechat import AES_KEY


def test_secrets_come_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBOT_WECHAT_WXA1B2_TOKEN", "tok")
    monkeypatch.setenv("GOVBOT_WECHAT_WXA1B2_AES_KEY", AES_KEY)
    monkeypatch.setenv("GOVBOT_WECHAT_WXA1B2_SECRET", "sec")
    monkeypatch.setenv("GOVBOT_WECHAT_wxmini_TOKEN", "tok2")
    found = Secrets.from_env().wechat
    assert found["WXA1B2"] == WeChatAppSecrets(token="tok", aes_key=AES_KEY, app_secret="sec")
    assert found["WXMINI"].token == "tok2"
    assert wechat_secrets({"GOVBOT_WECHAT__TOKEN": "x", "OTHER_TOKEN": "y"}) == {}


def test_a_malformed_aes_key_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="43 characters"):
        wechat_secrets({"GOVBOT_WECHAT_WXA_AES_KEY": "too-short"})


def test_secrets_are_redacted_in_describe(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    settings.secrets.wechat = {"WXA": WeChatAppSecrets(token="very-secret-token")}
    assert "very-secret-token" not in str(describe(settings))


@pytest.mark.parametrize(
    ("yaml_text", "error"),
    [
        ("channels:\n  wechat:\n    apps: [{app_id: wxa}, {app_id: WXA}]\n", "once"),
        ("channels:\n  wechat:\n    apps: [{app_id: wxa, kind: bot}]\n", "kind"),
        ("channels:\n  wechat:\n    apps: [{app_id: 'wx/../x'}]\n", "app_id"),
        ("channels:\n  wechat:\n    reply_budget_seconds: 6\n", "reply_budget_seconds"),
        ("channels:\n  wechat:\n    typo: 1\n", "typo"),
    ],
)
def test_bad_sections_are_refused(tmp_path: Path, yaml_text: str, error: str) -> None:
    """Refused when config.yml is loaded, not when the channel starts."""
    with pytest.raises(ConfigError, match=rf"channels\.wechat\..*{error}"):
        load_settings(write(tmp_path / "c.yml", yaml_text))


def test_section_from_config_file(tmp_path: Path) -> None:
    text = (
        "channels:\n  wechat:\n    apps: [{app_id: wxa, kind: mini_program}]\n    more_link: https://x.cn\n"
    )
    wechat = WeChatSettings.model_validate(load_settings(write(tmp_path / "c.yml", text)).channels["wechat"])
    assert wechat.apps[0].kind == "mini_program"
    assert wechat.apps[0].encoding == "safe"
    assert wechat.more_link == "https://x.cn"


@pytest.mark.parametrize(
    ("app", "secrets", "missing"),
    [
        ({"app_id": "wxa", "encoding": "plain"}, {}, "GOVBOT_WECHAT_WXA_TOKEN"),
        ({"app_id": "wxa", "encoding": "safe"}, {"token": "t"}, "GOVBOT_WECHAT_WXA_AES_KEY"),
        ({"app_id": "wxa", "kind": "mini_program", "encoding": "plain"}, {"token": "t"}, "WXA_SECRET"),
        ({"app_id": "wxa", "encoding": "plain"}, {"token": "t"}, "GOVBOT_WECHAT_WXA_SECRET.*passive_only"),
    ],
)
def test_missing_secrets_fail_at_start_up(
    tmp_path: Path, app: dict[str, str], secrets: dict[str, str], missing: str
) -> None:
    runtime = ChannelRuntime(data_dir=tmp_path, secrets={"wechat": {"WXA": WeChatAppSecrets(**secrets)}})
    with pytest.raises(ValueError, match=missing):
        WeChatChannel.from_config({"apps": [app]}, runtime)


def test_an_official_account_may_run_passive_only_when_it_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = ChannelRuntime(data_dir=tmp_path, secrets={"wechat": {"WXA": WeChatAppSecrets(token="t")}})
    app = {"app_id": "wxa", "encoding": "plain", "passive_only": True}
    with caplog.at_level("WARNING"):
        WeChatChannel.from_config({"apps": [app]}, runtime)
    assert any("passive_only" in r.getMessage() and "wxa" in r.getMessage() for r in caplog.records)


def test_no_apps_means_no_routes_and_no_files(tmp_path: Path) -> None:
    channels = load_channels({"wechat": {}}, enabled=["wechat"], runtime=ChannelRuntime(data_dir=tmp_path))
    [channel] = channels
    assert isinstance(channel, WeChatChannel)
    assert channel.router(_never).routes == []
    assert list(tmp_path.iterdir()) == []


async def _never(message: UserMessage) -> BotReply:
    raise AssertionError("not called")
