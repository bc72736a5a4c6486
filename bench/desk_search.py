"""The desk's search on 100k tickets: p50/p95 latency per kind of query, SQLite and PostgreSQL.

What it does, for each backend:

  1. a fresh database migrated to head (SQLite: a file under var/bench; PostgreSQL: a new schema
     in --pg-url, dropped afterwards), then --tickets tickets bulk-inserted (one INSERT per
     5,000 rows; phone, name and words sealed with the data key, the phone-tail hash and the
     masked search text computed, as the desk stores them) with titles and texts of
     ../shared/data/citizen_messages_labeled.jsonl when present (synthetic ones otherwise),
     random phones, states, departments and received times spread over a year (in arrival
     order, as ids are in a live desk);
  2. each kind of query --repeat times with different values, through `TicketDesk.search` (what
     `GET /api/v1/tickets/search` runs) as an agent, first page of 50: the time until the
     summaries are built, in ms.

The goal: every kind under 1 s at p95 on 100k tickets. Run::

    .venv/bin/python bench/desk_search.py --out bench/results/desk_search.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from _common import BENCH_VAR, MESSAGES, environment, header, latency_summary, markdown_table, write_json
from sqlalchemy import insert

from core import crypto
from core.settings import load_settings
from core.vocab import STATES
from tests.utils.ticketdb import pg_schema_url
from tickets.db import TicketDB
from tickets.models import Ticket, TicketWords, searchable_text
from tickets.schemas import TicketSearch
from tickets.service import TicketDesk
from tickets.users import Account

AGENT = Account("bench-agent", "agent", None)
DEPARTMENTS = ["市住房城乡建设局", "市生态环境局", "市公安局", "市城市管理局", "市交通运输局", "市市场监管局"]
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 5000


def _texts(limit: int) -> list[tuple[str, str]]:
    if MESSAGES.exists():
        rows = []
        with MESSAGES.open(encoding="utf-8") as lines:
            for line in lines:
                item = json.loads(line)
                rows.append((str(item["title"])[:200], str(item["detail"])[:2000]))
                if len(rows) >= limit:
                    break
        return rows
    words = ["路灯", "噪音", "油烟", "占道", "漏水", "停车", "垃圾", "施工", "拖欠工资", "物业"]
    return [
        (f"{w}问题{i}", f"小区{i}号楼附近{w}问题持续多日，请尽快处理。") for i, w in enumerate(words * 50)
    ]


def _rows(count: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(seed)
    ring = crypto.active()  # the desk loaded it
    texts = _texts(20000)
    batch: list[dict[str, Any]] = []
    per_day: dict[str, int] = {}
    times = sorted(rng.randrange(365 * 86400) for _ in range(count))  # ids follow arrival, as live
    for n, second in enumerate(times):
        received = START + timedelta(seconds=second)
        title, content = texts[n % len(texts)]
        day = f"{received:%Y%m%d}"
        per_day[day] = per_day.get(day, 0) + 1
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        location = f"{rng.choice('东西南北')}区{rng.randrange(200)}号"
        batch.append(
            {
                "ticket_no": f"{day}-{per_day[day]:04d}",
                "channel": "web",
                "created_by": "bench",
                "phone": phone,  # sealed by the column type, as the desk stores it
                "title": title,
                "content": content,
                "location": location,
                # what the model's write hooks fill in (a bulk INSERT bypasses the ORM's events)
                "phone_tail": ring.tail_hash(phone),
                "words": searchable_text(title, content, location),
                "type": "投诉",
                "category1": "城乡建设",
                "department": rng.choice(DEPARTMENTS),
                "urgency": "normal",
                "received_at": received,
                "feedback_deadline": received + timedelta(days=1),
                "completion_deadline": received + timedelta(days=15),
                "status": rng.choice(STATES),
                "escalation_level": 0,
                "supervision_count": 0,
                "at_risk": False,
                "overdue": False,
                "created_at": received,
                "updated_at": received,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def _database(backend: str, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        path = BENCH_VAR / f"desk-search-{uuid.uuid4().hex[:6]}.sqlite"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    with pg_schema_url(pg_url) as url:
        yield url


def _kinds(db: TicketDB, rng: random.Random) -> dict[str, Callable[[], TicketSearch]]:
    """Each kind of query an agent makes, with a fresh value per call (values that exist)."""
    with db.session() as session:
        sample = session.query(Ticket.ticket_no, Ticket.phone, Ticket.title).limit(2000).all()

    def pick() -> Any:
        return rng.choice(sample)

    def day() -> date:
        return (START + timedelta(days=rng.randrange(358))).date()

    return {
        "number (exact)": lambda: TicketSearch(q=pick().ticket_no),
        "number (a day's prefix)": lambda: TicketSearch(ticket_no=pick().ticket_no[:8]),
        "phone suffix (4 digits)": lambda: TicketSearch(q=pick().phone[-4:]),
        "phone suffix (8 digits)": lambda: TicketSearch(phone=pick().phone[-8:]),
        "one word": lambda: TicketSearch(words=pick().title[2:4]),
        "two words": lambda: TicketSearch(words=f"{pick().title[2:4]} {pick().title[-2:]}"),
        "rare word (no match)": lambda: TicketSearch(words=f"不存在{rng.randrange(1000)}"),
        "date range (7 days) + state": lambda: TicketSearch(
            date_from=(d := day()), date_to=d + timedelta(days=6), status=[rng.choice(STATES)]
        ),
        "department + open view": lambda: TicketSearch(department=rng.choice(DEPARTMENTS), queue="open"),
        "待回访 view": lambda: TicketSearch(queue="awaiting_callback"),
        "words + department + date range": lambda: TicketSearch(
            words=pick().title[2:4], department=rng.choice(DEPARTMENTS), date_from=day()
        ),
    }


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with _database(backend, args.pg_url) as url:
        settings = load_settings(data_dir=BENCH_VAR / "desk-search-data")
        desk = TicketDesk(settings, url=url)
        desk.migrate()
        db = desk.db
        started = time.perf_counter()
        with db.session() as session:
            for batch in _rows(args.tickets, args.seed):
                words = [row.pop("words") for row in batch]
                ids = session.scalars(
                    insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True), batch
                )
                session.execute(
                    insert(TicketWords),
                    [{"ticket_id": i, "text": w} for i, w in zip(ids, words, strict=True)],
                )
            session.commit()
        load_s = time.perf_counter() - started
        if backend == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE tickets")
        rng = random.Random(args.seed)
        results: dict[str, Any] = {}
        for kind, make in _kinds(db, rng).items():
            times, hits = [], []
            for _ in range(args.repeat):
                search = make()
                began = time.perf_counter()
                rows = desk.search(search, viewer=AGENT)  # what GET /api/v1/tickets/search runs
                times.append((time.perf_counter() - began) * 1000)
                hits.append(len(rows))
            results[kind] = latency_summary(times) | {"median_hits": sorted(hits)[len(hits) // 2]}
        desk.close()
        return {"load_seconds": round(load_s, 1), "queries": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="queries per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    env = environment()
    report: dict[str, Any] = {"env": env, "tickets": args.tickets, "backends": {}}
    print(header(f"Desk search on {args.tickets:,} tickets", env))
    for backend in args.backends.split(","):
        result = run_backend(backend, args)
        report["backends"][backend] = result
        rows = [
            (kind, r["p50_ms"], r["p95_ms"], r["max_ms"], r["median_hits"])
            for kind, r in result["queries"].items()
        ]
        print(f"### {backend} (bulk insert {result['load_seconds']} s)\n")
        print(markdown_table(["query", "p50 ms", "p95 ms", "max ms", "rows (median)"], rows))
        print()
    write_json(args.out, report)


if __name__ == "__main__":
    main()
