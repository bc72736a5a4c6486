"""Read access to knowledge-base items, for answer cards and agents (public content)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from server.deps import Service

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge"])


@router.get("/items/{item_id}")
async def get_item(item_id: str, service: Service) -> dict[str, Any]:
    """One item with every field the knowledge base holds (service guide, FAQ or policy chunk)."""
    item = await service.run(lambda a: a.kb.get(item_id))
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no knowledge-base item {item_id!r}")
    shown = item.model_dump(mode="json", exclude_none=True)
    shown["title"] = item.title
    return shown
