"""The daily report: what came in on one local day, how the SLA stands, what citizens asked about,
and which questions the assistant could not answer (knowledge-base gaps).

`daily_report` is a keyword-only data function over a session; it returns plain data
(`DailyReport`), which the API serves as JSON, the page draws as SVG and the CLI prints.
Every text in it is masked (core/privacy.py): a report is read by people who need no numbers.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.privacy import mask_personal
from core.vocab import MERGED, OPEN, SATISFACTION
from tickets.errors import TicketError
from tickets.models import AuditEntry, Ticket
from tickets.sla import SlaPolicy, assess, rates
from tickets.unanswered import unanswered_between

if TYPE_CHECKING:
    from tickets.service import TicketDesk

UNCATEGORISED = "未分类"
UNASSIGNED = "未分派"

# Words that say nothing about the matter: function words and the boilerplate of 12345 messages.
_STOP_TEXT = """
    的 了 和 是 在 有 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 哪里 什么 怎么 怎么办 怎样 如何
    为什么 请问 请 问 能 能否 可以 是否 吗 呢 吧 啊 呀 么 还 也 都 就 又 及 与 或 并 而 但 被 把 给 让
    对 从 向 到 于 为 以 之 其 已 已经 没有 没 不 未 一个 一直 一下 一些 现在 目前 今天 昨天 时候 多少
    问题 反映 反应 情况 相关 希望 要求 建议 咨询 投诉 求助 市民 网友 您好 你好 谢谢 感谢 领导 有关 部门
    进行 处理 解决 尽快 及时 存在 导致 造成 出现 无法 不能 不会 需要 应该 这样 那么 如果 因为 所以 然后
    年 月 日 号 天 个 次 多 很 太 非常 严重 市 区 县 A市 A1区 A2区 A3区 A4区 A5区 A6区 A7区
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_WORDY = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_NUMBERISH = re.compile(r"\d{3}|\*")  # a (masked) number's pieces, e.g. 002X, say nothing
_PUNCT = re.compile(r"[\s\d*，,。.？?！!、；;：:]")  # digits too: masked numbers differ


class ReportError(TicketError):
    """The report cannot be made as asked (a malformed date, an unknown time zone)."""


@dataclass(frozen=True)
class Count:
    label: str
    count: int


@dataclass(frozen=True)
class HotQuestion:
    text: str
    count: int
    source: str  # "ticket" | "assistant"


@dataclass(frozen=True)
class Gap:
    text: str
    count: int
    reasons: list[str]


