"""Reports for supervisors: the daily report as JSON and as an HTML page with inline SVG charts."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from server.deps import CanReadReports, Desk
from server.report_page import render_daily
from tickets.reports import desk_daily_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
pages = APIRouter(prefix="/reports", tags=["reports"])

DayQuery = Query(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Local day YYYY-MM-DD (default today)")


@router.get("/daily")
async def daily_json(desk: Desk, _supervisor: CanReadReports, date: str | None = DayQuery) -> dict[str, Any]:
    """Counts by category, channel and department; SLA; satisfaction; hot words; KB gaps."""
    report = await anyio.to_thread.run_sync(lambda: desk_daily_report(desk, day=date))
    return report.as_dict()


@pages.get("/daily", response_class=HTMLResponse)
async def daily_page(desk: Desk, _supervisor: CanReadReports, date: str | None = DayQuery) -> HTMLResponse:
    """The same report as a self-contained page (charts drawn server-side as SVG)."""
    report = await anyio.to_thread.run_sync(lambda: desk_daily_report(desk, day=date))
    return HTMLResponse(render_daily(report))
