"""Operations: liveness, readiness, Prometheus metrics, and what is running (admins only)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response, status

from core.settings import describe
from server import metrics
from server.deps import AppSettings, CanReadSettings, Desk, Service
from server.limits import RedisRateLimiter

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _probe(check: Callable[[], object]) -> dict[str, Any]:
    try:
        check()
    except Exception as exc:  # reported, not raised: readiness must answer
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:160]}"}
    return {"ok": True}


@router.get("/readyz")
async def ready(service: Service, desk: Desk, request: Request, response: Response) -> dict[str, Any]:
    """Each dependency: `index` (knowledge base, index and models loaded) and `database` (the
    ticket store) are required, 503 while either is down; `redis` (when configured) is not:
    without it, limits and sessions fall back to this process. Also up to which day the ticket
    calendar knows the official holidays (a warning there does not make it unready).
    /healthz stays a plain liveness check. `worker_pid`: which worker process answered (with
    several workers each keeps its own engine and index, so a check says which one it saw)."""
    checks = await service.run(lambda _a: service.readiness())
    limiter = request.app.state.limiter
    dependencies: dict[str, dict[str, Any]] = {
        "index": {"ok": bool(checks["ready"]), "required": True},
        "database": {**await anyio.to_thread.run_sync(_probe, desk.ping), "required": True},
    }
    if isinstance(limiter, RedisRateLimiter):
        dependencies["redis"] = {**await anyio.to_thread.run_sync(_probe, limiter.ping), "required": False}
    checks["dependencies"] = dependencies
    checks["calendar"] = desk.policy.calendar.coverage(desk.clock()).as_dict()
    checks["startup"] = request.app.state.startup.report()
    checks["worker_pid"] = os.getpid()
    checks["ready"] = all(d["ok"] for d in dependencies.values() if d["required"])
    if not checks["ready"]:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return checks


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


@router.get("/-/settings")
async def running_settings(
    settings: AppSettings, service: Service, _admin: CanReadSettings
) -> dict[str, Any]:
    """Active settings (secrets shown only as set / not set) and the NLU pipeline."""
    shown = describe(settings)
    shown["pipeline_active"] = await service.run(lambda a: a.pipeline.describe())
    return shown
