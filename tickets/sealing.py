"""Key rotation of the sealed ticket columns (core/crypto.py): every ticket whose phone, name or
words were sealed under an older data key (or stored before encryption) is sealed again with
the current key, and its phone-tail hash recomputed, one batch per transaction.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.sql.elements import ColumnElement

from core.crypto import Keyring
from tickets.db import TicketDB
from tickets.models import SEALED_COLUMNS, Ticket


def _raw(name: str) -> ColumnElement[str]:
    """A sealed column as stored (the ciphertext), bypassing the column type's opening."""
    return type_coerce(Ticket.__table__.c[name], Text())


def stale_ids(*, session: Session, ring: Keyring, after: int, limit: int) -> tuple[list[int], int]:
    """Ids (after `after`, up to `limit` scanned) with a value not sealed by the current key,
    and the last id scanned (0 when none was)."""
    rows = session.execute(
        select(Ticket.id, *(_raw(name) for name in SEALED_COLUMNS))
        .where(Ticket.id > after)
        .order_by(Ticket.id)
        .limit(limit)
    ).all()
    stale = [row[0] for row in rows if any(_stale(ring, value) for value in row[1:])]
    return stale, rows[-1][0] if rows else 0


def _stale(ring: Keyring, value: str | None) -> bool:
    return value is not None and not ring.is_current(value)


def reseal(*, session: Session, ids: list[int]) -> None:
    """Write the tickets' sealed columns again: the column type seals them with the current key
    and the model's write hook rehashes the phone tail."""
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ids))):
        for name in SEALED_COLUMNS:
            flag_modified(ticket, name)


def rotate(db: TicketDB, ring: Keyring, *, batch: int = 500) -> int:
    """Reseal every stale ticket with `ring`'s current key; returns how many were resealed.
    Safe to interrupt and run again: what is done stays done."""
    done, after = 0, 0
    while True:
        ids, last = db.run(partial(_scan, ring=ring, after=after, limit=batch))
        if not last:
            return done
        if ids:
            db.run(partial(_reseal, ids=ids))
            done += len(ids)
        after = last


def _scan(session: Session, *, ring: Keyring, after: int, limit: int) -> tuple[list[int], int]:
    return stale_ids(session=session, ring=ring, after=after, limit=limit)


def _reseal(session: Session, *, ids: list[int]) -> None:
    reseal(session=session, ids=ids)
