"""The HTTP server: chat, suggest, kb items, health, metrics, auth, limits."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.server.conftest import ADMIN_TOKEN, AGENT_TOKEN, server_settings


def _sid() -> str:
    return uuid.uuid4().hex


def test_chat_returns_the_ask_json_object(client: TestClient) -> None:
    response = client.post(
        "/api/v1/chat", json={"session_id": _sid(), "text": "居住证怎么办理", "channel": "web"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["action"] in {"answer", "clarify"}
    assert len(body["sources"]) >= 5
    assert {"action", "intent", "reply", "sources", "options", "category", "entities", "latency_ms"} <= set(
        body
    )
    assert any("居住证" in s["title"] for s in body["sources"][:3])


def test_followup_in_the_same_session_refers_to_the_same_item(client: TestClient) -> None:
    sid = _sid()
    first = client.post(
        "/api/v1/chat", json={"session_id": sid, "text": "普通护照首次申领怎么办", "channel": "web"}
    ).json()
    assert first["action"] == "answer", first
    second = client.post(
        "/api/v1/chat", json={"session_id": sid, "text": "需要什么材料？", "channel": "web"}
    ).json()
    assert second["action"] == "answer"
    assert second["item_id"] == first["item_id"]
    other = client.post(
        "/api/v1/chat", json={"session_id": _sid(), "text": "需要什么材料？", "channel": "web"}
    ).json()
    assert other["item_id"] != first["item_id"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"session_id": "x"}, 422),
        ({"session_id": "", "text": "你好"}, 422),
        ({"text": "你好"}, 422),
    ],
)
def test_chat_rejects_malformed_requests(client: TestClient, payload: dict[str, str], code: int) -> None:
    assert client.post("/api/v1/chat", json=payload).status_code == code


def test_empty_text_gets_a_clear_reply(client: TestClient) -> None:
    body = client.post("/api/v1/chat", json={"session_id": _sid(), "text": "   "}).json()
    assert body["action"] == "fallback"
    assert body["reply"]


def test_oversized_body_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/chat", json={"session_id": _sid(), "text": "办" * 70_000})
    assert response.status_code == 413


def test_suggest_needs_an_agent_token(client: TestClient) -> None:
    assert client.get("/api/v1/suggest", params={"q": "公积金提取"}).status_code == 401
    bad = client.get("/api/v1/suggest", params={"q": "公积金提取"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    ok = client.get(
        "/api/v1/suggest",
        params={"q": "来电人问公积金怎么提取", "k": 3},
        headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
    )
    assert ok.status_code == 200
    suggestions = ok.json()["suggestions"]
    assert len(suggestions) == 3
    assert "公积金" in suggestions[0]["title"]
    assert suggestions[0]["summary"]


def test_settings_endpoint_is_for_admins_and_redacts_secrets(client: TestClient) -> None:
    agent = client.get("/-/settings", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
    assert agent.status_code == 403
    admin = client.get("/-/settings", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 200
    text = admin.text
    assert AGENT_TOKEN not in text and ADMIN_TOKEN not in text
    assert admin.json()["secrets"]["api_tokens"] == "(set)"


def test_kb_item_and_missing_item(client: TestClient) -> None:
    hit = client.post("/api/v1/chat", json={"session_id": _sid(), "text": "护照怎么办"}).json()
    item = client.get(f"/api/v1/kb/items/{hit['sources'][0]['id']}")
    assert item.status_code == 200
    assert item.json()["title"] == hit["sources"][0]["title"]
    assert client.get("/api/v1/kb/items/no-such-item").status_code == 404


def test_health_readiness_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["calendar"]["known_until"] == "2026-12-31"  # the official holidays known so far
    startup = ready.json()["startup"]  # where the start went, phase by phase
    assert {"app_create", "migrations", "index_bootstrap", "warm_up_question"} <= set(startup["phases"])
    assert {"jieba_user_words", "encoder_load", "index_sync"} <= set(startup["blocks"])
    rounding = 0.0005 * (len(startup["phases"]) + 1)  # each figure is rounded to the millisecond
    assert startup["ready_after_s"] >= sum(startup["phases"].values()) - rounding
    client.post("/api/v1/chat", json={"session_id": _sid(), "text": "你好"})
    metrics = client.get("/metrics").text
    assert "govbot_replies_total" in metrics and 'action="smalltalk"' in metrics
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/chat", "/api/v1/suggest", "/api/v1/kb/items/{item_id}"} <= set(paths)


def test_session_rate_limit(prepared_dir: Path) -> None:
    app = create_app(server_settings(prepared_dir, rate_per_session=3))
    with TestClient(app) as limited:
        codes = [
            limited.post("/api/v1/chat", json={"session_id": "same", "text": "你好"}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        assert limited.post("/api/v1/chat", json={"session_id": "other", "text": "你好"}).status_code == 200


def test_ip_rate_limit(prepared_dir: Path) -> None:
    with TestClient(create_app(server_settings(prepared_dir, rate_per_ip=2))) as limited:
        codes = [limited.get("/api/v1/kb/items/x").status_code for _ in range(3)]
        assert codes == [404, 404, 429]
        assert limited.get("/healthz").status_code == 200


def test_cors_allow_list(prepared_dir: Path) -> None:
    settings = server_settings(prepared_dir, cors_origins=["https://www.example.gov.cn"])
    with TestClient(create_app(settings)) as app_client:
        headers = {"Origin": "https://www.example.gov.cn", "Access-Control-Request-Method": "POST"}
        allowed = app_client.options("/api/v1/chat", headers=headers)
        assert allowed.headers.get("access-control-allow-origin") == "https://www.example.gov.cn"
        headers["Origin"] = "https://evil.example.com"
        refused = app_client.options("/api/v1/chat", headers=headers)
        assert "access-control-allow-origin" not in refused.headers


def test_phone_and_id_numbers_are_masked_in_logs(prepared_dir: Path) -> None:
    """The app masks whatever its handlers write: a plain handler on the root logger, installed
    before the app starts, only ever sees masked numbers (no filter is added by the test)."""
    handler_records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handler_records.append(self.format(record) + " " + str(getattr(record, "text", "")))

    keep = Keep()
    root = logging.getLogger()
    root.addHandler(keep)
    old = root.level
    root.setLevel(logging.INFO)
    try:
        with TestClient(create_app(server_settings(prepared_dir))) as app_client:
            text = "我电话13812345678，身份证110101199003074477，楼下噪音扰民"
            assert (
                app_client.post("/api/v1/chat", json={"session_id": _sid(), "text": text}).status_code == 200
            )
            logging.getLogger("govbot.test").info("caller %s", "13812345678")
            logging.getLogger("govbot.test").info("caller", extra={"text": "身份证110101199003074477"})
    finally:
        root.removeHandler(keep)
        root.setLevel(old)
    joined = "\n".join(handler_records)
    assert "caller 138****5678" in joined
    assert "13812345678" not in joined and "110101199003074477" not in joined


def test_bad_token_table_is_a_clear_error(prepared_dir: Path, tmp_path: Callable[..., Path]) -> None:
    settings = server_settings(prepared_dir)
    settings.secrets.api_tokens = "short:agent"
    with pytest.raises(ValueError, match="at least 16 characters"):
        create_app(settings)


def test_masking_keeps_uvicorn_access_lines_formattable() -> None:
    """uvicorn's access formatter unpacks the record's arguments; masking must leave them a tuple."""
    from uvicorn.logging import AccessFormatter

    from server.logs import MaskPersonalFilter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/suggest?q=13812345678", "1.1", 200),
        None,
    )
    assert MaskPersonalFilter().filter(record)
    line = AccessFormatter(fmt="%(client_addr)s %(request_line)s %(status_code)s", use_colors=False).format(
        record
    )
    assert "138****5678" in line and "13812345678" not in line
    assert "GET" in line and "200" in line
