"""Webhook delivery of the notification outbox: HMAC-signed JSON, retried with back-off.

A notification is leased (attempts + 1, next try pushed past the timeout) and committed
before it is sent, then marked delivered; so a restart neither loses one nor sends one
twice while another process is sending it. Receivers can also deduplicate on the
`X-Govbot-Delivery` header (the notification's stable key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets.db import TicketDB
from tickets.models import Notification

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """hex HMAC-SHA256 of '<timestamp>.<body>'."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    timeout: float = 5.0
    max_attempts: int = 8
    retry_seconds: int = 60


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def deliver_pending(
    *,
    db: TicketDB,
    webhook: Webhook,
    now: Callable[[], datetime],
    client: httpx.Client | None = None,
    limit: int = 50,
) -> DeliveryReport:
    report = DeliveryReport()
    if not webhook.url:
        return report
    if not webhook.secret:
        log.warning("tickets.webhook.unsigned", extra={"detail": "GOVBOT_WEBHOOK_SECRET not set; not sent"})
        return report
    own_client = client is None
    http = client or httpx.Client(timeout=webhook.timeout)
    try:
        for _ in range(limit):
            leased = db.run(lambda s: _lease_one(s, now(), webhook))
            if leased is None:
                break
            key, event, payload, attempts = leased
            error = _post(http, webhook, key, event, payload, now())
            settled_at = now()

            def settle(
                s: Session, k: str = key, e: str | None = error, a: int = attempts, t: datetime = settled_at
            ) -> None:
                _settle(s, k, e, a, t, webhook, report)

            db.run(settle)
    finally:
        if own_client:
            http.close()
    return report


def _lease_one(session: Session, now: datetime, webhook: Webhook) -> tuple[str, str, dict, int] | None:
    query = (
        select(Notification)
        .where(
            Notification.delivered_at.is_(None),
            Notification.failed.is_(False),
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalar(query)
    if row is None:
        return None
    row.attempts += 1
    row.next_attempt_at = now + timedelta(seconds=webhook.timeout * 3 + 1)
    return row.key, row.event, dict(row.payload), row.attempts


def _post(
    http: httpx.Client, webhook: Webhook, key: str, event: str, payload: dict, now: datetime
) -> str | None:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    stamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-Govbot-Event": event,
        "X-Govbot-Delivery": key,
        "X-Govbot-Timestamp": str(stamp),
        "X-Govbot-Signature": "sha256=" + sign(webhook.secret, stamp, body),
    }
    try:
        response = http.post(webhook.url, content=body, headers=headers, timeout=webhook.timeout)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None if response.is_success else f"HTTP {response.status_code}"


def _settle(
    session: Session,
    key: str,
    error: str | None,
    attempts: int,
    now: datetime,
    webhook: Webhook,
    report: DeliveryReport,
) -> None:
    row = session.scalar(select(Notification).where(Notification.key == key))
    assert row is not None
    if error is None:
        row.delivered_at = now
        row.last_error = None
        report.delivered.append(key)
        log.info("tickets.webhook.delivered", extra={"key": key})
        return
    row.last_error = error
    if attempts >= webhook.max_attempts:
        row.failed = True
        report.failed.append(key)
        log.error("tickets.webhook.failed", extra={"key": key, "error": error})
    else:
        row.next_attempt_at = now + timedelta(seconds=webhook.retry_seconds * 2 ** (attempts - 1))
        report.retrying.append(key)
        log.warning("tickets.webhook.retry", extra={"key": key, "error": error})
