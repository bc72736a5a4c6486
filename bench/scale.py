"""Answer cost as the knowledge base grows: the Guangdong catalog at ~2k, ~20k and ~200k items.

How the larger knowledge bases are made (issue 9). Start from a prepared data
directory of the real catalog (--base: imported, indexed and trained, e.g. by
`govbot kb import ../shared/data/guangdong_services.jsonl --format gd-catalog`,
`govbot index build`, `govbot train`). It is copied once per size; the copy gets
systematic variants of every catalog matter, as city and district catalogs offer
the same matter again: for each matter, places drawn without repetition (a seeded
shuffle per matter) from bench/data/gd_places.yml (21 cities, 134 districts,
counties and towns), each variant with

  - id `<matter id>~<place number>`, name `<place><matter name>` (广州市越秀区…),
  - department `<place><department without 广东省>` (广州市越秀区公安厅…),
    region the place, level 市级/区县级, location `<place>政务服务中心`,
  - parent: the same place's variant of the parent matter (by id, or by name),
  - every other field (materials, conditions, body…) as the matter has it.

Embedding 200k texts with the CPU encoder would take hours, so only the distinct
base texts carry real vectors: the catalog's own (stored by the base's index
build) and one real passage embedding per place name. A variant's vector is
normalise(base + ALPHA * place + NOISE * g), g a seeded Gaussian vector of
norm ~1; it is stored in the knowledge base with the variant through
KnowledgeStore.upsert_many under the variant's own vector key (the hash of its
dense views), so `jobs.operations.build_kb_index` reuses it as it reuses any
stored vector and embeds nothing. Lexical terms and fuzzy names are made by the
ordinary index build from the variant's real text.

Then, per size, in a process of its own (one warm Assistant, the base's models and
calibration; a 200k-item knowledge base would calibrate differently, which moves
the actions, not the cost): index load and pipeline start-up seconds, RSS after
start-up and peak RSS (ru_maxrss), and for each question (dev_gd_questions.tsv and
colloquial_gd.tsv, shuffled with seed 0, the first --warmup not timed, one session
each) the bare encoder time of the question (the floor: every answer embeds it)
and then Assistant.handle's own latency_ms. --profile adds cProfile's top
functions of handle for the largest size. With --reuse, a base grown before keeps
its knowledge base; an index folder of an older format is built again from it
(vectors and index records reused) so that the current format is measured. Run::

    .venv/bin/python bench/scale.py --base /tmp/speed_gd --work /tmp/scale_bench \
        --out bench/results/scale.json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from _common import (
    COLLOQUIAL,
    DEV_QUESTIONS,
    REPO_ROOT,
    Stopwatch,
    docstring_parser,
    environment,
    header,
    latency_summary,
    markdown_table,
    require_shared,
    write_json,
)

PLACES_FILE = REPO_ROOT / "bench" / "data" / "gd_places.yml"
ALPHA = 0.35  # weight of the place's embedding in a variant's vector
NOISE = 0.08  # norm of the seeded noise added to a variant's vector
UPSERT_BATCH = 5000


def places() -> list[tuple[str, str]]:
    """(place, level) pairs: each city, then each of its districts as `<city><district>`."""
    data = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))
    out = [(city, "市级") for city in data]
    out += [(f"{city}{district}", "区县级") for city, districts in data.items() for district in districts]
    return out


def variant_of(item: Any, place: str, level: str, number: int, base_ids: set[str]) -> Any:
    """`item` as the catalog of `place` would list it (see the module docstring)."""
    department = item.department or ""
    department = department.removeprefix("广东省")
    parent = item.parent
    if parent:
        parent = f"{parent}~{number}" if parent in base_ids else f"{place}{parent}"
    return item.model_copy(
        update={
            "id": f"{item.id}~{number}",
            "name": f"{place}{item.name}",
            "department": f"{place}{department}" if department else None,
            "region": place,
            "level": level,
            "location": f"{place}政务服务中心",
            "parent": parent,
            "variant_ids": [],
        }
    )


def derived_vector(base: np.ndarray, place: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = np.asarray(rng.standard_normal(base.shape[0]), dtype=np.float32) / np.sqrt(base.shape[0])
    vector: np.ndarray = base + ALPHA * place + NOISE * noise
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _variants(base: list[Any], size: int, seed: int) -> Iterator[tuple[Any, Any, int]]:
    """(matter, variant, place number) for the variants that bring `base` up to `size` items,
    the same on every call."""
    spots = places()
    base_ids = {i.id for i in base}
    per_item, leftover = divmod(max(size - len(base), 0), len(base))
    if per_item + 1 > len(spots):
        raise SystemExit(f"{size} items need more than {len(spots)} places per matter")
    for pos, item in enumerate(base):
        count = per_item + (1 if pos < leftover else 0)
        for number in random.Random(f"{seed}:{item.id}").sample(range(len(spots)), count):
            place, level = spots[number]
            yield item, variant_of(item, place, level, number, base_ids), number


def _batches(pairs: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def derived_record(variant: Any, department_terms: list[str], rest_terms: list[str]) -> Any:
    """The index record of a variant without tokenising its whole body again: the terms of a
    text joined by spaces are the terms of its parts (no token, bigram or pinyin pair crosses a
    space), so body terms = the variant's department's terms + the matter's other body terms.
    grow() checks this against index.builder.record_for on a sample."""
    from index.lexical import TITLE_WEIGHT, terms
    from index.records import IndexRecord

    title = variant.lexical_fields()["title"]
    return IndexRecord(
        id=variant.id,
        kind=variant.kind,
        title=variant.title,
        parent=variant.parent,
        content_hash=variant.content_hash(),
        names=[variant.title, *variant.aliases],
        lexical=terms(title) * TITLE_WEIGHT + department_terms + rest_terms,
        dense_views=variant.dense_views(),
    )


def grow(data_dir: Path, size: int, seed: int, check: int = 200) -> dict[str, Any]:
    """Add variants to the knowledge base of `data_dir` until it holds `size` items; index it."""
    from bot.assistant import Assistant
    from core.settings import load_settings
    from index.builder import record_for
    from index.lexical import lexicon_key, terms
    from jobs.operations import build_kb_index
    from knowledge.vectors import StoredVector, vector_key
    from nlu.tokenize import add_user_words

    settings = load_settings(None, data_dir)
    assistant = Assistant(settings)
    kb, encoder = assistant.kb, assistant.resources.encoder
    base: list[Any] = sorted((i for i in kb.iter_items() if "~" not in i.id), key=lambda i: i.id)
    stored = kb.stored_vectors(encoder.name)
    place_vectors = encoder.encode_passages([p for p, _ in places()])
    rng = np.random.default_rng(seed)
    made = 0
    with Stopwatch() as adding:
        for batch in _batches(_variants(base, size, seed) if kb.count() < size else iter(()), UPSERT_BATCH):
            vectors: dict[str, StoredVector] = {}
            for item, variant, number in batch:
                own = stored.get(item.id)
                if own is None:
                    raise SystemExit(f"{item.id} has no stored vector: index the base first")
                vector = derived_vector(np.frombuffer(own.data, dtype="<f4"), place_vectors[number], rng)
                key = vector_key(variant.dense_views())
                vectors[variant.id] = StoredVector(encoder.name, key, vector.astype("<f4").tobytes())
            kb.upsert_many([variant for _, variant, _ in batch], vectors)
            made += len(batch)
    with Stopwatch() as tokenising:
        add_user_words(assistant.resources.domain_words())  # as build_kb_index does, before the key
        lexicon = lexicon_key()
        rest = {i.id: terms(i.lexical_fields()["body"].removeprefix(i.department or "")) for i in base}
        departments: dict[str, list[str]] = {}
        mismatched = checked = 0
        for batch in _batches(_variants(base, size, seed), UPSERT_BATCH):
            records = {}
            for item, variant, _ in batch:
                dept = variant.department or ""
                if dept not in departments:
                    departments[dept] = terms(dept)
                record = derived_record(variant, departments[dept], rest[item.id])
                if checked < check:
                    real = record_for(variant)
                    checked += 1
                    same = sorted(real.lexical) == sorted(record.lexical)
                    mismatched += not (
                        same and real.names == record.names and real.vector_key() == record.vector_key()
                    )
                records[record.id] = (record.content_hash, record.dumps())
            kb.save_records(records, lexicon)
    with Stopwatch() as building:
        report = build_kb_index(settings, assistant.resources)
    return {
        "base_items": len(base),
        "variants": made,
        "items": kb.count(),
        "add_s": round(adding.seconds, 1),
        "derive_records_s": round(tokenising.seconds, 1),
        "derived_records_checked": checked,
        "derived_records_mismatched": mismatched,
        "index_build_s": round(building.seconds, 1),
        "embedded_at_build": report.embedded,
        "ann_kind": report.ann_kind,
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def measure(data_dir: Path, warmup: int, profile: bool, limit: int = 0) -> dict[str, Any]:
    """One warm Assistant over `data_dir`: start-up, memory, encoder floor and answer latency."""
    from bot.assistant import Assistant
    from bot.evaluation import read_eval_tsv
    from bot.messages import UserMessage
    from core.runtime import apply_runtime
    from core.settings import load_settings

    settings = load_settings(None, data_dir)
    threads = apply_runtime(settings.runtime)
    rss_start = _rss_mib()
    assistant = Assistant(settings)
    with Stopwatch() as index_load:
        retriever = assistant.retriever
    with Stopwatch() as pipeline_load:
        assistant.pipeline.parse("你好")
        _ = assistant.calibration, assistant.children
    encoder = assistant.resources.encoder
    rows = read_eval_tsv(DEV_QUESTIONS) + read_eval_tsv(COLLOQUIAL)
    questions = [r.question for r in rows]
    # sessions of its own: a base measured again (--reuse) keeps the sessions of earlier runs,
    # and a question answered in a session that already holds a ticket is answered otherwise
    run = f"scale-{time.time_ns()}"
    random.Random(0).shuffle(questions)
    for n, text in enumerate(questions[:warmup]):
        assistant.handle(UserMessage(text=text, session_id=f"{run}-warm-{n}"))
    rss_warm = _rss_mib()
    floor, answer, wall = [], [], []
    actions: Counter[str] = Counter()
    tops = []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    for n, text in enumerate(questions[warmup : warmup + limit] if limit else questions[warmup:]):
        started = time.perf_counter()
        encoder.encode_queries([text])
        floor.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        reply = assistant.handle(UserMessage(text=text, session_id=f"{run}-{n}"))
        if profiler is not None:
            profiler.disable()
        wall.append((time.perf_counter() - started) * 1000)
        answer.append(float(reply.latency_ms or 0.0))
        actions[reply.action] += 1
        tops.append(reply.sources[0].id if reply.sources else None)
    out: dict[str, Any] = {
        "items": len(retriever),
        "ann_kind": retriever.manifest.get("ann_kind"),
        "threads": threads,
        "index_load_s": round(index_load.seconds, 2),
        "pipeline_load_s": round(pipeline_load.seconds, 2),
        "rss_start_mib": rss_start,
        "rss_warm_mib": rss_warm,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "answer": latency_summary(answer),
        "answer_wall": latency_summary(wall),
        "floor": latency_summary(floor),
        "above_floor": latency_summary([a - f for a, f in zip(answer, floor, strict=True)]),
        "actions": dict(actions),
        "top_sources": tops,
    }
    if profiler is not None:
        import io
        import pstats

        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(30)
        out["profile"] = buffer.getvalue()
    return out


def reindex(data_dir: Path) -> dict[str, Any]:
    """Build the index of a grown knowledge base again (its vectors and index records are
    reused from the knowledge base): a base grown by an older build whose index folder this
    build no longer writes (index.store.FORMAT_VERSION) is measured in the current format."""
    from bot.assistant import Assistant
    from core.settings import load_settings
    from jobs.operations import build_kb_index

    settings = load_settings(None, data_dir)
    with Stopwatch() as building:
        report = build_kb_index(settings, Assistant(settings).resources)
    return {"index_build_s": round(building.seconds, 1), "embedded_at_build": report.embedded}


def _index_format(data_dir: Path) -> int | None:
    manifest = data_dir / "index" / "manifest.json"
    return json.loads(manifest.read_text()).get("format") if manifest.is_file() else None


def prepare(base: Path, work: Path, size: int, seed: int, reuse: bool) -> tuple[Path, dict[str, Any]]:
    from index.store import FORMAT_VERSION

    target = work / f"kb{size}"
    done = target / "scale_prep.json"
    if reuse and done.is_file():
        prep = json.loads(done.read_text())
        if _index_format(target) != FORMAT_VERSION:
            result = target / "scale_reindex.json"
            command = [sys.executable, str(Path(__file__).resolve()), "--reindex", str(target)]
            subprocess.run([*command, "--result", str(result)], check=True)
            prep["reindexed"] = json.loads(result.read_text())
            done.write_text(json.dumps(prep))
        return target, prep
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(base, target, symlinks=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--grow", str(target), "--size", str(size)]
    command += ["--seed", str(seed)]
    subprocess.run(command, check=True)
    return target, json.loads(done.read_text())


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--base", type=Path, help="prepared data directory of the real catalog")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale_bench"), help="copies go here")
    parser.add_argument("--sizes", default="2000,20000,200000", help="knowledge-base sizes (items)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=10, help="questions answered before timing")
    parser.add_argument("--questions", type=int, default=0, help="time only this many (0 = all)")
    parser.add_argument("--reuse", action="store_true", help="keep knowledge bases grown before")
    parser.add_argument("--profile", action="store_true", help="cProfile handle at the largest size")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--grow", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reindex", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.grow:
        result = grow(args.grow, args.size, args.seed)
        (args.grow / "scale_prep.json").write_text(json.dumps(result))
        return
    if args.reindex:
        args.result.write_text(json.dumps(reindex(args.reindex)))
        return
    if args.measure:
        args.result.write_text(
            json.dumps(measure(args.measure, args.warmup, args.profile, args.questions), ensure_ascii=False)
        )
        return
    require_shared(DEV_QUESTIONS)
    if args.base is None:
        parser.error("--base is required")
    env = environment()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    runs = []
    for size in sizes:
        data_dir, prep = prepare(args.base, args.work, size, args.seed, args.reuse)
        result = args.work / f"measure{size}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--measure", str(data_dir)]
        command += ["--result", str(result), "--warmup", str(args.warmup), "--questions", str(args.questions)]
        if args.profile and size == max(sizes):
            command.append("--profile")
        subprocess.run(command, check=True)
        runs.append({"size": size, "prepare": prep, **json.loads(result.read_text())})
    print(report(env, runs))
    write_json(args.out, {"environment": env, "runs": runs})


def report(env: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    first = runs[0]
    rows = []
    for run in runs:
        items = run["items"]
        extra = (run["rss_warm_mib"] - first["rss_warm_mib"]) / max(items - first["items"], 1) * 100_000
        rows.append(
            [
                items,
                run["ann_kind"],
                run["answer"]["p50_ms"],
                run["answer"]["p95_ms"],
                round(run["answer"]["p95_ms"] / first["answer"]["p95_ms"], 2),
                run["floor"]["p50_ms"],
                run["floor"]["p95_ms"],
                run.get("above_floor", {}).get("p50_ms", ""),
                run["index_load_s"],
                run["pipeline_load_s"],
                run["prepare"].get("reindexed", run["prepare"]).get("index_build_s", ""),
                run["rss_warm_mib"],
                run["peak_rss_mib"],
                round(extra) if run is not first else "",
            ]
        )
    headers = [
        "items",
        "dense index",
        "answer p50 ms",
        "answer p95 ms",
        "p95 / smallest",
        "encoder p50 ms",
        "encoder p95 ms",
        "answer − encoder p50 ms (per question)",
        "index load s",
        "pipeline start s",
        "index build s",
        "RSS warm MiB",
        "peak RSS MiB",
        "MiB per 100k extra items",
    ]
    actions = "; ".join(f"{r['items']}: {r['actions']}" for r in runs)
    return (
        header("Answer cost as the knowledge base grows", env)
        + f"\nthreads: {runs[0]['threads']}\n\n"
        + markdown_table(headers, rows)
        + f"\n\nactions: {actions}\n"
        + "".join(f"\n{r.get('profile', '')}" for r in runs if r.get("profile"))
    )


if __name__ == "__main__":
    main()
