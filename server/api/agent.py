"""Hotline agents: suggested answers for what a caller is asking, while on the call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from bot.assistant import Assistant
from knowledge.models import FAQ, ServiceGuide
from server.deps import AppSettings, CanSuggest, Service

router = APIRouter(prefix="/api/v1", tags=["agent"])

KEY_FIELDS = ("body", "department", "materials", "location", "office_hours", "promised_time_limit", "fees")


class Suggestion(BaseModel):
    id: str
    title: str
    score: float
    kind: str
    summary: dict[str, Any]


class Suggestions(BaseModel):
    query: str
    intent: str
    suggestions: list[Suggestion]


def suggest(assistant: Assistant, query: str, k: int) -> Suggestions:
    parsed = assistant.parse(query)
    hits = assistant.retrieve(parsed, top_k=k) if parsed.text else []
    out: list[Suggestion] = []
    for hit in hits[:k]:
        item = assistant.kb.get(hit.id)
        if item is None:
            continue
        if isinstance(item, ServiceGuide):
            summary = {f: getattr(item, f) for f in KEY_FIELDS if getattr(item, f)}
        elif isinstance(item, FAQ):
            summary = {"answer": item.answer}
        else:
            summary = {"text": item.text[:300]}
        summary["source"] = item.source
        out.append(Suggestion(id=item.id, title=item.title, score=hit.score, kind=item.kind, summary=summary))
    return Suggestions(query=parsed.text, intent=parsed.intent, suggestions=out)


@router.get("/suggest", response_model=Suggestions)
async def suggest_answers(
    service: Service,
    settings: AppSettings,
    _agent: CanSuggest,
    q: str = Query(min_length=1, max_length=4000, description="The question or a call transcript"),
    k: int = Query(5, ge=1, description="How many suggestions"),
) -> Suggestions:
    """Top-k suggested answers with their key fields and sources (agents only)."""
    if k > settings.server.suggest_max_k:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, f"k must be ≤ {settings.server.suggest_max_k}"
        )
    return await service.run(lambda a: suggest(a, q, k))
