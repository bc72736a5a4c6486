"""Answer text and cards composed only from fields the knowledge base holds, with the source cited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.messages import Citation
from bot.responses import Responses
from core.vocab import GUIDE_FIELD_LABELS
from knowledge.models import FAQ, PolicyChunk, ServiceGuide

# What a summary card shows when the question names no particular field.
SUMMARY_FIELDS = (
    "body",
    "conditions",
    "materials",
    "location",
    "office_hours",
    "promised_time_limit",
    "legal_time_limit",
    "fees",
    "phone_enquiry",
    "online_url",
)
_MAX_LIST = 8
# Close articles of the same document quoted after the best one (more would bury it).
MAX_RELATED = 2
_MAX_TEXT = 220


def _format(value: str | list[str]) -> str:
    if isinstance(value, list):
        shown = value[:_MAX_LIST]
        lines = [f"  {i}. {v}" for i, v in enumerate(shown, start=1)]
        if len(value) > _MAX_LIST:
            lines.append(f"  …共{len(value)}项")
        return "\n" + "\n".join(lines)
    return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "…"


def citation(item: ServiceGuide | FAQ | PolicyChunk) -> str:
    """The source line that ends every answer: where it comes from, in words a citizen reads.

    Internal ids stay out of it (they are in `item_id` and the JSON sources); sample
    content always says so.
    """
    who = getattr(item, "department", None)
    parts = [p for p in (item.source, who) if p]
    note = "（示例内容）" if item.sample else ""
    return f"来源：{' · '.join(parts) or '知识库'}{note}"


def cited(item: ServiceGuide | FAQ | PolicyChunk) -> Citation:
    """The item behind an answer as citizens see it: its name, its source and a link."""
    return Citation(
        title=item.title,
        source=item.source or None,
        department=getattr(item, "department", None),
        url=getattr(item, "online_url", None),
        sample=item.sample,
    )


def guide_card(guide: ServiceGuide, fields: list[str]) -> dict[str, Any]:
    """The cited fields as data (widget cards); only fields the guide holds."""
    shown = fields or list(SUMMARY_FIELDS)
    card: dict[str, Any] = {"id": guide.id, "title": guide.name, "source": guide.source}
    for field in dict.fromkeys([*shown, "department"]):
        value = guide.field_value(field)
        if value:
            card[field] = value
    return card


def _contact_hint(guide: ServiceGuide, responses: Responses) -> str:
    """Where to ask instead, built only from the phone and URL the guide holds."""
    hints = []
    if guide.phone_enquiry:
        hints.append(responses.render("utter_field_missing_phone_hint", phone=guide.phone_enquiry))
    if guide.online_url:
        hints.append(responses.render("utter_field_missing_url_hint", url=guide.online_url))
    return "".join(hints)


def answer_guide(guide: ServiceGuide, fields: list[str], responses: Responses) -> str:
    lines = [f"【{guide.name}】"]
    wanted = fields or list(SUMMARY_FIELDS)
    missing = []
    for field in dict.fromkeys(wanted):
        value = guide.field_value(field)
        if value:
            lines.append(f"{GUIDE_FIELD_LABELS.get(field, field)}：{_format(value)}")
        elif fields:
            missing.append(GUIDE_FIELD_LABELS.get(field, field))
    if missing:
        lines.append(
            responses.render(
                "utter_field_missing",
                item=guide.name,
                field="、".join(missing),
                contact=_contact_hint(guide, responses),
            )
        )
    if len(lines) == 1:  # the guide holds nothing beyond its name
        lines.append(
            responses.render(
                "utter_field_missing",
                item=guide.name,
                field="办理信息",
                contact=_contact_hint(guide, responses),
            )
        )
    lines.append(citation(guide))
    return "\n".join(lines)


def answer_item(
    item: ServiceGuide | FAQ | PolicyChunk,
    fields: list[str],
    responses: Responses,
    related: Sequence[PolicyChunk] = (),
) -> tuple[str, dict[str, Any]]:
    """Reply text and card for any item kind; `related`: close articles of the same document."""
    if isinstance(item, ServiceGuide):
        return answer_guide(item, fields, responses), guide_card(item, fields)
    if isinstance(item, FAQ):
        lines = [f"【{item.question}】", item.answer]
        card = {"id": item.id, "title": item.question, "answer": item.answer}
        if item.body:
            lines.append(f"{GUIDE_FIELD_LABELS['body']}：{_format(item.body)}")
            card["body"] = item.body
        return "\n".join([*lines, citation(item)]), card
    return answer_chunk(item, responses, related[:MAX_RELATED]), chunk_card(item)


def chunk_card(chunk: PolicyChunk) -> dict[str, Any]:
    """The quoted clause as data: its document, article or section, and the full text."""
    card: dict[str, Any] = {"id": chunk.id, "title": chunk.title, "document": chunk.doc_title}
    for key in ("article", "heading", "source"):
        value = getattr(chunk, key)
        if value:
            card[key] = value
    card["text"] = chunk.text
    return card


def answer_chunk(chunk: PolicyChunk, responses: Responses, related: Sequence[PolicyChunk] = ()) -> str:
    """The matching article or clause quoted in full, named by document and article, with where the rest is.

    Never cut: a chunk is already one article or one numbered clause (see knowledge.chunking),
    and a clause cut before its condition or amount is the answer lost.
    """
    section = f"（{chunk.heading}）" if chunk.article and chunk.heading else ""
    lines = [f"{chunk.title}{section}：", chunk.text]
    for other in related:  # near ties in one document: quoted too, rather than a clarify by number
        lines += [responses.render("utter_document_related", place=other.place), other.text]
    where = chunk.source or chunk.doc_title
    lines.append(
        responses.render("utter_document_rest", document=chunk.doc_name, place=chunk.place, source=where)
    )
    lines.append(citation(chunk))
    return "\n".join(lines)
