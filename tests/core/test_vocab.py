"""The shared vocabulary is consistent with itself and with every place that uses it: the ticket
schemas, the lifecycle, staff accounts, the audit actions the code writes, and the JavaScript,
which must hold no copy of it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from core import vocab
from server.auth import TokenTable
from tickets.errors import InvalidTicketError
from tickets.schemas import TicketCreate, TicketPublic, TransitionIn
from tickets.users import create_user

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [
    ROOT / "server/console/static/console.js",
    ROOT / "server/console/static/admin.js",
    ROOT / "connectors/static/widget.js",
]


def test_every_name_has_a_label() -> None:
    assert set(vocab.CHANNEL_LABELS) == set(vocab.CHANNELS)
    assert set(vocab.ROLE_LABELS) == set(vocab.ROLES)
    assert {step.action for step in vocab.TRANSITIONS.values()} == set(vocab.STEP_LABELS)
    assert set(vocab.STEP_LABELS) <= set(vocab.AUDIT_LABELS)


def test_rasa_is_a_channel() -> None:
    assert "rasa" in vocab.CHANNELS


def test_transitions_join_declared_states_and_sides() -> None:
    for (source, target), step in vocab.TRANSITIONS.items():
        assert source in vocab.STATES and target in vocab.STATES
        assert step.by in vocab.STEP_ROLES
    assert not any(source in vocab.TERMINAL for source, _ in vocab.TRANSITIONS)
    roles = {role for side in vocab.STEP_ROLES.values() for role in side} | set(vocab.OVERSEER_ROLES)
    assert roles == set(vocab.ROLES)


def test_every_audit_action_the_code_writes_has_a_label() -> None:
    written = set()
    for path in (ROOT / "tickets").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AuditEntry":
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                        written.add(keyword.value.value)
    assert written, "no AuditEntry(action=...) found: the scan is broken"
    assert written <= set(vocab.AUDIT_LABELS), written - set(vocab.AUDIT_LABELS)


def test_ticket_field_labels_name_public_fields() -> None:
    assert set(vocab.TICKET_FIELD_LABELS) - {"category"} <= set(TicketPublic.model_fields)


@pytest.mark.parametrize("channel", vocab.CHANNELS)
def test_ticket_schema_takes_every_channel(channel: str) -> None:
    data = TicketCreate(title="路灯坏了", content="小区路灯坏了", phone="13812345678", channel=channel)  # type: ignore[arg-type]
    assert data.channel == channel


def test_ticket_schema_refuses_other_channels_and_grades() -> None:
    with pytest.raises(ValidationError, match="rasa"):
        TicketCreate(title="t", content="c", phone="13812345678", channel="telegram")  # type: ignore[arg-type]
    for grade in vocab.SATISFACTION:
        assert TransitionIn(to=vocab.CALLED_BACK, satisfaction=grade).satisfaction == grade  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TransitionIn(to=vocab.CALLED_BACK, satisfaction="很好")  # type: ignore[arg-type]


def test_accounts_and_api_tokens_take_exactly_the_roles() -> None:
    for role in vocab.ROLES:
        assert TokenTable(f"{'x' * 16}:{role}").lookup("x" * 16) is not None
    with pytest.raises(ValueError, match="agent, handler, supervisor, admin"):
        TokenTable(f"{'x' * 16}:clerk")
    with pytest.raises(InvalidTicketError, match="role must be one of"):
        create_user(session=None, username="u", password="p" * 8, role="clerk", department=None, now=None)  # type: ignore[arg-type]


def _string_literals(path: Path) -> set[str]:
    source = path.read_text(encoding="utf-8")
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    source = re.sub(r"^\s*//.*$", "", source, flags=re.MULTILINE)
    return set(re.findall(r'"([^"\\\n]*)"', source)) | set(re.findall(r"`([^`$\\\n]*)`", source))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_hold_no_copy_of_the_vocabulary(script: Path) -> None:
    declared = {
        *vocab.STATES,
        *vocab.TYPES,
        *vocab.SATISFACTION,
        *vocab.STEP_LABELS.values(),
        *vocab.AUDIT_LABELS.values(),
        *vocab.STAFF_ACTION_LABELS.values(),
        *vocab.URGENCY_LABELS.values(),
        *vocab.QUEUE_LABELS.values(),
        *vocab.TICKET_FIELD_LABELS.values(),
        *vocab.GUIDE_FIELD_LABELS.values(),
        *vocab.ITEM_TEXT_LABELS.values(),
        *vocab.ITEM_KIND_LABELS.values(),
        *vocab.OVERSEER_ROLES,
        *vocab.STEP_ROLES[vocab.CENTRE],
    }
    copies = _string_literals(script) & declared
    assert not copies, f"{script.name} repeats {sorted(copies)}: read them from /api/v1/vocab"
    assert "/api/v1/vocab" in script.read_text(encoding="utf-8")
