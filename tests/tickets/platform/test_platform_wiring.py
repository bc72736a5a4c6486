"""The platform link as shipped: `govbot tickets push` / `platform-consent` from the command line,
and the callback route inside the real app (served on loopback, without the engine warm-up)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
import yaml
from typer.testing import CliRunner

from core.settings import DEFAULT_CONFIG, load_settings
from core.vocab import ACCEPTED
from jobs.platform import PlatformLink, push_forever
from server.app import create_app
from tests.tickets.helpers import SUPERVISOR
from tests.tickets.platform.helpers import SECRET, outbox, post_callback
from tests.utils.factories import ticket_data
from tests.utils.fake_platform import FakePlatform, LoopbackServer
from tickets.service import TicketDesk

MakeLink = Callable[[], tuple[TicketDesk, PlatformLink]]


def _config(tmp_path: Path, base_url: str) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["hotline_platform"].update(enabled=True, base_url=base_url, timeout_seconds=5)
    raw["hotline_platform"]["retry"]["backoff_base_seconds"] = 0.001  # due again by the next command
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_cli_push_delivers_once_the_platform_is_up(
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakePlatform,
    server: LoopbackServer,
) -> None:
    from cli.main import app

    monkeypatch.setenv("GOVBOT_PLATFORM_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", db_url if db_url.startswith("postgresql") else "")
    base = ["--data-dir", str(tmp_path / "data"), "--config", str(_config(tmp_path, server.url)), "tickets"]
    runner = CliRunner()
    created = runner.invoke(
        app,
        [*base, "create", "--title", "井盖松动", "--content", "人民路口井盖松动", "--phone", "13800138000"],
    )
    assert created.exit_code == 0, created.output
    ticket_no = json.loads(created.output)["ticket_no"]
    consent = runner.invoke(app, [*base, "platform-consent", ticket_no])
    assert consent.exit_code == 0, consent.output

    down = runner.invoke(app, [*base, "push"])
    assert down.exit_code == 0, down.output
    assert json.loads(down.output) == {"delivered": 0, "retrying": 1, "failed": 0, "pending": 1}

    server.start()
    up = runner.invoke(app, [*base, "push"])
    assert json.loads(up.output) == {"delivered": 1, "retrying": 0, "failed": 0, "pending": 0}
    assert fake.tickets[ticket_no]["phone"] == "13800138000" and len(fake.requests) == 1


def test_the_server_pusher_delivers_in_the_background(
    make_link: MakeLink, server: LoopbackServer, fake: FakePlatform
) -> None:
    desk, link = make_link()
    ticket = desk.create(ticket_data(), actor="agent-1")
    server.start()

    rounds: list[float] = []

    class Stop(Exception):
        pass

    async def pause(seconds: float) -> None:  # no waiting: stop once the pusher has delivered
        rounds.append(seconds)
        if fake.tickets or len(rounds) > 50:
            raise Stop

    async def serve_briefly() -> None:
        with pytest.raises(Stop):
            await push_forever(link, 5, pause=pause)

    anyio.run(serve_briefly)
    assert list(fake.tickets) == [ticket.ticket_no] and len(fake.requests) == 1
    assert outbox(desk)[0].delivered_at is not None and rounds[0] == 5


def test_the_app_serves_the_signed_callback(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    settings.secrets.database_url = ""
    settings.secrets.platform_secret = SECRET
    settings.hotline_platform.enabled = True
    app = create_app(settings)
    desk = app.state.desk
    desk.migrate()  # the lifespan would; it is off here so the engine is not warmed up
    ticket = desk.create(ticket_data(), actor="agent-1")
    server = LoopbackServer(app)
    server.start()
    try:
        body = {"event_id": "app-1", "ticket_no": ticket.ticket_no, "status": "accepted"}
        assert post_callback(server.url, desk.clock(), body, secret="forged").status_code == 401
        answer = post_callback(server.url, desk.clock(), body)
        assert answer.status_code == 200, answer.text
        missing = post_callback(
            server.url, desk.clock(), {**body, "event_id": "app-2", "ticket_no": "20990101-0009"}
        )
        assert missing.status_code == 404
        assert desk.show(ticket.ticket_no, viewer=SUPERVISOR).ticket.status == ACCEPTED
    finally:
        server.stop()
        desk.close()
