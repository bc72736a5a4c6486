"""Shared by the platform tests: the shared secret, outbox rows, signed callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from tickets.platform.models import PlatformOutbox
from tickets.service import TicketDesk

SECRET = "test-platform-secret"


def outbox(desk: TicketDesk) -> list[PlatformOutbox]:
    with desk.db.session() as s:
        return list(s.scalars(select(PlatformOutbox).order_by(PlatformOutbox.id)))


def post_callback(
    base_url: str,
    at: datetime,
    body: dict[str, Any],
    *,
    secret: str = SECRET,
    late_by: int = 0,
    signature: str | None = None,
) -> httpx.Response:
    """POST a callback signed `late_by` seconds before `at` (the receiver's clock), as the
    platform would (hmac/hashlib here, not our code)."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = int(at.timestamp()) - late_by
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Govbot-Timestamp": str(stamp),
        "X-Govbot-Signature": signature if signature is not None else f"sha256={digest}",
    }
    return httpx.post(f"{base_url}/connectors/hotline-platform/callback", content=raw, headers=headers)
