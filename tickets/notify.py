"""Webhook delivery of the notification outbox: HMAC-signed JSON (core/signing.py), claimed,
retried and given up by the shared outbox engine (core/outbox.py); this module keeps only the
payload and the send. Receivers deduplicate on `X-Govbot-Delivery` (the notification's stable
key): a row may be sent again when a send outlives its lease.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session

from core.clock import Clock
from core.outbox import Attempt, Outbox, Report, drain
from core.retry import RetryPolicy
from core.signing import signed_headers
from tickets.db import TicketDB
from tickets.models import Notification

log = logging.getLogger(__name__)

DeliveryReport = Report


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    retry: RetryPolicy
    timeout: float = 5.0


@dataclass(frozen=True)
class WebhookMessage:
    key: str  # X-Govbot-Delivery
    event: str
    payload: dict


def _load(_session: Session, row: Notification) -> WebhookMessage:
    return WebhookMessage(row.key, row.event, dict(row.payload))


def notification_outbox(retry: RetryPolicy) -> Outbox[WebhookMessage]:
    return Outbox(Notification, retry, load=_load, name="tickets.webhook")


def deliver_pending(
    *,
    db: TicketDB,
    webhook: Webhook,
    now: Clock,
    client: httpx.Client | None = None,
    limit: int = 50,
) -> DeliveryReport:
    """Deliver the due notifications (nothing without a URL; nothing unsigned)."""
    if not webhook.url:
        return Report()
    if not webhook.secret:
        log.warning("tickets.webhook.unsigned", extra={"detail": "GOVBOT_WEBHOOK_SECRET not set; not sent"})
        return Report()
    http = client or httpx.Client(timeout=webhook.timeout)
    try:
        return drain(
            notification_outbox(webhook.retry),
            run=db.run,
            send=lambda message: _post(http, webhook, message, now),
            clock=now,
            batch_size=limit,
        )
    finally:
        if client is None:
            http.close()


def _post(http: httpx.Client, webhook: Webhook, message: WebhookMessage, now: Clock) -> Attempt:
    body = json.dumps(message.payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Govbot-Event": message.event,
        "X-Govbot-Delivery": message.key,
        **signed_headers(webhook.secret, body, timestamp=int(now().timestamp())),
    }
    try:
        response = http.post(webhook.url, content=body, headers=headers, timeout=webhook.timeout)
    except httpx.HTTPError as exc:
        return Attempt(f"{type(exc).__name__}: {exc}")
    return Attempt(None if response.is_success else f"HTTP {response.status_code}")
