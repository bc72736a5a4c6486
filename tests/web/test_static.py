"""The widget's files as the server hands them out: content types, and no outside URLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.web import STATIC_DIR
from server.app import create_app
from tests.server.conftest import server_settings


@pytest.fixture(scope="module")
def static_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    # No `with`: the lifespan (which warms the engine) is not needed to serve files.
    return TestClient(create_app(server_settings(tmp_path_factory.mktemp("static-data"))))


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/widget.js", "text/javascript", "GovbotWidget"),
        ("/widget.css", "text/css", ".govbot-w-root"),
        ("/", "text/html", 'src="/widget.js"'),
    ],
)
def test_widget_files_are_served_with_their_content_type(
    static_client: TestClient, path: str, content_type: str, marker: str
) -> None:
    response = static_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert marker in response.text


def test_demo_page_loads_nothing_from_outside() -> None:
    html = (STATIC_DIR / "demo.html").read_text(encoding="utf-8")
    assert re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", html, flags=re.IGNORECASE) == []
    assert "演示" in html  # marked as a demo


@pytest.mark.parametrize("name", ["widget.js", "demo.html"])
def test_widget_never_writes_html_from_strings(name: str) -> None:
    """Text from the user or the server goes in as text nodes, never parsed as HTML."""
    source = (Path(STATIC_DIR) / name).read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{name} uses {sink}"


def test_widget_css_is_namespaced() -> None:
    css = (STATIC_DIR / "widget.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    selectors = re.findall(r"(?:^|[{}])\s*([^{}@]+?)\s*{", css)
    plain = [s for s in selectors if not re.fullmatch(r"[\d%,\s]+|from|to", s.strip())]
    assert plain, "no selectors found"
    for group in plain:
        for selector in group.split(","):
            assert selector.strip().startswith(".govbot-w-root"), selector


def test_a_widget_on_another_site_can_read_retry_after(tmp_path: Path) -> None:
    site = "https://www.example.gov.cn"
    settings = server_settings(tmp_path, cors_origins=[site], rate_per_ip=1)
    client = TestClient(create_app(settings))
    assert client.get("/widget.css", headers={"Origin": site}).status_code == 200
    limited = client.get("/widget.css", headers={"Origin": site})
    assert limited.status_code == 429
    assert limited.headers.get("access-control-allow-origin") == site
    assert "retry-after" in limited.headers.get("access-control-expose-headers", "").lower()
