"""Knowledge upkeep from the administration pages: import an uploaded file with the importer
the CLI uses, edit or unpublish one item, and answer a logged unanswered question with an FAQ.

Every function runs with the assistant (inside the server's service lock, since the import
embeds with the shared encoder) and writes through the knowledge store, whose version bump is
what every worker's index follows (server/service.py refresher). Logging who did it is the
caller's (the desk's staff actions log).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from zoneinfo import ZoneInfo

from bot.assistant import Assistant
from core.privacy import mask_personal
from jobs.operations import ImportSummary, import_knowledge
from knowledge.importers import FORMATS
from knowledge.importers.base import ImportFormatError
from knowledge.importers.options import ImportOptions
from knowledge.models import FAQ, PolicyChunk, ServiceGuide, item_from_dict

Item = ServiceGuide | FAQ | PolicyChunk
MAX_REPORTED_ERRORS = 50


@dataclass
class ImportReport:
    """What the importer says about an uploaded file, as the page shows it."""

    filename: str
    read: int
    added: int
    changed: int
    embedded: int
    rejected: int
    removed_sample: int
    merged_duplicates: int
    item_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    kept_fields: dict[str, int] = field(default_factory=dict)
    dropped_keys: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, filename: str, summary: ImportSummary) -> ImportReport:
        result = summary.result
        return cls(
            filename=filename,
            read=len(result.items),
            added=summary.added,
            changed=summary.changed,
            embedded=summary.embedded,
            rejected=len(result.errors),
            removed_sample=summary.removed_sample,
            merged_duplicates=result.merged_duplicates,
            item_ids=[i.id for i in result.items][:200],
            # the temporary folder's path means nothing to the supervisor: errors name the upload
            errors=[f"{filename}:{e.line}: {e.reason}" for e in result.errors[:MAX_REPORTED_ERRORS]],
            kept_fields=dict(result.kept_fields().most_common()),
            dropped_keys=dict(result.dropped.most_common()),
        )


def safe_filename(name: str) -> str:
    """The upload's own name without any folder part (ImportFormatError when nothing is left)."""
    base = PurePath(name.replace("\\", "/")).name.strip()
    if not base or base.startswith("."):
        raise ImportFormatError(f"{name!r} is not a file name")
    return base


def import_upload(assistant: Assistant, filename: str, data: bytes, fmt: str = "auto") -> ImportReport:
    """Store the records of an uploaded file (one transaction, vectors included) and report."""
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    name = safe_filename(filename)
    knowledge = assistant.settings.knowledge
    options = ImportOptions(chunk_chars=knowledge.chunk_chars, chunk_overlap=knowledge.chunk_overlap)
    with tempfile.TemporaryDirectory(prefix="govbot-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        summary = import_knowledge(
            assistant.kb,
            path,
            fmt,
            options,
            encoder=assistant.resources.encoder,
            batch_size=assistant.settings.index.embedder.batch_size,
        )
    return ImportReport.of(name, summary)


def replace_item(assistant: Assistant, item_id: str, record: dict[str, object]) -> Item:
    """Store an edited record in place of the published item `item_id` (KeyError when absent;
    ValueError when the record is not a valid item or names another id)."""
    if assistant.kb.get(item_id) is None:
        raise KeyError(item_id)
    if record.get("id", item_id) != item_id:
        raise ValueError("an edit keeps the item's id; import a new record for a new id")
    item = item_from_dict({**record, "id": item_id})
    assistant.kb.upsert_many([item])
    return item


def faq_id_for_question(question_id: int) -> str:
    """One FAQ per logged question: writing it again replaces it."""
    return f"faq-desk-{question_id}"


def faq_for_question(
    *,
    question_id: int,
    question: str,
    answer: str,
    alt_questions: list[str],
    reviewer: str,
    now: datetime,
    zone: ZoneInfo,
) -> FAQ:
    """The FAQ a supervisor writes for a question the assistant could not answer (numbers
    masked in the question, which came from a citizen)."""
    return FAQ(
        id=faq_id_for_question(question_id),
        source="12345知识维护",
        updated=now.astimezone(zone).date(),
        question=mask_personal(question).strip(),
        alt_questions=[mask_personal(q).strip() for q in alt_questions if q.strip()],
        answer=answer.strip(),
        reviewed_by=reviewer,
        reviewed_at=now,
    )
