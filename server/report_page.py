"""The daily report as one self-contained HTML page: inline SVG bar charts drawn here, on the
server; no script, no external stylesheet or font. Every text from tickets is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from core.privacy import mask_personal
from tickets.reports import Count, DailyReport

BAR_HEIGHT = 22
LABEL_WIDTH = 170
BAR_MAX = 300
CSS = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#1f2933}
body{max-width:980px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #d9e2ec}
.kpis{display:flex;gap:1em;flex-wrap:wrap}.kpi{background:#f0f4f8;padding:.6em 1em;border-radius:6px}
.kpi b{display:block;font-size:1.4em}table{border-collapse:collapse}td,th{padding:.25em .7em;text-align:left}
tr:nth-child(even){background:#f7f9fb}.empty{color:#829ab1}.bad b{color:#c53030}
"""


def bar_chart(counts: Sequence[Count], *, title: str, color: str = "#2f80ed") -> str:
    """A horizontal bar chart as inline SVG (an empty-state note when there is nothing to draw)."""
    if not counts or not any(c.count for c in counts):
        return f'<p class="empty">{escape(title)}：无数据</p>'
    top = max(c.count for c in counts)
    height = BAR_HEIGHT * len(counts) + 8
    width = LABEL_WIDTH + BAR_MAX + 60
    rows = []
    for i, c in enumerate(counts):
        y = 4 + i * BAR_HEIGHT
        length = round(BAR_MAX * c.count / top) if top else 0
        full = mask_personal(c.label)
        label = escape(full if len(full) <= 14 else full[:13] + "…")
        rows.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="13">{label}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length}" height="{BAR_HEIGHT - 6}" fill="{color}">'
            f"<title>{escape(full)}: {c.count}</title></rect>"
            f'<text x="{LABEL_WIDTH + length + 4}" y="{y + 15}" font-size="12">{c.count}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">{"".join(rows)}</svg>'
    )


def _rate(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float) else "—"


def _kpi(label: str, value: object, *, bad: bool = False) -> str:
    css = "kpi bad" if bad else "kpi"
    return f'<div class="{css}"><b>{escape(str(value))}</b>{escape(label)}</div>'


def render_daily(report: DailyReport) -> str:
    sla = report.sla
    kpis = "".join(
        [
            _kpi("受理工单", report.received),
            _kpi("按时反馈率", _rate(sla.get("on_time_feedback_rate"))),
            _kpi("按时办结率", _rate(sla.get("on_time_completion_rate"))),
            _kpi("当日工单预警", sla.get("at_risk", 0), bad=bool(sla.get("at_risk"))),
            _kpi("当日工单超期", sla.get("overdue", 0), bad=bool(sla.get("overdue"))),
            _kpi("全部在办预警", sla.get("backlog_at_risk", 0), bad=bool(sla.get("backlog_at_risk"))),
            _kpi("全部在办超期", sla.get("backlog_overdue", 0), bad=bool(sla.get("backlog_overdue"))),
            _kpi("助手未答问题", report.unanswered),
        ]
    )
    activity = report.activity
    origin = {"ticket": "工单", "assistant": "智能助手"}
    hot_rows = "".join(
        f"<tr><td>{escape(mask_personal(h.text))}</td><td>{h.count}</td>"
        f"<td>{origin.get(h.source, h.source)}</td></tr>"
        for h in report.hot_questions
    )
    gap_rows = "".join(
        f"<tr><td>{escape(mask_personal(g.text))}</td><td>{g.count}</td><td>{escape('、'.join(g.reasons))}</td></tr>"
        for g in report.kb_gaps
    )
    empty = '<p class="empty">无</p>'
    sections = [
        f"<h1>12345 热线日报 · {escape(report.day)}</h1>",
        f'<p class="empty">时区 {escape(report.timezone)}，生成于 {escape(report.generated_at)}；'
        f"已合并工单 {report.merged} 件不计入统计。</p>",
        f'<div class="kpis">{kpis}</div>',
        f"<p>当日办理：反馈 {activity.get('feedback', 0)} 件，办结 {activity.get('completed', 0)} 件，"
        f"回访 {activity.get('called_back', 0)} 件。</p>",
        "<h2>按一级分类</h2>",
        bar_chart(report.by_category, title="按一级分类"),
        "<h2>按渠道</h2>",
        bar_chart(report.by_channel, title="按渠道", color="#27ae60"),
        "<h2>按承办部门</h2>",
        bar_chart(report.by_department, title="按承办部门", color="#8e44ad"),
        "<h2>满意度（当日回访）</h2>",
        bar_chart(report.satisfaction, title="满意度", color="#f2994a"),
        "<h2>热词</h2>",
        bar_chart(report.hot_words, title="热词", color="#eb5757"),
        "<h2>热点问题</h2>",
        f"<table><tr><th>问题</th><th>次数</th><th>来源</th></tr>{hot_rows}</table>" if hot_rows else empty,
        "<h2>知识库缺口（智能助手未能回答）</h2>",
        f"<table><tr><th>问题（已脱敏）</th><th>次数</th><th>原因</th></tr>{gap_rows}</table>"
        if gap_rows
        else empty,
    ]
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>12345 日报 {escape(report.day)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )
