"""The store: migrated schema equals the models, ticket numbers, validation, masking, duplicates."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import inspect

from core.privacy import mask_phone
from core.settings import Settings
from tests.tickets.helpers import AGENT, DEPT, HANDLER, OTHER_HANDLER, SUPERVISOR
from tests.utils.factories import ticket_data
from tests.utils.ticketdb import FakeClock
from tickets.errors import InvalidTicketError, PermissionDeniedError, TicketNotFoundError
from tickets.models import Base
from tickets.routing import Taxonomy
from tickets.schemas import TicketPublic, TicketUpdate
from tickets.service import TicketDesk


def test_migrated_schema_matches_the_models(desk: TicketDesk) -> None:
    # every module that declares tables on Base, so the comparison does not depend on test order
    importlib.import_module("tickets.platform.models")
    importlib.import_module("tickets.unanswered")
    importlib.import_module("tickets.notes")
    importlib.import_module("tickets.staff_audit")
    importlib.import_module("tickets.handoff")
    with desk.db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == []
    assert {"tickets", "ticket_audit", "ticket_counters", "ticket_notifications", "users"} <= tables


def test_migrating_twice_is_harmless(make_desk: Callable[[], TicketDesk]) -> None:
    first = make_desk()
    ticket = first.create(ticket_data(), actor="a")
    second = make_desk()  # runs upgrade head again on the same database
    assert second.show(ticket.ticket_no, viewer=SUPERVISOR).ticket.title == ticket.title


def test_ticket_numbers_count_per_local_day(desk: TicketDesk, clock: FakeClock) -> None:
    clock.set_local("2026-11-23 23:59")
    numbers = [desk.create(ticket_data(), actor="a").ticket_no for _ in range(3)]
    assert numbers == ["20261123-0001", "20261123-0002", "20261123-0003"]
    clock.set_local("2026-11-24 00:01")  # still 23 November in UTC, but a new local day
    assert desk.create(ticket_data(), actor="a").ticket_no == "20261124-0001"


def test_routing_urgency_and_deadlines_are_set_at_creation(desk: TicketDesk, clock: FakeClock) -> None:
    clock.set_local("2026-11-27 17:00")
    normal = desk.create(ticket_data(category="环境保护"), actor="a")
    assert normal.department == "市生态环境局"
    assert normal.urgency == "normal"
    assert normal.feedback_deadline.isoformat() == "2026-11-30T09:00:00+00:00"  # Monday 17:00 local
    urgent = desk.create(ticket_data(content="楼下餐馆燃气泄漏，味道很大"), actor="a")
    assert urgent.urgency == "urgent" and urgent.urgent_reason == "关键词：燃气泄漏"
    assert (urgent.feedback_deadline - urgent.received_at).total_seconds() == 2 * 3600
    marked = desk.create(ticket_data(urgent=True, department="市公安局"), actor="a")
    assert marked.urgency == "urgent" and marked.department == "市公安局"
    stored = desk.show(marked.ticket_no, viewer=SUPERVISOR).ticket
    assert stored.feedback_deadline == marked.feedback_deadline


@pytest.mark.parametrize("phone", ["12345", "1381234567", "23812345678", "phone"])
def test_bad_phone_numbers_are_refused(phone: str) -> None:
    with pytest.raises(ValidationError, match="phone"):
        ticket_data(phone=phone)


def test_phone_numbers_are_normalised() -> None:
    assert ticket_data(phone="+86 138 1234 5678").phone == "13812345678"
    assert ticket_data(phone="020-12345678").phone == "020-12345678"


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("020-12345678") == "020****5678"


def test_public_view_masks_the_phone_unless_the_viewer_handles_the_ticket(desk: TicketDesk) -> None:
    ticket = desk.create(ticket_data(category="城乡建设"), actor="a")
    assert ticket.department == DEPT
    for viewer in (AGENT, SUPERVISOR):
        assert desk.show(ticket.ticket_no, viewer=viewer).ticket.phone == "138****5678"
    assert desk.show(ticket.ticket_no, viewer=HANDLER).ticket.phone == "13812345678"
    with pytest.raises(TicketNotFoundError):
        desk.show(ticket.ticket_no, viewer=OTHER_HANDLER)
    assert TicketPublic.of(ticket, OTHER_HANDLER).phone == "138****5678"


def test_first_level_categories_are_checked(desk: TicketDesk) -> None:
    with pytest.raises(InvalidTicketError, match="unknown first-level"):
        desk.create(ticket_data(category="不存在的分类"), actor="a")


def test_full_taxonomy_paths_are_checked(shared: Callable[..., Path], ticket_settings: Settings) -> None:
    taxonomy = Taxonomy.load(shared("data", "hotline_taxonomy.tsv"), {"其他"})
    taxonomy.check("城乡建设", "城乡规划", "违章建筑")
    assert len(taxonomy.paths) > 400 and "其他" in taxonomy.level1
    with pytest.raises(InvalidTicketError, match="second-level"):
        taxonomy.check("城乡建设", "教育", None)
    with pytest.raises(InvalidTicketError, match="third-level"):
        taxonomy.check("城乡建设", "城乡规划", "食品安全")


def test_without_the_taxonomy_file_only_the_first_level_is_known(tmp_path: Path) -> None:
    taxonomy = Taxonomy.load(tmp_path / "missing.tsv", {"城乡建设"})
    taxonomy.check("城乡建设", "随便", "什么")
    with pytest.raises(InvalidTicketError):
        taxonomy.check("环境保护", None, None)


def test_a_similar_open_ticket_is_suggested_as_duplicate_not_merged(
    desk: TicketDesk, clock: FakeClock
) -> None:
    first = desk.create(ticket_data(title="幸福小区东门路灯不亮", location="幸福小区东门"), actor="a")
    clock.advance(hours=3)
    again = desk.create(ticket_data(title="幸福小区东门路灯不亮了", location="幸福小区 东门"), actor="a")
    elsewhere = desk.create(ticket_data(title="幸福小区东门路灯不亮", location="光明路88号"), actor="a")
    view = desk.show(again.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.duplicate_of == first.ticket_no
    assert view.ticket.status == "待受理"
    assert view.audit[0]["changes"]["duplicate_suggestion"] == first.id
    assert desk.show(elsewhere.ticket_no, viewer=SUPERVISOR).ticket.duplicate_of is None
    clock.advance(days=8)  # outside the window
    late = desk.create(ticket_data(title="幸福小区东门路灯不亮", location="幸福小区东门"), actor="a")
    assert desk.show(late.ticket_no, viewer=SUPERVISOR).ticket.duplicate_of is None


def test_marking_a_ticket_urgent_later_tightens_its_deadlines(desk: TicketDesk, clock: FakeClock) -> None:
    ticket = desk.create(ticket_data(), actor=AGENT.name)
    clock.advance(minutes=30)
    updated = desk.update(
        ticket.ticket_no, TicketUpdate(urgent=True, urgent_reason="有老人被困"), viewer=AGENT
    )
    assert updated.urgency == "urgent" and updated.urgent_reason == "有老人被困"
    assert updated.feedback_deadline == ticket.received_at + timedelta(hours=2)
    audit = desk.show(ticket.ticket_no, viewer=SUPERVISOR).audit[-1]
    assert audit["action"] == "update" and audit["changes"]["urgency"] == ["normal", "urgent"]
    with pytest.raises(PermissionDeniedError):
        desk.update(ticket.ticket_no, TicketUpdate(title="x"), viewer=HANDLER)
