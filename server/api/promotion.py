"""Close the loop: promote a closed ticket's official reply to a reviewed FAQ (supervisors)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from jobs.promotion import PromotionResult, promote_ticket
from server.deps import CanPromote, Desk, Service
from tickets.promotion import PromotionRefusedError

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


class PromoteIn(BaseModel):
    """Both optional: by default the ticket's title is the question and its 反馈 the answer."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    question: str | None = Field(None, min_length=1, max_length=200)
    answer: str | None = Field(None, min_length=1, max_length=4000)


async def promotion_refused_response(_request: Request, exc: Exception) -> JSONResponse:
    """Registered by the app factory: a ticket that is not closed or has no reply -> 409."""
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


@router.post("/{ticket_no}/promote-faq", status_code=status.HTTP_201_CREATED, response_model=PromotionResult)
async def promote_faq(
    ticket_no: str, desk: Desk, service: Service, supervisor: CanPromote, body: PromoteIn | None = None
) -> PromotionResult:
    """Store the reply as an FAQ citing the ticket and index it at once (409 unless closed)."""
    edits = body or PromoteIn()
    result = await service.run(
        lambda assistant: promote_ticket(
            desk=desk,
            assistant=assistant,
            ticket_no=ticket_no,
            viewer=supervisor,
            question=edits.question,
            answer=edits.answer,
        )
    )
    return result


__all__ = ["PromotionRefusedError", "promotion_refused_response", "router"]
