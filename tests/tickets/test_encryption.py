"""Citizens' phone, name and words sealed at rest (core/crypto.py), on SQLite and PostgreSQL:
nothing in clear in the stored rows, search by phone suffix and status look-up through the keyed
hash, key rotation, the migration of rows stored before encryption, and the dev key file."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Text, select, text, type_coerce

from core import crypto
from core.db import alembic_config
from core.settings import Settings
from tests.tickets.helpers import AGENT, DEPT, HANDLER, SUPERVISOR, walk_to
from tests.utils.ticketdb import FakeClock
from tickets import sealing
from tickets.db import MIGRATIONS, VERSION_TABLE, TicketDB
from tickets.errors import InvalidTicketError
from tickets.models import SEALED_COLUMNS, AuditEntry, Ticket, TicketWords
from tickets.schemas import TicketCreate, TicketSearch, TicketUpdate
from tickets.service import TicketDesk

PHONE, ID_NUMBER, NAME = "13700139000", "44010619850712351X", "欧阳娜娜"


def _create(desk: TicketDesk, phone: str = PHONE, **fields: Any) -> str:
    body: dict[str, Any] = {
        "title": "社保卡办不了",
        "content": f"我的身份证{ID_NUMBER}在窗口办不了社保卡，手机{phone}",
        "location": "天河区体育西路1号",
        "phone": phone,
        "name": NAME,
        "category": "城乡建设",
    } | fields
    return desk.create(TicketCreate(**body), actor=AGENT.name).ticket_no


def _raw_rows(desk: TicketDesk) -> list[tuple[Any, ...]]:
    """The tickets table as stored, the sealed columns as their ciphertext."""
    columns = [type_coerce(Ticket.__table__.c[n], Text()) for n in SEALED_COLUMNS]
    with desk.db.session() as s:
        query = select(Ticket.ticket_no, TicketWords.text, *columns).join(
            TicketWords, TicketWords.ticket_id == Ticket.id
        )
        return [tuple(r) for r in s.execute(query)]


def _found(desk: TicketDesk, **criteria: Any) -> list[str]:
    return [t.ticket_no for t in desk.search(TicketSearch(**criteria), viewer=AGENT)]


def _settings_with_keys(settings: Settings, current: str, old: str = "") -> Settings:
    copy = settings.model_copy(deep=True)
    copy.secrets = settings.secrets.model_copy(update={"data_key": current, "data_keys_old": old})
    return copy


def test_stored_rows_hold_no_phone_name_or_id_in_clear(desk: TicketDesk) -> None:
    ticket_no = _create(desk)
    (row,) = _raw_rows(desk)
    stored = " ".join(str(v) for v in row)
    for secret in (PHONE, ID_NUMBER, NAME, "5678", "社保卡办不了"):
        assert secret not in " ".join(str(v) for v in row[2:]), secret  # sealed columns
    assert PHONE not in stored and ID_NUMBER not in stored and NAME not in stored
    assert all(crypto.is_sealed(v) for v in row[2:])
    assert "社保卡" in row[1] and "137****9000" in row[1]  # the masked search copy
    # the handler of the ticket's department reads them back in clear (core/privacy.py's rule)
    walk_to(desk, ticket_no, "已交办")
    shown = desk.show(ticket_no, viewer=HANDLER).ticket
    assert shown.phone == PHONE and shown.citizen_name == NAME and ID_NUMBER in shown.content
    assert desk.show(ticket_no, viewer=AGENT).ticket.phone == "137****9000"


def test_phone_suffix_search_and_status_go_through_the_keyed_hash(desk: TicketDesk) -> None:
    mine = _create(desk)
    other = _create(desk, phone="13911119000")  # same last four digits, another phone
    _create(desk, phone="13912345678")
    assert set(_found(desk, phone="9000")) == {mine, other}
    assert _found(desk, phone="0139000") == [mine]  # a longer suffix: checked on the opened phones
    assert _found(desk, q="0139000") == [mine]
    assert _found(desk, phone="139000", words="社保卡") == [mine]
    with pytest.raises(InvalidTicketError):
        _found(desk, phone="900")  # fewer than four digits cannot be hashed
    assert _found(desk, words=PHONE) == []  # the clear number is nowhere to be searched
    assert desk.citizen_status(mine, "9000").ticket_no == mine
    with desk.db.session() as s:
        hashes = set(s.scalars(select(Ticket.phone_tail)))
    assert len(hashes) == 2 and "9000" not in hashes


def test_updates_are_audited_masked(desk: TicketDesk) -> None:
    ticket_no = _create(desk)
    desk.update(ticket_no, TicketUpdate(content=f"补充：身份证{ID_NUMBER}"), viewer=AGENT)
    with desk.db.session() as s:
        changes = [e.changes for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "update"))]
    assert changes and ID_NUMBER not in str(changes) and "440106********351X" in str(changes)
    assert _found(desk, words="补充") == [ticket_no]


def test_rotation_keeps_every_ticket_readable_and_reseals_it(
    ticket_settings: Settings, db_url: str, clock: FakeClock
) -> None:
    first, second = crypto.new_key(), crypto.new_key()
    old_desk = TicketDesk.open(_settings_with_keys(ticket_settings, first), clock=clock, url=db_url)
    old_desk.migrate()
    ticket_no = _create(old_desk)
    old_desk.close()

    desk = TicketDesk.open(_settings_with_keys(ticket_settings, second, old=first), clock=clock, url=db_url)
    try:
        assert desk.keyring.current_id == crypto.key_id(crypto.decode_key(second))
        assert _found(desk, phone="9000") == [ticket_no]  # hashed under the old key, still found
        assert desk.citizen_status(ticket_no, "9000").ticket_no == ticket_no
        assert sealing.rotate(desk.db, desk.keyring) == 1
        assert sealing.rotate(desk.db, desk.keyring) == 0  # nothing left: the old key may go
        assert all(desk.keyring.is_current(v) for v in _raw_rows(desk)[0][2:] if v is not None)
        alone = crypto.Keyring(crypto.decode_key(second))
        with desk.db.session() as s:
            phone_tail = s.scalar(select(Ticket.phone_tail))
        assert phone_tail == alone.tail_hash("9000")  # rehashed under the new key
        assert alone.open(_raw_rows(desk)[0][3]) == PHONE
    finally:
        desk.close()


def test_the_migration_seals_rows_stored_in_clear(
    ticket_settings: Settings, db_url: str, clock: FakeClock
) -> None:
    """A database at 0007 with a ticket, an audited update and a push row in clear."""
    desk = TicketDesk.open(ticket_settings, clock=clock, url=db_url)  # loads the key first
    db = TicketDB(db_url)
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(MIGRATIONS, VERSION_TABLE, connection), "0007_guard")
        connection.execute(
            text(
                "INSERT INTO tickets (id, ticket_no, channel, created_by, citizen_name, phone, title, "
                "content, location, type, department, urgency, received_at, feedback_deadline, "
                "completion_deadline, status, escalation_level, supervision_count, at_risk, overdue, "
                "created_at, updated_at) VALUES (1, '20261123-0001', 'api', 'a', :name, :phone, "
                "'社保卡', :content, '天河区', '求助', :dept, 'normal', :t, :t, :t, '待受理', 0, 0, "
                "false, false, :t, :t)"
            ),
            {"name": NAME, "phone": PHONE, "content": f"身份证{ID_NUMBER}", "dept": DEPT, "t": clock.now},
        )
        connection.execute(
            text(
                "INSERT INTO ticket_audit (ticket_id, actor, at, action, changes) "
                "VALUES (1, 'a', :t, 'update', :changes)"
            ),
            {"t": clock.now, "changes": f'{{"content": ["旧", "身份证{ID_NUMBER}"]}}'},
        )
    db.dispose()
    try:
        desk.migrate()
        (row,) = _raw_rows(desk)
        assert all(crypto.is_sealed(v) for v in row[2:]) and ID_NUMBER not in row[1]
        assert _found(desk, phone="9000") == ["20261123-0001"]
        assert _found(desk, words="社保卡") == ["20261123-0001"]
        shown = desk.show("20261123-0001", viewer=SUPERVISOR)
        assert ID_NUMBER not in str(shown.audit)
        walk_to(desk, "20261123-0001", "已交办")
        assert desk.show("20261123-0001", viewer=HANDLER).ticket.phone == PHONE
        with desk.db.engine.begin() as connection:  # and back, for a release that must be undone
            command.downgrade(alembic_config(MIGRATIONS, VERSION_TABLE, connection), "0007_guard")
            assert connection.execute(text("SELECT phone FROM tickets")).scalar() == PHONE
        desk.migrate()
        assert _found(desk, phone="9000") == ["20261123-0001"]
    finally:
        desk.close()


def test_without_a_key_a_private_key_file_is_made_and_the_log_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core.crypto"):
        ring = crypto.load("", "", tmp_path / "data")
    path = tmp_path / "data" / crypto.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Production must set GOVBOT_DATA_KEY" in caplog.text
    assert ring.current_id == crypto.key_id(crypto.decode_key(path.read_text()))
    again = crypto.load("", "", tmp_path / "data")  # the same key on the next start
    assert again.current_id == ring.current_id
    # once GOVBOT_DATA_KEY is set, what the file's key sealed stays readable (until rotated)
    sealed = ring.seal(PHONE)
    production = crypto.load(crypto.new_key(), "", tmp_path / "data")
    assert production.current_id != ring.current_id and production.open(sealed) == PHONE


@pytest.mark.parametrize(
    "bad", ["", "not base64!", base64.b64encode(b"short").decode(), base64.b64encode(os.urandom(40)).decode()]
)
def test_a_malformed_key_is_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(crypto.DataKeyError, match="data key"):
        crypto.decode_key(bad)


def test_a_tampered_value_does_not_open() -> None:
    ring = crypto.Keyring(os.urandom(32))
    sealed = ring.seal(PHONE)
    body = bytearray(base64.b64decode(sealed.split(":", 2)[2]))
    body[-1] ^= 1
    tampered = sealed.rsplit(":", 1)[0] + ":" + base64.b64encode(bytes(body)).decode()
    with pytest.raises(crypto.DataKeyError, match="does not open"):
        ring.open(tampered)
    with pytest.raises(crypto.DataKeyError, match="neither"):
        crypto.Keyring(os.urandom(32)).open(sealed)
