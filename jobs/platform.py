"""Glue between the 12345 platform connector (HTTP) and the ticket store's platform outbox.

`PlatformLink` pushes the outbox through the connector's client and applies the platform's
callbacks to tickets; the server runs `push_forever` in its lifespan, `govbot tickets push`
runs one `push()`. Time (signatures, the callback window, back-off) is the desk's clock.
The outbox rows themselves are written by the recorder that `TicketDesk.open` installs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
import httpx
from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.hotline_platform import CallbackIn, HotlinePlatformClient, PushResult, callback_router
from core.settings import Settings
from tickets.errors import InvalidTicketError
from tickets.platform.callbacks import PlatformActor, StatusReport, apply_status_report, seen_event
from tickets.platform.push import OutboxMessage, PushReport, push_pending
from tickets.service import TicketDesk

log = logging.getLogger(__name__)


class PlatformLink:
    def __init__(
        self,
        settings: Settings,
        desk: TicketDesk,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.cfg = settings.hotline_platform
        self.secret = settings.secrets.platform_secret
        self.desk = desk
        self.actor = PlatformActor(name=self.cfg.actor)
        self.client = HotlinePlatformClient(
            base_url=self.cfg.base_url,
            secret=self.secret,
            timeout=self.cfg.timeout_seconds,
            http=http,
            clock=desk.clock,
        )

    @property
    def ready(self) -> bool:
        return self.cfg.enabled and bool(self.cfg.base_url) and bool(self.secret)

    def send(self, message: OutboxMessage) -> PushResult:
        return self.client.push(
            kind=message.kind, ticket_no=message.ticket_no, payload=message.payload, key=message.key
        )

    def push(self) -> PushReport:
        """Deliver the due outbox rows (nothing when the link is not configured)."""
        if not self.ready:
            if self.cfg.enabled:
                log.warning("platform.push.unconfigured", extra={"detail": "base_url or secret missing"})
            return PushReport()
        report = push_pending(
            db=self.desk.db,
            send=self.send,
            clock=self.desk.clock,
            retry=self.cfg.retry,
            batch_size=self.cfg.batch_size,
        )
        if report.delivered or report.retrying or report.failed:
            log.info("platform.push", extra={k: len(v) for k, v in report.as_dict().items()})
        return report

    def apply(self, callback: CallbackIn) -> dict[str, object]:
        """Apply one verified callback; domain errors (404 / 409 / 422) propagate."""
        state = self.cfg.status_map.get(callback.status)
        if state is None:
            known = ", ".join(sorted(self.cfg.status_map))
            raise InvalidTicketError(f"unknown platform status {callback.status!r}; one of {known}")
        self.desk.check_department(callback.department)  # 422 for a department outside the routing table
        report = StatusReport(
            event_id=callback.event_id,
            ticket_no=callback.ticket_no,
            status=state,
            note=callback.result,
            department=callback.department,
            satisfaction=callback.satisfaction,
        )

        def job(s: Session) -> dict[str, object]:
            return apply_status_report(session=s, report=report, actor=self.actor, now=self.desk.clock())

        try:
            outcome = self.desk.db.run(job)
        except IntegrityError:  # the same event applied by a concurrent delivery
            with self.desk.db.session() as s:
                seen = seen_event(session=s, event_id=callback.event_id)
            if seen is None:
                raise
            return seen
        log.info("platform.callback", extra=outcome)
        return outcome

    async def apply_async(self, callback: CallbackIn) -> dict[str, object]:
        return await anyio.to_thread.run_sync(self.apply, callback)

    def router(self) -> APIRouter:
        return callback_router(
            secret=self.secret if self.cfg.enabled else "",
            window_seconds=self.cfg.callback_window_seconds,
            on_callback=self.apply_async,
            clock=self.desk.clock,
        )

    def close(self) -> None:
        self.client.close()


async def push_forever(
    link: PlatformLink, interval_seconds: float, *, pause: Callable[[float], Awaitable[None]] = anyio.sleep
) -> None:
    """The server's pusher: every interval, in a worker thread; errors are logged. `pause` is
    how it waits between rounds (tests pass one that does not wait)."""
    while True:
        await pause(interval_seconds)
        try:
            await anyio.to_thread.run_sync(link.push)
        except Exception:
            log.exception("platform.push.crashed")