@dataclass
class DailyReport:
    day: str
    timezone: str
    generated_at: str
    received: int
    merged: int
    by_category: list[Count] = field(default_factory=list)
    by_channel: list[Count] = field(default_factory=list)
    by_department: list[Count] = field(default_factory=list)
    by_type: list[Count] = field(default_factory=list)
    sla: dict[str, Any] = field(default_factory=dict)
    activity: dict[str, int] = field(default_factory=dict)
    satisfaction: list[Count] = field(default_factory=list)
    hot_words: list[Count] = field(default_factory=list)
    hot_questions: list[HotQuestion] = field(default_factory=list)
    kb_gaps: list[Gap] = field(default_factory=list)
    unanswered: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_day(text: str | None, *, zone: ZoneInfo, now: datetime) -> date:
    """YYYY-MM-DD, or today in `zone` when absent."""
    if not text:
        return now.astimezone(zone).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"date must be YYYY-MM-DD, got {text!r}") from None


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local day, as UTC."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _counts(values: Iterable[str]) -> list[Count]:
    counter = Counter(values)
    return [Count(label, n) for label, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def hot_words(texts: Iterable[str], *, top: int = 20) -> list[Count]:
    """Words by the number of texts that use them (a long message counts once per word)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    counter: Counter[str] = Counter()
    for text in texts:
        words = {
            w.strip()
            for w in jieba.lcut(text)
            if len(w.strip()) >= 2
            and _WORDY.search(w)
            and w.strip() not in STOP_WORDS
            and not _NUMBERISH.search(w)
        }
        counter.update(words)
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Count(word, n) for word, n in ranked[:top] if n >= 1]


def group_similar(texts: Iterable[str], *, min_score: int = 80) -> list[tuple[str, list[int]]]:
    """Greedy grouping of near-identical questions (rapidfuzz ratio; punctuation and digits ignored):
    (the first text of the group, positions of its members), largest group first."""
    from rapidfuzz import fuzz

    groups: list[tuple[str, str, list[int]]] = []  # (key, display text, members)
    for position, text in enumerate(texts):
        key = _PUNCT.sub("", text)
        if not key:
            continue
        for group_key, _, members in groups:
            if fuzz.ratio(key, group_key) >= min_score:
                members.append(position)
                break
        else:
            groups.append((key, text, [position]))
    ranked = sorted(groups, key=lambda g: -len(g[2]))  # stable: ties keep first-seen order
    return [(display, members) for _, display, members in ranked]


def daily_report(
    *,
    session: Session,
    day: date,
    zone: ZoneInfo,
    policy: SlaPolicy,
    now: datetime,
    top: int = 20,
) -> DailyReport:
    """Tickets received on `day` (local), the SLA at `now`, and the day's questions."""
    start, end = day_bounds(day, zone)
    received = list(
        session.scalars(
            select(Ticket).where(Ticket.received_at >= start, Ticket.received_at < end).order_by(Ticket.id)
        )
    )
    counted = [t for t in received if t.status != MERGED]
    day_rates = rates(session=session, start=start, end=end, now=now)
    day_flags = Counter(assess(t, policy, now) for t in counted if t.status in OPEN)
    backlog = session.scalars(select(Ticket).where(Ticket.status.in_(OPEN)))
    backlog_flags = Counter(assess(t, policy, now) for t in backlog)

    steps = session.scalars(
        select(AuditEntry).where(
            AuditEntry.at >= start,
            AuditEntry.at < end,
            AuditEntry.action.in_(("feedback", "complete", "callback")),
        )
    )
    activity: Counter[str] = Counter()
    satisfaction: Counter[str] = Counter({level: 0 for level in SATISFACTION})
    for step in steps:
        activity[step.action] += 1
        if step.action == "callback" and step.changes.get("satisfaction") in SATISFACTION:
            satisfaction[step.changes["satisfaction"]] += 1

    questions = unanswered_between(session=session, start=start, end=end)
    ticket_texts = [mask_personal(f"{t.title}。{t.content}") for t in counted]
    gaps = [
        Gap(text, len(members), sorted({questions[i].reason for i in members}))
        for text, members in group_similar(mask_personal(q.text) for q in questions)
    ]
    hot = [
        HotQuestion(text, len(members), "ticket")
        for text, members in group_similar(mask_personal(t.title) for t in counted)
    ]
    hot += [HotQuestion(g.text, g.count, "assistant") for g in gaps]
    hot.sort(key=lambda h: -h.count)
    return DailyReport(
        day=day.isoformat(),
        timezone=zone.key,
        generated_at=now.astimezone(zone).isoformat(timespec="seconds"),
        received=len(counted),
        merged=len(received) - len(counted),
        by_category=_counts(t.category1 or UNCATEGORISED for t in counted),
        by_channel=_counts(t.channel for t in counted),
        by_department=_counts(t.department or UNASSIGNED for t in counted),
        by_type=_counts(t.type for t in counted),
        sla={
            **day_rates.as_dict(),
            "at_risk": day_flags["at_risk"],
            "overdue": day_flags["overdue"],
            "backlog_open": sum(backlog_flags.values()),
            "backlog_at_risk": backlog_flags["at_risk"],
            "backlog_overdue": backlog_flags["overdue"],
        },
        activity={
            "feedback": activity["feedback"],
            "completed": activity["complete"],
            "called_back": activity["callback"],
        },
        satisfaction=[Count(level, satisfaction[level]) for level in SATISFACTION],
        hot_words=hot_words([*ticket_texts, *(mask_personal(q.text) for q in questions)], top=top),
        hot_questions=hot[:top],
        kb_gaps=gaps[:top],
        unanswered=len(questions),
    )


def desk_daily_report(desk: TicketDesk, *, day: str | None = None, top: int = 20) -> DailyReport:
    """The report for `day` (YYYY-MM-DD, local; today when None) from the desk's database and clock."""
    zone = desk.policy.calendar.zone
    now = desk.clock()
    when = parse_day(day, zone=zone, now=now)
    with desk.db.session() as session:
        return daily_report(session=session, day=when, zone=zone, policy=desk.policy, now=now, top=top)
