"""Operations: liveness, readiness, Prometheus metrics, and what is running (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from core.settings import describe
from server import metrics
from server.deps import Admin, AppSettings, Desk, Service

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def ready(service: Service, desk: Desk, response: Response) -> dict[str, Any]:
    """Knowledge base, index and models are loaded (503 until they are); up to which day the
    ticket calendar knows the official holidays (a warning there does not make it unready)."""
    checks = await service.run(lambda _a: service.readiness())
    checks["calendar"] = desk.policy.calendar.coverage(desk.clock()).as_dict()
    if not checks["ready"]:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return checks


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


@router.get("/-/settings")
async def running_settings(settings: AppSettings, service: Service, _admin: Admin) -> dict[str, Any]:
    """Active settings (secrets shown only as set / not set) and the NLU pipeline."""
    shown = describe(settings)
    shown["pipeline_active"] = await service.run(lambda a: a.pipeline.describe())
    return shown
