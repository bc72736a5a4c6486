"""The ticket desk: one object holding the database, SLA policy, routing and webhook, with
one method per unit of work (each its own retried transaction). The API and the CLI use it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import crypto
from core.clock import Clock, system_clock
from core.errors import RateLimitedError
from core.settings import Settings
from core.vocab import OPEN
from tickets import crud, sla
from tickets.assignment import assign_ticket, assignable
from tickets.db import TicketDB
from tickets.errors import AuthenticationError, InvalidTicketError, TicketNotFoundError
from tickets.handoff import add_transcript, ticket_transcript
from tickets.lifecycle import TransitionRequest, Viewer
from tickets.lockout import Lockout, open_strike_store
from tickets.models import AuditEntry, IntakeKey, Ticket, User
from tickets.notes import TicketNote, add_note, ticket_notes
from tickets.notify import DeliveryReport, Webhook, deliver_pending
from tickets.platform import recorder
from tickets.routing import Router, Taxonomy
from tickets.schemas import (
    TicketCreate,
    TicketPublic,
    TicketSearch,
    TicketStatusPublic,
    TicketSummary,
    TicketUpdate,
)
from tickets.staff_audit import StaffAction, recent_actions, record_action
from tickets.unanswered import UnansweredQuestion, get_unanswered, open_unanswered, resolve_unanswered
from tickets.users import (
    Account,
    account_for_token,
    authenticate,
    change_user,
    check_may_manage,
    create_user,
    disable_user,
    issue_token,
    list_users,
    revoke_token,
    user_role,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class TicketView:
    """A ticket as a viewer may see it, with its audit trail."""

    ticket: TicketPublic
    audit: list[dict[str, Any]]
    transcript: list[dict[str, Any]] | None = None  # the live chat it came from, masked


class TicketDesk:
    def __init__(self, settings: Settings, *, clock: Clock = system_clock, url: str | None = None) -> None:
        cfg = settings.tickets
        self.settings = settings
        self.clock = clock
        self.keyring = crypto.load_for(settings)  # before the first sealed column is read or written
        self.db = TicketDB(url or settings.tickets_url)
        self.policy = sla.SlaPolicy.from_settings(cfg)
        self._coverage_logged: date | None = None  # the local day the calendar's coverage was last logged
        self.router = Router(table=dict(cfg.routing), default=cfg.default_department)
        taxonomy_path = settings.resolve(cfg.taxonomy_path) if cfg.taxonomy_path else None
        self.taxonomy = Taxonomy.load(taxonomy_path, set(cfg.routing))
        self.webhook = Webhook(
            url=cfg.webhook_url,
            secret=settings.secrets.webhook_secret,
            retry=cfg.webhook_retry,
            timeout=cfg.webhook_timeout_seconds,
        )
        strikes = open_strike_store(
            self.db, lambda: self.clock(), settings.secrets.redis_url, settings.server.redis_prefix
        )
        self.status_lockout = Lockout(strikes, cfg.status_max_misses, cfg.status_lockout_minutes * 60)
        self.login_lockout = Lockout(strikes, cfg.login_max_failures, cfg.login_lockout_seconds, backoff=True)
        # argon2 is slow on purpose: its own small pool, so bad log-ins never starve other requests
        self.password_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="govbot-argon2")

    def departments(self) -> set[str]:
        """Every department a ticket may go to: the routing table's targets and the default."""
        return {*self.router.table.values(), self.router.default}

    def check_department(self, department: str | None) -> None:
        """InvalidTicketError (422) for a department the routing table does not know."""
        if department is not None and department not in self.departments():
            raise InvalidTicketError(f"unknown department {department!r}: not in tickets.routing")

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = system_clock, url: str | None = None) -> TicketDesk:
        """The desk as the server and the CLI run it: when the 12345 platform link is enabled,
        every ticket change also writes its platform outbox row, in the same transaction."""
        desk = cls(settings, clock=clock, url=url)
        recorder.attach(desk.db, settings.hotline_platform)
        return desk

    def migrate(self) -> None:
        self.db.migrate()

    def ping(self) -> None:
        """One round trip to the ticket database (raises when it cannot be reached)."""
        with self.db.session() as s:
            s.execute(text("SELECT 1"))

    def close(self) -> None:
        self.password_pool.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()

    # --- tickets -------------------------------------------------------------------------
    def create(
        self,
        data: TicketCreate,
        *,
        actor: str,
        predicted_category: str | None = None,
        intake_key: str | None = None,
        transcript: list[dict[str, Any]] | None = None,
    ) -> Ticket:
        """Create (audited); with `intake_key`, a second call with the same key returns the
        ticket of the first (checked and recorded in the same transaction). A live chat's
        `transcript` is stored with the ticket in that transaction: no ticket without it."""
        self.check_department(data.department)
        cfg = self.settings.tickets
        window = timedelta(days=cfg.duplicate_window_days) if cfg.duplicate_window_days > 0 else None

        def job(s: Session) -> Ticket:
            if intake_key is not None and (known := s.get(IntakeKey, intake_key)) is not None:
                existing = s.get(Ticket, known.ticket_id)
                assert existing is not None
                add_transcript(s, existing.id, transcript or [])
                return existing
            ticket = crud.create_ticket(
                session=s,
                data=data,
                actor=actor,
                policy=self.policy,
                router=self.router,
                taxonomy=self.taxonomy,
                now=self.clock(),
                predicted_category=predicted_category,
                duplicate_window=window,
                duplicate_min_score=cfg.duplicate_min_score,
            )
            if intake_key is not None:
                s.add(IntakeKey(key=intake_key, ticket_id=ticket.id))
            add_transcript(s, ticket.id, transcript or [])
            s.flush()
            return ticket

        ticket = self.db.run(job, retry_integrity=True)
        log.info("tickets.created", extra={"ticket_no": ticket.ticket_no, "urgency": ticket.urgency})
        return ticket

    def _public(self, session: Session, ticket: Ticket, viewer: Viewer) -> TicketPublic:
        ids = {ticket.duplicate_of_id or 0, ticket.merged_into_id or 0}
        return TicketPublic.of(ticket, viewer, crud.ticket_numbers(session=session, ids=ids))

    def show(self, ticket_no: str, *, viewer: Viewer) -> TicketView:
        def job(s: Session) -> TicketView:
            ticket = crud.get_ticket(session=s, ticket_no=ticket_no, viewer=viewer)
            trail = [_audit_dict(a) for a in crud.audit_trail(session=s, ticket=ticket)]
            return TicketView(self._public(s, ticket, viewer), trail, ticket_transcript(s, ticket.id))

        return self.db.run(job)

    def transition(self, ticket_no: str, request: TransitionRequest, *, viewer: Viewer) -> TicketPublic:
        self.check_department(request.department)

        def job(s: Session) -> TicketPublic:
            ticket = crud.move_ticket(
                session=s, ticket_no=ticket_no, request=request, viewer=viewer, now=self.clock()
            )
            return self._public(s, ticket, viewer)

        moved = self.db.run(job)
        log.info("tickets.transition", extra={"ticket_no": ticket_no, "to": request.to, "actor": viewer.name})
        return moved

    def update(self, ticket_no: str, data: TicketUpdate, *, viewer: Viewer) -> TicketPublic:
        def job(s: Session) -> TicketPublic:
            ticket = crud.update_ticket(
                session=s,
                ticket_no=ticket_no,
                data=data,
                viewer=viewer,
                taxonomy=self.taxonomy,
                router=self.router,
                policy=self.policy,
                now=self.clock(),
            )
            return self._public(s, ticket, viewer)

        return self.db.run(job)

    def queue(self, *, viewer: Viewer, queue: str, limit: int = 100, offset: int = 0) -> list[TicketSummary]:
        def job(s: Session) -> list[TicketSummary]:
            rows = crud.list_tickets(session=s, viewer=viewer, queue=queue, limit=limit, offset=offset)
            return _summaries(s, rows)

        return self.db.run(job)

    def search(
        self, search: TicketSearch, *, viewer: Viewer, limit: int = 50, offset: int = 0
    ) -> list[TicketSummary]:
        """The desk's search; a date range is in local days (tickets.timezone)."""
        search = search.interpreted()
        zone = self.policy.calendar.zone
        first, last = search.date_from, search.date_to
        if day := _number_day(search.ticket_no):  # a number starts with the local day it came in
            first, last = max(first or day, day), min(last or day, day)
        since = _local_midnight(first, zone)
        until = _local_midnight(last + timedelta(days=1), zone) if last else None

        def job(s: Session) -> list[TicketSummary]:
            rows = crud.search_tickets(
                session=s, viewer=viewer, search=search, since=since, until=until, limit=limit, offset=offset
            )
            return _summaries(s, rows)

        return self.db.run(job)

    # --- the desk: notes and assignment -----------------------------------------------------
    def add_note(self, ticket_no: str, text: str, *, viewer: Viewer) -> TicketNote:
        def job(s: Session) -> TicketNote:
            note = add_note(session=s, ticket_no=ticket_no, text=text, viewer=viewer, now=self.clock())
            s.flush()
            s.expunge(note)
            return note

        return self.db.run(job)

    def notes(self, ticket_no: str, *, viewer: Viewer) -> list[TicketNote]:
        def job(s: Session) -> list[TicketNote]:
            rows = ticket_notes(session=s, ticket_no=ticket_no, viewer=viewer)
            s.expunge_all()
            return rows

        return self.db.run(job)

    def assign(self, ticket_no: str, assignee: str | None, *, viewer: Viewer) -> TicketPublic:
        def job(s: Session) -> TicketPublic:
            ticket = assign_ticket(
                session=s, ticket_no=ticket_no, assignee=assignee, viewer=viewer, now=self.clock()
            )
            return self._public(s, ticket, viewer)

        return self.db.run(job)

    def assignable(self, ticket_no: str, *, viewer: Viewer) -> list[tuple[str, str, str | None]]:
        return self.db.run(lambda s: assignable(session=s, ticket_no=ticket_no, viewer=viewer))

    def citizen_status(
        self, ticket_no: str, phone_last4: str, *, client: str | None = None
    ) -> TicketStatusPublic:
        def job(s: Session) -> TicketStatusPublic:
            ticket = crud.status_for_citizen(session=s, ticket_no=ticket_no, phone_last4=phone_last4)
            return TicketStatusPublic.model_validate(ticket, from_attributes=True)

        return self.guard_status(ticket_no, client, lambda: self.db.run(job))

    def guard_status(self, ticket_no: str, client: str | None, lookup: Callable[[], T]) -> T:
        """Run a citizen's look-up unless the ticket number or the client is locked out
        (RateLimitedError); a wrong number or last-4 answer (TicketNotFoundError) counts as a
        miss against both, whatever session or worker it came through."""
        keys = [f"status:ticket:{ticket_no.strip().upper()}"]
        if client:
            keys.append(f"status:client:{client}")
        if wait := self.status_lockout.locked_for(*keys):
            raise RateLimitedError("ticket number", wait)
        try:
            return lookup()
        except TicketNotFoundError:
            if self.status_lockout.fail(*keys):
                log.warning("tickets.status.locked", extra={"ticket_no": ticket_no, "client": client})
            raise

    # --- SLA ------------------------------------------------------------------------------
    def log_calendar_coverage(self) -> None:
        """Log up to which day holidays are known (at start-up, then with the first sweep of each day)."""
        now = self.clock()
        self._coverage_logged = now.astimezone(self.policy.calendar.zone).date()
        sla.log_coverage(self.policy.calendar, now)

    def sweep(self, *, client: httpx.Client | None = None) -> tuple[sla.SweepReport, DeliveryReport]:
        """Flag and escalate (one transaction), then deliver pending notifications."""
        if self._coverage_logged != self.clock().astimezone(self.policy.calendar.zone).date():
            self.log_calendar_coverage()
        report = self.db.run(lambda s: sla.sweep(session=s, policy=self.policy, now=self.clock()))
        delivery = deliver_pending(db=self.db, webhook=self.webhook, now=self.clock, client=client)
        if report.escalated or delivery.delivered or delivery.failed:
            log.info(
                "tickets.sweep",
                extra={"escalated": len(report.escalated), "delivered": len(delivery.delivered)},
            )
        return report, delivery

    def rates(self, start: datetime, end: datetime) -> sla.Rates:
        return self.db.run(lambda s: sla.rates(session=s, start=start, end=end, now=self.clock()))

    # --- users ----------------------------------------------------------------------------
    def add_user(
        self, username: str, password: str, *, role: str, department: str | None, by: Viewer | None = None
    ) -> None:
        """Create an account; `by` (from the administration pages) is checked and logged."""
        self.check_department(department)
        if by is not None:
            check_may_manage(by.role, role)

        def job(s: Session) -> None:
            now = self.clock()
            create_user(
                session=s, username=username, password=password, role=role, department=department, now=now
            )
            if by is not None:
                details = {"role": role, "department": department}
                record_action(
                    session=s, actor=by.name, action="user.create", target=username, details=details, now=now
                )

        self.db.run(job)

    def users(self) -> list[User]:
        def job(s: Session) -> list[User]:
            rows = list_users(session=s)
            s.expunge_all()
            return rows

        return self.db.run(job)

    def change_user(
        self,
        username: str,
        *,
        by: Viewer,
        role: str | None = None,
        department: str | None = None,
        clear_department: bool = False,
        active: bool | None = None,
        password: str | None = None,
    ) -> dict[str, object]:
        """Change an account from the administration pages (checked, logged); what changed."""
        self.check_department(department)

        def job(s: Session) -> dict[str, object]:
            current = user_role(session=s, username=username)
            if by.name == username and (active is False or role not in (None, current)):
                raise InvalidTicketError("you cannot disable your own account or change your own role")
            check_may_manage(by.role, current, role)
            changed = change_user(
                session=s,
                username=username,
                role=role,
                department=department,
                clear_department=clear_department,
                active=active,
                password=password,
            )
            if changed:
                record_action(
                    session=s,
                    actor=by.name,
                    action="user.update",
                    target=username,
                    details=changed,
                    now=self.clock(),
                )
            return changed

        return self.db.run(job)

    def record_action(self, *, by: Viewer, action: str, target: str, details: dict[str, Any]) -> None:
        """Log a staff change that is not a ticket's (the knowledge base, from the server)."""
        self.db.run(
            lambda s: record_action(
                session=s, actor=by.name, action=action, target=target, details=details, now=self.clock()
            )
        )

    def unanswered(self, *, limit: int = 100, offset: int = 0) -> list[UnansweredQuestion]:
        def job(s: Session) -> list[UnansweredQuestion]:
            rows = open_unanswered(session=s, limit=limit, offset=offset)
            s.expunge_all()
            return rows

        return self.db.run(job)

    def unanswered_question(self, question_id: int) -> UnansweredQuestion:
        def job(s: Session) -> UnansweredQuestion:
            row = get_unanswered(session=s, question_id=question_id)
            s.expunge(row)
            return row

        return self.db.run(job)

    def resolve_unanswered(self, question_id: int, item_id: str, *, by: Viewer) -> None:
        """Mark a logged question answered by an FAQ, and log who wrote it."""

        def job(s: Session) -> None:
            now = self.clock()
            resolve_unanswered(session=s, question_id=question_id, item_id=item_id, by=by.name, now=now)
            details = {"question_id": question_id}
            record_action(session=s, actor=by.name, action="kb.faq", target=item_id, details=details, now=now)

        self.db.run(job)

    def staff_actions(self, *, limit: int = 100, target: str | None = None) -> list[StaffAction]:
        def job(s: Session) -> list[StaffAction]:
            rows = recent_actions(session=s, limit=limit, target=target)
            s.expunge_all()
            return rows

        return self.db.run(job)

    def login(self, username: str, password: str) -> tuple[str, datetime, Account]:
        """A token for a right password; a locked username gets RateLimitedError without any
        password check, and each failure past the limit doubles the lock."""
        hours = timedelta(hours=self.settings.tickets.login_token_hours)
        key = f"login:{username.casefold()}"
        if wait := self.login_lockout.locked_for(key):
            raise RateLimitedError("account", wait)

        def job(s: Session) -> tuple[str, datetime, Account]:
            user = authenticate(session=s, username=username, password=password)
            token, expires = issue_token(session=s, user=user, now=self.clock(), lifetime=hours)
            return token, expires, Account(user.username, user.role, user.department)

        try:
            granted = self.db.run(job)
        except AuthenticationError:
            if wait := self.login_lockout.fail(key):
                log.warning("auth.login.locked", extra={"username": username, "seconds": wait})
            raise
        self.login_lockout.succeed(key)
        return granted

    def account(self, token: str) -> Account | None:
        return self.db.run(lambda s: account_for_token(session=s, token=token, now=self.clock()))

    def logout(self, token: str) -> bool:
        """Revoke one login token (true when it existed)."""
        return self.db.run(lambda s: revoke_token(session=s, token=token))

    def disable_user(self, username: str) -> int:
        """Deactivate an account and revoke its tokens; how many tokens were revoked."""
        return self.db.run(lambda s: disable_user(session=s, username=username))


