"""Knowledge upkeep from the browser (supervisors and admins): search, edit, unpublish, import
an uploaded file (the CLI's importer, its report shown), and the unanswered-question queue with
"write an FAQ for this".

Each change goes into the shared knowledge base, whose version bump every worker's index
follows; this worker catches up before answering, so the supervisor's next question already
sees it. Every change is logged in the staff actions log (who, when, what).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from jobs.kb_upkeep import ImportReport, faq_for_question, import_upload, replace_item
from knowledge.importers.base import ImportFormatError
from server.deps import CanManageKB, Desk, Service
from server.inputs import SQL_INT_MAX, Position
from server.service import AssistantService

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])


class ItemRow(BaseModel):
    id: str
    kind: str
    title: str
    source: str


class ItemRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=200)


class ItemEdit(ItemRef):
    record: dict[str, Any] = Field(description="The whole record, as GET /api/v1/kb/items/{id} shows it")


class UnansweredOut(BaseModel):
    id: int
    at: datetime
    channel: str
    reason: str
    text: str


class FaqIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    question_id: int = Field(ge=1, le=SQL_INT_MAX)
    question: str = Field(min_length=1, max_length=200, description="As citizens ask it")
    answer: str = Field(min_length=1, max_length=4000)
    alt_questions: list[str] = Field(default_factory=list, max_length=20)


class KbChange(BaseModel):
    item_id: str
    kb_version: int


async def _catch_up(service: AssistantService) -> int:
    """This worker's index brought up to the knowledge base's version (others follow by
    themselves); the version it now serves."""
    await anyio.to_thread.run_sync(service.refresh_index)
    return await anyio.to_thread.run_sync(service.assistant.kb.version)


@router.get("/kb/items", response_model=list[ItemRow])
async def search_items(
    service: Service,
    _overseer: CanManageKB,
    q: str = Query("", max_length=100, description="words in the title, id or source"),
    kind: str | None = Query(None, pattern="^(guide|faq|chunk)$"),
    limit: int = Query(50, ge=1, le=200),
) -> list[ItemRow]:
    rows = await anyio.to_thread.run_sync(lambda: service.assistant.kb.search_rows(q, kind, limit))
    return [ItemRow(id=i, kind=k, title=t, source=s) for i, k, t, s in rows]


@router.post("/kb/items/update", response_model=KbChange)
async def edit_item(data: ItemEdit, service: Service, desk: Desk, overseer: CanManageKB) -> KbChange:
    """Replace a published item with the edited record (422 when it is not a valid item)."""
    record = {k: v for k, v in data.record.items() if k != "title"}  # `title` is derived, not stored

    def job(assistant: Any) -> str:
        try:
            return replace_item(assistant, data.item_id, record).title
        except KeyError:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published item {data.item_id!r}") from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    title = await service.run(job)
    details = {"title": title, "fields": sorted(record)}
    await anyio.to_thread.run_sync(
        lambda: desk.record_action(by=overseer, action="kb.edit", target=data.item_id, details=details)
    )
    return KbChange(item_id=data.item_id, kb_version=await _catch_up(service))


@router.post("/kb/unpublish", response_model=KbChange)
async def unpublish_item(data: ItemRef, service: Service, desk: Desk, overseer: CanManageKB) -> KbChange:
    """Take an item out of every worker's answers (the row stays as a tombstone)."""
    item = await anyio.to_thread.run_sync(service.assistant.kb.get, data.item_id)
    if item is None or not await anyio.to_thread.run_sync(service.assistant.kb.unpublish, data.item_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published item {data.item_id!r}")
    await anyio.to_thread.run_sync(
        lambda: desk.record_action(
            by=overseer, action="kb.unpublish", target=data.item_id, details={"title": item.title}
        )
    )
    return KbChange(item_id=data.item_id, kb_version=await _catch_up(service))


@router.post("/kb/import", response_model=dict[str, Any])
async def import_file(
    request: Request,
    service: Service,
    desk: Desk,
    overseer: CanManageKB,
    filename: str = Query(
        min_length=1, max_length=200, description="The file's name; its suffix says the format"
    ),
    format: str = Query("auto", max_length=16),
) -> dict[str, Any]:
    """Import the request body (the file's bytes) with the CLI's importer; the importer's report.
    A file it cannot read at all is 422; bad records are reported and skipped."""
    data = await request.body()
    if not data:
        raise HTTPException(422, "the file is empty")
    try:
        report: ImportReport = await service.run(lambda a: import_upload(a, filename, data, format))
    except ImportFormatError as exc:
        raise HTTPException(422, str(exc)) from None
    shown = asdict(report)
    details = {k: shown[k] for k in ("read", "added", "changed", "rejected", "removed_sample")}
    await anyio.to_thread.run_sync(
        lambda: desk.record_action(by=overseer, action="kb.import", target=report.filename, details=details)
    )
    shown["kb_version"] = await _catch_up(service)
    return shown


@router.get("/unanswered", response_model=list[UnansweredOut])
def unanswered(
    desk: Desk, _overseer: CanManageKB, limit: int = Query(100, ge=1, le=500), offset: Position = 0
) -> list[UnansweredOut]:
    """Questions the assistant could not answer and nobody has answered yet, newest first
    (stored masked)."""
    return [
        UnansweredOut.model_validate(r, from_attributes=True)
        for r in desk.unanswered(limit=limit, offset=offset)
    ]


@router.post("/unanswered/faq", response_model=KbChange, status_code=status.HTTP_201_CREATED)
async def answer_with_faq(data: FaqIn, service: Service, desk: Desk, overseer: CanManageKB) -> KbChange:
    """Write an FAQ for a logged question: stored, indexed on every worker, the question closed."""
    await anyio.to_thread.run_sync(desk.unanswered_question, data.question_id)  # 404 when unknown
    faq = faq_for_question(
        question_id=data.question_id,
        question=data.question,
        answer=data.answer,
        alt_questions=data.alt_questions,
        reviewer=overseer.name,
        now=desk.clock(),
        zone=desk.policy.calendar.zone,
    )
    await service.run(lambda a: a.kb.upsert_many([faq]))
    await anyio.to_thread.run_sync(lambda: desk.resolve_unanswered(data.question_id, faq.id, by=overseer))
    return KbChange(item_id=faq.id, kb_version=await _catch_up(service))
