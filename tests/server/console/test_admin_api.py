"""Staff administration and knowledge upkeep against the real app: accounts (created, changed,
disabled, reset; departments from the routing table, roles from core.permissions), knowledge
items (search, edit, unpublish, import an uploaded file with the importer's report) and the
unanswered-question queue turned into FAQs. Every change is in the staff actions log and the
bot's answer changes without a restart."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.server.conftest import ADMIN_TOKEN, server_settings
from tests.utils.ticketdb import copy_data_dir

PASSWORD = "admin-pages-9"
DEPT = "市住房城乡建设局"


@dataclass
class Admin:
    client: TestClient

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def ask(self, text: str) -> dict[str, object]:
        body = {"session_id": uuid.uuid4().hex, "text": text, "channel": "web"}
        response = self.client.post("/api/v1/chat", json=body)
        assert response.status_code == 200, response.text
        reply: dict[str, object] = response.json()
        return reply

    def actions(self, headers: dict[str, str]) -> list[dict[str, object]]:
        response = self.client.get("/api/v1/admin/actions", headers=headers)
        assert response.status_code == 200, response.text
        rows: list[dict[str, object]] = response.json()
        return rows


@pytest.fixture(scope="module")
def admin(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    data_dir = tmp_path_factory.mktemp("admin-api") / "data"
    copy_data_dir(prepared_dir, data_dir)  # on PostgreSQL: its own schema too
    app = create_app(server_settings(data_dir))
    with TestClient(app) as client:
        for name, role, dept in (
            ("sup", "supervisor", None),
            ("han", "handler", DEPT),
            ("ag", "agent", None),
        ):
            app.state.desk.add_user(name, PASSWORD, role=role, department=dept)
        yield Admin(client)


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_a_supervisor_manages_accounts_and_every_change_is_logged(admin: Admin) -> None:
    sup = admin.login("sup")
    created = admin.client.post(
        "/api/v1/admin/users",
        json={"username": "newagent", "password": "first-pass-1", "role": "handler", "department": DEPT},
        headers=sup,
    )
    assert created.status_code == 201, created.text
    assert created.json() | {"created_at": None} == {
        "username": "newagent",
        "role": "handler",
        "department": DEPT,
        "active": True,
        "created_at": None,
    }
    token = admin.login("newagent", "first-pass-1")
    assert admin.client.get("/api/v1/auth/me", headers=token).json()["role"] == "handler"

    # refused: a department the routing table does not know, a second account of the same
    # name, an admin account by a supervisor, and anyone but supervisors and admins
    unknown = {"username": "x1", "password": "long-enough-1", "role": "handler", "department": "不存在局"}
    assert admin.client.post("/api/v1/admin/users", json=unknown, headers=sup).status_code == 422
    again = {"username": "newagent", "password": "long-enough-1", "role": "agent"}
    assert admin.client.post("/api/v1/admin/users", json=again, headers=sup).status_code == 409
    boss = {"username": "boss", "password": "long-enough-1", "role": "admin"}
    assert admin.client.post("/api/v1/admin/users", json=boss, headers=sup).status_code == 403
    assert admin.client.post("/api/v1/admin/users", json=boss, headers=ADMIN).status_code == 201
    raise_role = {"username": "newagent", "role": "admin"}
    assert admin.client.post("/api/v1/admin/users/update", json=raise_role, headers=sup).status_code == 403
    for who in ("han", "ag"):
        assert admin.client.get("/api/v1/admin/users", headers=admin.login(who)).status_code == 403
    short = {"username": "x2", "password": "short", "role": "agent"}
    assert admin.client.post("/api/v1/admin/users", json=short, headers=sup).status_code == 422

    # role and department change; a new password ends the old sessions; disabling locks out
    change = {"username": "newagent", "role": "agent", "department": ""}
    changed = admin.client.post("/api/v1/admin/users/update", json=change, headers=sup)
    assert changed.status_code == 200, changed.text
    assert changed.json()["changed"] == {"role": ["handler", "agent"], "department": [DEPT, None]}
    reset = {"username": "newagent", "password": "second-pass-2"}
    assert admin.client.post("/api/v1/admin/users/update", json=reset, headers=sup).json()["changed"] == {
        "password": "reset"
    }
    assert admin.client.get("/api/v1/auth/me", headers=token).status_code == 401
    token = admin.login("newagent", "second-pass-2")
    off = {"username": "newagent", "active": False}
    assert admin.client.post("/api/v1/admin/users/update", json=off, headers=sup).status_code == 200
    assert admin.client.get("/api/v1/auth/me", headers=token).status_code == 401
    refused = admin.client.post(
        "/api/v1/auth/login", json={"username": "newagent", "password": "second-pass-2"}
    )
    assert refused.status_code == 401
    listed = {u["username"]: u for u in admin.client.get("/api/v1/admin/users", headers=sup).json()}
    assert listed["newagent"]["active"] is False and listed["newagent"]["role"] == "agent"
    self_off = {"username": "sup", "active": False}
    assert admin.client.post("/api/v1/admin/users/update", json=self_off, headers=sup).status_code == 422

    log = [a for a in admin.actions(sup) if a["target"] == "newagent"]
    assert [a["action"] for a in log] == ["user.update", "user.update", "user.update", "user.create"]
    assert all(a["actor"] == "sup" for a in log)
    assert "second-pass-2" not in json.dumps(log) and "first-pass-1" not in json.dumps(log)


CAT_QUESTION = "我家猫咪的疫苗应该打几针？"
CAT_ANSWER = "幼猫一般接种猫三联疫苗三针，每针间隔三到四周，满十六周后再接种狂犬疫苗一针。"


def test_an_unanswered_question_becomes_an_faq_the_bot_answers(admin: Admin) -> None:
    sup = admin.login("sup")
    assert admin.ask(CAT_QUESTION + "电话13912345678")["action"] == "fallback"
    queue = admin.client.get("/api/v1/admin/unanswered", headers=sup).json()
    logged = next(q for q in queue if "猫咪" in q["text"])
    assert "13912345678" not in logged["text"]  # stored masked

    body = {"question_id": logged["id"], "question": CAT_QUESTION, "answer": CAT_ANSWER}
    assert (
        admin.client.post("/api/v1/admin/unanswered/faq", json=body, headers=admin.login("ag")).status_code
        == 403
    )
    made = admin.client.post("/api/v1/admin/unanswered/faq", json=body, headers=sup)
    assert made.status_code == 201, made.text
    item_id = made.json()["item_id"]
    item = admin.client.get(f"/api/v1/kb/items/{item_id}").json()
    assert item["answer"] == CAT_ANSWER and item["reviewed_by"] == "sup"
    assert logged["id"] not in {
        q["id"] for q in admin.client.get("/api/v1/admin/unanswered", headers=sup).json()
    }

    reply = admin.ask(CAT_QUESTION)
    assert reply["action"] == "answer", reply
    assert reply["item_id"] == item_id and "猫三联" in str(reply["reply"])
    assert any(a["action"] == "kb.faq" and a["target"] == item_id for a in admin.actions(sup))
    missing = {"question_id": 999999, "question": "q", "answer": "a"}
    assert admin.client.post("/api/v1/admin/unanswered/faq", json=missing, headers=sup).status_code == 404


def test_search_edit_and_unpublish_an_item(admin: Admin) -> None:
    sup = admin.login("sup")
    found = admin.client.get("/api/v1/admin/kb/items", params={"q": "社保卡"}, headers=sup).json()
    assert found and all(
        "社保卡" in r["title"] or "社保卡" in r["id"] or "社保卡" in r["source"] for r in found
    )
    faq = next(r for r in found if r["kind"] == "faq")
    record = admin.client.get(f"/api/v1/kb/items/{faq['id']}").json()
    record["answer"] = "（已更新）请携带身份证到任一合作银行网点补办社保卡。"
    edit = admin.client.post(
        "/api/v1/admin/kb/items/update", json={"item_id": faq["id"], "record": record}, headers=sup
    )
    assert edit.status_code == 200, edit.text
    assert admin.client.get(f"/api/v1/kb/items/{faq['id']}").json()["answer"].startswith("（已更新）")
    bad = {"item_id": faq["id"], "record": {**record, "answer": ""}}
    assert admin.client.post("/api/v1/admin/kb/items/update", json=bad, headers=sup).status_code == 422
    assert admin.client.get(f"/api/v1/kb/items/{faq['id']}").json()["answer"].startswith("（已更新）")

    gone = admin.client.post("/api/v1/admin/kb/unpublish", json={"item_id": faq["id"]}, headers=sup)
    assert gone.status_code == 200, gone.text
    assert admin.client.get(f"/api/v1/kb/items/{faq['id']}").status_code == 404
    assert faq["id"] not in {
        r["id"]
        for r in admin.client.get("/api/v1/admin/kb/items", params={"q": "社保卡"}, headers=sup).json()
    }
    again = admin.client.post("/api/v1/admin/kb/unpublish", json={"item_id": faq["id"]}, headers=sup)
    assert again.status_code == 404
    assert admin.ask(str(record["question"])).get("item_id") != faq["id"]
    kinds = [a["action"] for a in admin.actions(sup) if a["target"] == faq["id"]]
    assert kinds == ["kb.unpublish", "kb.edit"]


def test_an_uploaded_file_is_imported_with_the_importers_report(admin: Admin) -> None:
    sup = admin.login("sup")
    lines = [
        {
            "kind": "faq",
            "id": "faq-upload-dog",
            "question": "小区里遛狗必须拴绳吗？",
            "answer": "必须拴绳，绳长不超过1.5米。",
        },
        {
            "kind": "faq",
            "id": "faq-upload-bike",
            "question": "共享单车乱停放向谁反映？",
            "answer": "可向所在区城管部门反映。",
        },
        {"kind": "faq", "id": "faq-upload-bad", "question": "缺少答复的问题"},
    ]
    data = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()
    url = "/api/v1/admin/kb/import"
    octets = {"Content-Type": "application/octet-stream"}
    headers = sup | octets
    assert (
        admin.client.post(
            url, params={"filename": "x.jsonl"}, content=data, headers=admin.login("han") | octets
        ).status_code
        == 403
    )
    assert (
        admin.client.post(url, params={"filename": "notes.xyz"}, content=data, headers=headers).status_code
        == 422
    )
    assert (
        admin.client.post(url, params={"filename": "a.jsonl"}, content=b"", headers=headers).status_code
        == 422
    )
    report = admin.client.post(
        url, params={"filename": "../../etc/上传.jsonl"}, content=data, headers=headers
    )
    assert report.status_code == 200, report.text
    shown = report.json()
    assert shown["filename"] == "上传.jsonl"
    assert (shown["read"], shown["added"], shown["rejected"]) == (2, 2, 1)
    assert (
        shown["errors"] and shown["errors"][0].startswith("上传.jsonl:3:") and "answer" in shown["errors"][0]
    )
    assert shown["removed_sample"] > 0  # the operator's own data replaces the bundled sample, as in the CLI
    assert admin.client.get("/api/v1/kb/items/faq-upload-dog").json()["answer"].startswith("必须拴绳")
    reply = admin.ask("小区里遛狗必须拴绳吗")
    assert reply["action"] == "answer" and reply["item_id"] == "faq-upload-dog", reply
    logged = next(a for a in admin.actions(sup) if a["action"] == "kb.import")
    assert logged["target"] == "上传.jsonl" and logged["details"]["added"] == 2 and logged["actor"] == "sup"
    big = b"x" * (11 * 1024 * 1024)
    assert (
        admin.client.post(url, params={"filename": "big.txt"}, content=big, headers=headers).status_code
        == 413
    )