def _summaries(session: Session, rows: list[Ticket]) -> list[TicketSummary]:
    """List rows, each open one with the number of the open ticket it looks like (merge candidates)."""
    numbers = crud.ticket_numbers(session=session, ids={t.duplicate_of_id or 0 for t in rows})
    out = []
    for ticket in rows:
        summary = TicketSummary.model_validate(ticket, from_attributes=True)
        if ticket.status in OPEN:
            summary.duplicate_of = numbers.get(ticket.duplicate_of_id or 0)
        out.append(summary)
    return out


def _number_day(ticket_no: str) -> date | None:
    try:
        return datetime.strptime(ticket_no[:8], "%Y%m%d").date() if len(ticket_no) >= 8 else None
    except ValueError:
        return None


def _local_midnight(day: date | None, zone: tzinfo) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _audit_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "actor": entry.actor,
        "at": entry.at.isoformat(),
        "action": entry.action,
        "changes": entry.changes,
    }


async def sweep_forever(
    desk: TicketDesk, interval_seconds: float, *, pause: Callable[[float], Awaitable[None]] | None = None
) -> None:
    """The server's background sweeper: every interval, in a worker thread; errors are logged.
    `pause` is how it waits between rounds (default anyio.sleep; tests pass one that does not)."""
    import anyio

    wait = pause or anyio.sleep
    while True:
        await wait(interval_seconds)
        try:
            await anyio.to_thread.run_sync(desk.sweep)
        except Exception:
            log.exception("tickets.sweep.failed")
