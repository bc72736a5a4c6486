"""Rasa's NLU endpoint, `POST /model/parse`, so Rasa tooling can use govbot's NLU pipeline.

The reply has Rasa's parse shape: `text`, `intent`, `intent_ranking` and `entities`
(`entity`, `value`, `start`, `end`, `extractor`). `text` is the normalised text
that the pipeline worked on, and entity offsets index into it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from server.deps import Service

router = APIRouter(prefix="/model", tags=["rasa"])


class ParseRequest(BaseModel):
    text: str = Field(description="The message to understand")
    message_id: str | None = Field(None, description="Echoed back, as Rasa does (any length: Rasa sets it)")


class Intent(BaseModel):
    name: str
    confidence: float


class ParsedEntity(BaseModel):
    entity: str
    value: str
    start: int
    end: int
    extractor: str
    confidence: float | None = None


class ParseResult(BaseModel):
    text: str
    intent: Intent
    intent_ranking: list[Intent]
    entities: list[ParsedEntity]
    message_id: str | None = None


@router.post("/parse", response_model=ParseResult, response_model_exclude_none=True)
async def parse(request: ParseRequest, service: Service) -> dict[str, Any]:
    """Intent, intent ranking and entities of one message, in Rasa's shape."""
    result = await service.run(lambda a: a.parse(request.text).parse_result())
    if request.message_id is not None:
        result["message_id"] = request.message_id
    return result
