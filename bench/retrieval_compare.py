"""Retrieval quality on the real Guangdong catalog: govbot hybrid vs dense-only vs two baselines.

What it measures: for every `kb` row of ../shared/eval/dev_gd_questions.tsv and
bench/data/colloquial_gd.tsv, the 1-based rank of the first acceptable title in
each system's top 10, summarised as hit@1, hit@5 and MRR@10 per question file
and for their union, per question style (heuristic) and with per-system
latency p50/p95. The systems, all over the same 1,965 catalog items:

  hybrid  the product path: Assistant.handle(UserMessage) in a fresh session per
          question; the ranking is reply.sources (NLU + dense + BM25 + fuzzy,
          fusion, facet adjustment). Latency is the whole handle() call.
  dense   Assistant.retrieve(parse(q), mode="dense") on the same index: e5
          embeddings only. Latency is parse + retrieve (the NLU pipeline embeds).
  bm25    a plain BM25 (index.lexical.BM25Index) over jieba search-mode tokens of
          the titles only; query = jieba tokens of the normalised question. Its own
          jieba instance (no domain words), no bigrams, synonyms or title weighting.
  fuzzy   rapidfuzz.process.extract(question, titles, scorer=WRatio, limit=10).

The data directory (default var/bench/retrieval) is reused between runs: the
catalog import is idempotent, the index build re-embeds only changed items and
the models are retrained only when their inputs changed (or with --retrain).
Run from anywhere::

    .venv/bin/python bench/retrieval_compare.py --out bench/results/retrieval_compare.json \
        --misses bench/results/retrieval_misses.tsv
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    CATALOG,
    COLLOQUIAL,
    DEV_QUESTIONS,
    REPO_ROOT,
    data_dir_for,
    docstring_parser,
    environment,
    header,
    import_catalog,
    latency_summary,
    markdown_table,
    require_shared,
    write_json,
)

SYSTEMS = ("hybrid", "dense", "bm25", "fuzzy")
TOP_K = 10
WARMUP = ("你好", "护照怎么办", "社保卡丢了怎么补办")

_ASCII = re.compile(r"[A-Za-z]")
_FILLERS = re.compile(r"嗯|呃|那个|就是说|然后呢|怎么说呢")
_CANTONESE = re.compile(r"点样|喺|边度|唔|咗|冇|嘅|嗰|乜|佢|啲|嘢|睇|係|咩|畀|揾|哋|嚟|咁")
_WORDISH = re.compile(r"[\w\u4e00-\u9fff]")


def styles_of(question: str) -> list[str]:
    """Heuristic style tags (a row may carry several; 'plain' when none applies)."""
    import zhconv

    simplified = str(zhconv.convert(question, "zh-cn"))
    tags = []
    if simplified != question:
        tags.append("traditional")
    if _ASCII.search(question):
        tags.append("ascii letters")
    if _FILLERS.search(question):
        tags.append("voice fillers")
    if _CANTONESE.search(simplified):
        tags.append("cantonese")
    if len(question) <= 6:
        tags.append("short (<=6 chars)")
    if len(question) >= 40:
        tags.append("long (>=40 chars)")
    return tags or ["plain"]


@dataclass
class Row:
    file: str
    line: int
    question: str
    expected: tuple[str, ...]
    styles: list[str]
    ranks: dict[str, int | None] = field(default_factory=dict)
    top1: dict[str, str] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    action: str = ""
    answered_item: str | None = None


def load_rows(limit: int | None) -> list[Row]:
    from bot.evaluation import read_eval_tsv

    rows = []
    for path in (DEV_QUESTIONS, COLLOQUIAL):
        kb_rows = [r for r in read_eval_tsv(path) if r.kind == "kb"]
        for r in kb_rows[:limit]:
            rows.append(Row(path.name, r.line, r.question, r.expected, styles_of(r.question)))
    return rows


# --- preparing the data directory ------------------------------------------------------------
def _fingerprint(assistant: Any) -> str:
    """What the trained models depend on: NLU data, training code, KB content, encoder."""
    digest = hashlib.sha256()
    sources = sorted((REPO_ROOT / "nlu" / "data").glob("*.yml"))
    sources += [REPO_ROOT / "bot" / "training.py", REPO_ROOT / "nlu" / "classifier.py"]
    for path in sources:
        digest.update(path.read_bytes())
    for item_id, item_hash in sorted(assistant.kb.hashes().items()):
        digest.update(f"{item_id}:{item_hash}".encode())
    digest.update(repr(assistant.settings.index.embedder).encode())
    return digest.hexdigest()[:16]


def prepare(data_dir: Path, config: Path | None, retrain: bool) -> tuple[Any, dict[str, Any]]:
    from bot.assistant import Assistant
    from core.settings import load_settings
    from jobs.operations import build_kb_index, train_models

    settings = load_settings(config, data_dir)
    assistant = Assistant(settings)
    info: dict[str, Any] = {"data_dir": str(data_dir)}
    info["import"] = import_catalog(assistant.kb)
    if assistant.kb.count() != info["import"]["records_read"]:
        raise SystemExit(
            f"error: {data_dir} holds {assistant.kb.count()} items, the catalog "
            f"{info['import']['records_read']}: use a fresh --data-dir for this benchmark"
        )
    started = time.perf_counter()
    report = build_kb_index(settings, assistant.resources)
    info["index"] = {
        "total": report.total,
        "embedded": report.embedded,
        "reused": report.reused,
        "ann_kind": report.ann_kind,
        "seconds": round(time.perf_counter() - started, 2),
    }
    stamp = settings.models_dir / "bench_fingerprint.txt"
    fingerprint = _fingerprint(assistant)
    fresh = stamp.is_file() and stamp.read_text().strip() == fingerprint
    if retrain or not fresh or not (settings.models_dir / "calibration.json").is_file():
        started = time.perf_counter()
        trained = train_models(settings, assistant.resources)
        stamp.write_text(fingerprint)
        info["train"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "dense_min": trained.calibration.dense_min if trained.calibration else None,
        }
    else:
        info["train"] = {"skipped": "models are up to date (use --retrain to force)"}
    info["settings"] = {
        "fusion": settings.index.fusion,
        "weights": settings.index.weights.model_dump(),
        "candidates": settings.index.candidates,
        "facet_bonus": settings.index.facet_bonus,
        "facet_penalty": settings.index.facet_penalty,
        "encoder": assistant.resources.encoder.name,
        "dense_min": assistant.calibration.dense_min,
    }
    return assistant, info


# --- the four systems ------------------------------------------------------------------------
Ranker = Callable[[str, int], tuple[list[str], str | None, str | None]]


def hybrid_ranker(assistant: Any) -> Ranker:
    from bot.messages import UserMessage

    run = uuid.uuid4().hex[:8]

    def rank(question: str, n: int) -> tuple[list[str], str | None, str | None]:
        reply = assistant.handle(UserMessage(text=question, session_id=f"bench-{run}-{n}"))
        item = None
        if reply.action == "answer" and reply.item_id:
            found = assistant.kb.get(reply.item_id)
            item = found.title if found else None
        return [s.title for s in reply.sources], reply.action, item

    return rank


def dense_ranker(assistant: Any) -> Ranker:
    def rank(question: str, n: int) -> tuple[list[str], str | None, str | None]:
        hits = assistant.retrieve(assistant.parse(question), top_k=TOP_K, mode="dense")
        return [h.title for h in hits], None, None

    return rank


def bm25_ranker(titles: Sequence[str]) -> Ranker:
    import jieba

    from index.lexical import BM25Index
    from nlu.normalize import normalize_text

    tokenizer = jieba.Tokenizer()  # a private dictionary: the product's user words stay out
    tokenizer.initialize()

    def tokens(text: str) -> list[str]:
        return [t for t in tokenizer.lcut_for_search(text) if _WORDISH.search(t)]

    index = BM25Index([tokens(t) for t in titles])

    def rank(question: str, n: int) -> tuple[list[str], str | None, str | None]:
        scores = index.scores(tokens(normalize_text(question)))
        order = np.argsort(-scores, kind="stable")[:TOP_K]
        return [titles[i] for i in order if scores[i] > 0], None, None

    return rank


def fuzzy_ranker(titles: Sequence[str]) -> Ranker:
    from rapidfuzz import fuzz, process

    choices = list(titles)

    def rank(question: str, n: int) -> tuple[list[str], str | None, str | None]:
        found = process.extract(question, choices, scorer=fuzz.WRatio, limit=TOP_K)
        return [match for match, _score, _pos in found], None, None

    return rank


# --- scoring and reporting -------------------------------------------------------------------
def scores(ranks: Sequence[int | None]) -> dict[str, float]:
    from bot.evaluation import retrieval_scores

    s = retrieval_scores(list(ranks))
    return {"n": s.n, "hit@1": s.hit1, "hit@5": s.hit5, "mrr": s.mrr}


def summarise(rows: list[Row]) -> dict[str, Any]:
    groups = {
        "dev": [r for r in rows if r.file == DEV_QUESTIONS.name],
        "colloquial": [r for r in rows if r.file == COLLOQUIAL.name],
        "union": rows,
    }
    quality = {
        system: {g: scores([r.ranks[system] for r in members]) for g, members in groups.items()}
        for system in SYSTEMS
    }
    style_names = sorted({s for r in rows for s in r.styles}, key=lambda s: (s == "plain", s))
    by_style = {
        style: {system: scores([r.ranks[system] for r in rows if style in r.styles]) for system in SYSTEMS}
        for style in style_names
    }
    latency = {system: latency_summary([r.latency_ms[system] for r in rows]) for system in SYSTEMS}
    actions = Counter(r.action for r in rows)
    answered_right = sum(1 for r in rows if r.answered_item and r.answered_item in r.expected)
    return {
        "quality": quality,
        "by_style": by_style,
        "latency": latency,
        "hybrid_actions": dict(actions),
        "hybrid_answered_correct_item": answered_right,
    }


def report(summary: dict[str, Any], info: dict[str, Any], env: dict[str, Any], partial: bool) -> str:
    quality, latency = summary["quality"], summary["latency"]
    n = {g: quality["hybrid"][g]["n"] for g in ("dev", "colloquial", "union")}
    cols = ["system"]
    for g in ("dev", "colloquial", "union"):
        cols += [f"{g} hit@1", f"{g} hit@5", f"{g} MRR"]
    cols += ["p50 ms", "p95 ms"]
    table = []
    for system in SYSTEMS:
        row: list[Any] = [system]
        for g in ("dev", "colloquial", "union"):
            q = quality[system][g]
            row += [q["hit@1"], q["hit@5"], q["mrr"]]
        row += [f"{latency[system]['p50_ms']:.1f}", f"{latency[system]['p95_ms']:.1f}"]
        table.append(row)
    ratio_rows = []
    for system in SYSTEMS[1:]:
        base = quality[system]["union"]
        ratio_rows.append(
            [
                f"hybrid / {system}",
                _ratio(quality["hybrid"]["union"]["hit@1"], base["hit@1"]),
                _ratio(quality["hybrid"]["union"]["mrr"], base["mrr"]),
                _ratio(latency["hybrid"]["p50_ms"], latency[system]["p50_ms"]),
            ]
        )
    style_rows = []
    for style, per_system in summary["by_style"].items():
        cells = [f"{per_system[s]['hit@1']:.3f} / {per_system[s]['hit@5']:.3f}" for s in SYSTEMS]
        style_rows.append([style, per_system["hybrid"]["n"], *cells])
    actions = summary["hybrid_actions"]
    action_rows = [[a, c, f"{c / max(n['union'], 1):.3f}"] for a, c in sorted(actions.items())]
    s = info["settings"]
    parts = [
        header("Retrieval quality on the Guangdong catalog", env),
        f"Catalog: {info['import']['records_read']} items "
        f"({info['import']['merged_duplicates']} same-name records merged); kb rows: "
        f"dev {n['dev']}, colloquial {n['colloquial']}, union {n['union']}. Ranks are taken in "
        f"the top {TOP_K}; MRR is MRR@{TOP_K}. Settings: fusion {s['fusion']}, weights "
        f"{s['weights']}, facet bonus/penalty {s['facet_bonus']}/{s['facet_penalty']}, "
        f"encoder {s['encoder']}, calibrated dense_min {s['dense_min']}.",
        "",
        "### hit@1, hit@5, MRR per system and question file; latency over the union",
        "",
        markdown_table(cols, table),
        "",
        "Latency: hybrid = Assistant.handle() end to end; dense = NLU parse + dense retrieve; "
        "bm25 = normalise + tokenise + score; fuzzy = rapidfuzz extract. Single-threaded "
        "process on a shared machine: compare medians and ratios, not absolute values.",
        "",
        "### Ratios on the union (hybrid over each other system)",
        "",
        markdown_table(["ratio", "hit@1", "MRR", "latency p50"], ratio_rows),
        "",
        "### hit@1 / hit@5 by question style (union; heuristic tags, a row may have several)",
        "",
        markdown_table(["style", "n", *SYSTEMS], style_rows),
        "",
        "Styles: traditional = zhconv changes the text (also catches variants such as 身分证); "
        "ascii letters = any A-Z/a-z; voice fillers = 嗯/呃/那个/就是说…; cantonese = 点样/喺/唔/咗/冇…; "
        "short = at most 6 characters; long = at least 40; plain = none of these.",
        "",
        "### What the product did with the kb questions (hybrid, union)",
        "",
        markdown_table(["action", "rows", "share"], action_rows),
        "",
        f"Answered with an acceptable item: {summary['hybrid_answered_correct_item']} of "
        f"{n['union']} ({summary['hybrid_answered_correct_item'] / max(n['union'], 1):.3f}).",
    ]
    if partial:
        parts.append("\n**Partial run: stopped at --max-seconds; the figures cover fewer rows.**")
    return "\n".join(parts) + "\n"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def write_misses(path: Path, rows: list[Row]) -> int:
    misses = [r for r in rows if r.ranks["hybrid"] != 1]
    lines = ["file\tline\tquestion\texpected\thybrid_top1\thybrid_rank\taction\tdense_rank\tstyles"]
    for r in misses:
        lines.append(
            "\t".join(
                [
                    r.file,
                    str(r.line),
                    r.question,
                    "|".join(r.expected),
                    r.top1.get("hybrid", ""),
                    str(r.ranks["hybrid"] or "-"),
                    r.action,
                    str(r.ranks["dense"] or "-"),
                    ",".join(r.styles),
                ]
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(misses)


def run(args: argparse.Namespace) -> int:
    from bot.evaluation import rank_of

    require_shared(CATALOG, DEV_QUESTIONS)
    env = environment()
    rows = load_rows(args.limit)
    data_dir = data_dir_for(args.data_dir, "retrieval")
    print(f"preparing {data_dir} …", file=sys.stderr)
    assistant, info = prepare(data_dir, Path(args.config) if args.config else None, args.retrain)
    titles = [r.title for r in assistant.retriever.records]
    catalog_titles = set(titles)
    unknown = sorted({e for r in rows for e in r.expected if e not in catalog_titles})
    if unknown:
        print(f"warning: {len(unknown)} expected titles are not in the index: {unknown[:5]}", file=sys.stderr)
    rankers: dict[str, Ranker] = {
        "hybrid": hybrid_ranker(assistant),
        "dense": dense_ranker(assistant),
        "bm25": bm25_ranker(titles),
        "fuzzy": fuzzy_ranker(titles),
    }
    for n, question in enumerate(WARMUP):  # lazy loading stays out of the latencies
        for ranker in rankers.values():
            ranker(question, -1 - n)
    started = time.perf_counter()
    done: list[Row] = []
    partial = False
    for n, row in enumerate(rows):
        if time.perf_counter() - started > args.max_seconds:
            partial = True
            print(f"warning: --max-seconds reached after {n} rows", file=sys.stderr)
            break
        for system, ranker in rankers.items():
            t0 = time.perf_counter()
            ranked, action, item = ranker(row.question, n)
            row.latency_ms[system] = (time.perf_counter() - t0) * 1000
            row.ranks[system] = rank_of(ranked[:TOP_K], row.expected)
            row.top1[system] = ranked[0] if ranked else ""
            if system == "hybrid":
                row.action, row.answered_item = action or "", item
        done.append(row)
        if (n + 1) % 50 == 0:
            print(f"  {n + 1}/{len(rows)} rows, {time.perf_counter() - started:.0f}s", file=sys.stderr)
    assistant.close()
    summary = summarise(done)
    text = report(summary, info, env, partial)
    print(text)
    if args.misses:
        count = write_misses(Path(args.misses), done)
        print(f"{count} hybrid misses (rank != 1) written to {args.misses}", file=sys.stderr)
    write_json(
        args.out,
        {
            "environment": env,
            "prepare": info,
            "partial": partial,
            "unknown_expected_titles": unknown,
            **summary,
            "rows": [r.__dict__ for r in done],
            "markdown": text,
        },
    )
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = docstring_parser(__doc__)
    parser.add_argument(
        "--data-dir",
        help="data directory for the catalog KB, index and models (default: var/bench/retrieval "
        "under the repository, reused between runs; must not hold other items)",
    )
    parser.add_argument("--config", help="config.yml to use (default: the repository's)")
    parser.add_argument("--retrain", action="store_true", help="retrain the models even if up to date")
    parser.add_argument("--limit", type=int, help="use only the first N kb rows of each file")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=1200,
        help="stop asking after this many seconds and report the rows done (default: %(default)s)",
    )
    parser.add_argument("--out", help="write JSON results (summary and per-row ranks) here")
    parser.add_argument("--misses", help="write the hybrid misses (rank != 1) as TSV here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
