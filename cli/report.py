"""`govbot report daily` and `govbot tickets promote-faq`: thin shells around tickets.reports and
jobs.promotion. Like `govbot tickets`, they act with the operator's (supervisor's) rights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.tickets import open_desk, tickets_app
from core.files import write_private
from tickets.users import Account

report_app = typer.Typer(
    help="Reports over the 12345 tickets and the assistant's questions.", no_args_is_help=True
)


@report_app.command("daily")
def daily(
    day: Annotated[str | None, typer.Option("--date", help="Local day YYYY-MM-DD (default: today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the HTML page (SVG charts) here.")] = None,
    top: Annotated[int, typer.Option(help="How many hot words, questions and gaps to list.")] = 20,
) -> None:
    """The daily report: intake by category/channel/department, SLA, satisfaction, hot words, KB gaps."""
    from server.report_page import render_daily
    from tickets.reports import desk_daily_report

    with open_desk() as desk:
        report = desk_daily_report(desk, day=day, top=top)
    if out is not None:
        write_private(out, render_daily(report))
        typer.echo(f"wrote {out}", err=True)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
        return
    if out is not None:
        return
    sla = report.sla

    def rate(value: float | None) -> str:
        return f"{value:.1%}" if value is not None else "—"

    typer.echo(f"12345 日报 {report.day} ({report.timezone})：受理 {report.received} 件")
    for title, counts in (
        ("一级分类", report.by_category),
        ("渠道", report.by_channel),
        ("承办部门", report.by_department),
        ("满意度", report.satisfaction),
        ("热词", report.hot_words[:10]),
    ):
        typer.echo(f"  {title}：" + ("，".join(f"{c.label} {c.count}" for c in counts) or "无"))
    typer.echo(
        f"  按时反馈率 {rate(sla['on_time_feedback_rate'])}，"
        f"按时办结率 {rate(sla['on_time_completion_rate'])}，"
        f"预警 {sla['at_risk']}，超期 {sla['overdue']}（在办全部：预警 {sla['backlog_at_risk']}，"
        f"超期 {sla['backlog_overdue']}）"
    )
    typer.echo(
        f"  助手未答 {report.unanswered} 条：" + ("；".join(g.text for g in report.kb_gaps[:5]) or "无")
    )


@tickets_app.command("promote-faq")
def promote_faq(
    ticket_no: str,
    question: Annotated[str | None, typer.Option(help="FAQ question (default: the ticket title).")] = None,
    answer: Annotated[str | None, typer.Option(help="FAQ answer (default: the ticket's 反馈).")] = None,
    actor: Annotated[str, typer.Option("--actor", help="The reviewing supervisor (recorded).")] = "cli",
) -> None:
    """Promote a closed ticket's official reply to a reviewed FAQ, indexed at once."""
    from bot.assistant import Assistant
    from jobs.promotion import promote_ticket

    with open_desk() as desk:
        assistant = Assistant(desk.settings)
        try:
            result = promote_ticket(
                desk=desk,
                assistant=assistant,
                ticket_no=ticket_no,
                viewer=Account(name=actor, role="supervisor", department=None),
                question=question,
                answer=answer,
            )
        finally:
            assistant.close()
    typer.echo(
        f"{ticket_no} -> FAQ {result.item_id} ({result.source}); "
        f"index: {result.index_total} items, {result.embedded} embedded"
    )
