"""Close the loop on real data: do official replies promoted to FAQs answer the next citizen?

On ../shared/data/citizen_messages_with_replies.jsonl (120 real messages, each with the
official reply), in a temporary data directory prepared like `govbot serve` does (bundled
sample KB, index, trained models):

  1. one ticket per message (category predicted by the engine, as the ticket API does),
     moved 受理 → 交办 → 处理 → 反馈 (the official reply as the note) → 办结;
  2. (a) self-retrieval: all 120 promoted with jobs.promotion.promote_ticket (one incremental
     index build each); each message's own title is asked through Assistant.handle: is its
     FAQ the answer / at rank 1 / in the top 5 of the sources?
     (b) held-out: a seeded half (60) promoted into a fresh copy; the other 60 titles are asked
     before and after. A promoted answer counts as relevant when its ticket's predicted
     first-level category equals the asked message's (a weak proxy: the messages carry no
     labels, and a same-category reply is not necessarily the right one).

Prints a Markdown table and writes it to --out (default bench/results_promote_replies.md).
Skips (status 0, with the reason) when ../shared is absent. Run::

    .venv/bin/python bench/promote_replies.py
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from _common import SHARED_DIR, environment, header, markdown_table, require_shared

REPLIES = SHARED_DIR / "data" / "citizen_messages_with_replies.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPLIES, help="JSONL with title, detail, reply")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out split")
    parser.add_argument("--limit", type=int, default=0, help="Use only the first N messages (0: all)")
    parser.add_argument("--keep", type=Path, default=None, help="Work in this folder and keep it")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).with_name("results_promote_replies.md"),
        help="Markdown out",
    )
    args = parser.parse_args()
    require_shared(args.data)
    env = environment()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("title") and r.get("reply")][: args.limit or None]
    work = args.keep or Path(tempfile.mkdtemp(prefix="govbot-promote-"))
    try:
        text = run(rows, work, args.seed, env)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)


def run(rows: list[dict[str, Any]], work: Path, seed: int, env: dict[str, Any]) -> str:
    from bot.assistant import Assistant
    from cli.main import prepare_all
    from core.settings import load_settings
    from tickets.service import TicketDesk

    base = work / "base"
    started = time.perf_counter()
    assistant = Assistant(load_settings(data_dir=base))
    prepare_all(assistant, quiet=True)
    kb_items = assistant.kb.count()
    prepare_s = time.perf_counter() - started
    assistant.close()
    held_dir = work / "heldout"
    shutil.copytree(base, held_dir, ignore=shutil.ignore_patterns("sessions.sqlite*", "tickets.sqlite*"))

    settings = load_settings(data_dir=base)
    settings.secrets.database_url = ""
    desk = TicketDesk(settings, url=f"sqlite:///{work / 'tickets.sqlite'}")
    desk.migrate()
    full = Assistant(settings)
    tickets = [open_and_close(desk, full, row) for row in rows]  # (ticket_no, category1)

    # (a) self-retrieval: everything promoted, each title asked.
    seconds = []
    for no, _ in tickets:
        t0 = time.perf_counter()
        promote(desk, full, no)
        seconds.append(time.perf_counter() - t0)
    self_rows = [ask(full, row["title"]) for row in rows]
    n = len(rows)
    answered = sum(r["item_id"] == faq(no) for r, (no, _) in zip(self_rows, tickets, strict=True))
    rank1 = sum(
        r["rank"] == 1 for r in (rank_of(s, faq(no)) for s, (no, _) in zip(self_rows, tickets, strict=True))
    )
    top5 = sum(
        1 <= r["rank"] <= 5
        for r in (rank_of(s, faq(no)) for s, (no, _) in zip(self_rows, tickets, strict=True))
    )
    full.close()

    # (b) held-out: promote a seeded half into a fresh copy; ask the other half before and after.
    order = list(range(n))
    random.Random(seed).shuffle(order)
    promoted, asked = order[: n // 2], order[n // 2 :]
    held = Assistant(load_settings(data_dir=held_dir))
    before = [ask(held, rows[i]["title"]) for i in asked]
    for i in promoted:
        promote(desk, held, tickets[i][0])
    category_of = {faq(tickets[i][0]): tickets[i][1] for i in promoted}
    after = [ask(held, rows[i]["title"]) for i in asked]
    held.close()
    desk.close()

    def outcomes(results: list[dict[str, Any]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for i, r in zip(asked, results, strict=True):
            item = r["item_id"] or ""
            if r["action"] == "answer" and item in category_of:
                same = category_of[item] is not None and category_of[item] == tickets[i][1]
                counts["promoted FAQ, same category" if same else "promoted FAQ, other category"] += 1
            elif r["action"] == "answer":
                counts["answer from the sample KB"] += 1
            else:
                counts[r["action"]] += 1
        return counts

    b0, b1 = outcomes(before), outcomes(after)
    labels = [
        "promoted FAQ, same category",
        "promoted FAQ, other category",
        "answer from the sample KB",
        "clarify",
        "ticket",
        "fallback",
        "handoff",
        "smalltalk",
    ]
    labels += sorted((set(b0) | set(b1)) - set(labels))
    m = len(asked)
    top1_same = sum(
        bool(r["sources"]) and category_of.get(r["sources"][0]["id"], "") == tickets[i][1]
        for i, r in zip(asked, after, strict=True)
    )
    in_top5_same = sum(
        any(s["id"] in category_of and category_of[s["id"]] == tickets[i][1] for s in r["sources"][:5])
        for i, r in zip(asked, after, strict=True)
    )
    lines = [
        header("FAQ promotion of official replies (bench/promote_replies.py)", env),
        f"Data: `{REPLIES.name}`, {n} messages with official replies; sample KB of {kb_items} items; "
        f"preparation {prepare_s:.0f} s; promotion (incremental index build) median "
        f"{sorted(seconds)[len(seconds) // 2] * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms.\n",
        f"### (a) Self-retrieval: all {n} promoted, each asked by its own title\n",
        markdown_table(
            ["measure", "count", "share"],
            [
                ["answered with its own FAQ", answered, answered / n],
                ["its FAQ at rank 1 of the sources", rank1, rank1 / n],
                ["its FAQ in the top 5", top5, top5 / n],
            ]
            + [
                [f"action: {a}", c, c / n] for a, c in sorted(Counter(r["action"] for r in self_rows).items())
            ],
        ),
        "",
        f"### (b) Held-out: {len(promoted)} promoted (seed {seed}), the other {m} asked\n",
        markdown_table(
            ["outcome of the held-out question", "before promotion", "after promotion", "share after"],
            [[label, b0[label], b1[label], b1[label] / m] for label in labels if b0[label] or b1[label]],
        ),
        "",
        f"After promotion, the top source is a same-category promoted FAQ for {top1_same} of {m} "
        f"({top1_same / m:.3f}); one is among the top 5 sources for {in_top5_same} ({in_top5_same / m:.3f}).",
        "",
        "Categories are the engine's predictions (the messages carry no labels); 'same category' is "
        "a proxy for relevance, not a judgement that the reply answers the question.",
        "",
    ]
    return "\n".join(lines)


def open_and_close(desk: Any, assistant: Any, row: dict[str, Any]) -> tuple[str, str | None]:
    from tickets.errors import InvalidTicketError
    from tickets.lifecycle import TransitionRequest
    from tickets.schemas import TicketCreate
    from tickets.users import Account

    boss = Account("bench", "supervisor", None)
    title = row["title"].strip()[:200]
    content = (row.get("detail") or title).strip()[:4000] or title
    data = TicketCreate(title=title, content=content, phone="13800000000", channel="web")
    category = assistant.parse(f"{title}。{content}").category
    try:
        ticket = desk.create(data, actor="bench", predicted_category=category)
    except InvalidTicketError:
        ticket = desk.create(data, actor="bench")
    for step in ("已受理", "已交办", "处理中"):
        desk.transition(ticket.ticket_no, TransitionRequest(to=step), viewer=boss)
    desk.transition(ticket.ticket_no, TransitionRequest(to="已反馈", note=row["reply"].strip()), viewer=boss)
    desk.transition(ticket.ticket_no, TransitionRequest(to="已办结"), viewer=boss)
    return ticket.ticket_no, ticket.category1


def promote(desk: Any, assistant: Any, ticket_no: str) -> None:
    from jobs.promotion import promote_ticket
    from tickets.users import Account

    promote_ticket(
        desk=desk, assistant=assistant, ticket_no=ticket_no, viewer=Account("bench", "supervisor", None)
    )


def faq(ticket_no: str) -> str:
    from jobs.promotion import faq_id

    return faq_id(ticket_no)


def ask(assistant: Any, text: str) -> dict[str, Any]:
    from bot.messages import UserMessage

    reply = assistant.handle(UserMessage(text=text, session_id=f"bench-{uuid.uuid4().hex[:10]}"))
    return {
        "action": reply.action,
        "item_id": reply.item_id,
        "sources": [{"id": s.id, "score": s.score} for s in reply.sources],
    }


def rank_of(result: dict[str, Any], item_id: str) -> dict[str, int]:
    ids = [s["id"] for s in result["sources"]]
    return {"rank": ids.index(item_id) + 1 if item_id in ids else 0}


if __name__ == "__main__":
    main()
