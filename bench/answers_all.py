"""Answers on every corpus: right, or honest, never confidently wrong (issue 8), in one run.

For each corpus the product path is run the way an operator runs it: `govbot kb import`,
`govbot index build`, `govbot train` (which calibrates answer / clarify / abstain on that
corpus and prints the thresholds), then `govbot ask --batch - --json`, one session per line.

Corpora:
  gd      ../shared/data/guangdong_services.jsonl imported with --format gd-catalog; questions:
          the kb rows of ../shared/eval/dev_gd_questions.tsv and bench/data/colloquial_gd.tsv,
          their ticket/smalltalk/human rows (action accuracy, kb rows turned into tickets), and
          the out-of-corpus rows of bench/data/ooc_catalog.tsv.
  jsonl   the same catalog reshaped into another catalog's shape, 625 services (every title the
          questions expect, then a seeded sample of the others; --jsonl-items), one JSON line
          per distinct matter_name with only {sid, service, summary, agency, link}; summary is free
          text written from the record (type, department, who it serves, materials, the start
          of its legal basis); imported with `--format jsonl --map id=sid --map name=service
          --map body=summary --map department=agency --map online_url=link`. Same questions.
  policy  the documents of ../shared/data/policy_dev/docs (kb import of each file) with the
          set's questions.tsv (answerable with a key phrase, and NONE rows).

Measures (kb rows): resolved = an answer with an acceptable item, or a clarify whose options
include one; confidently wrong = an answer with any other item; hit@1/hit@5 over the ranked
sources; OOC confident = out-of-corpus questions that got an answer. Policy rows: right
document first, the key phrase in the reply (clause in reply, as bench/policy_docs.py scores
it), answered with a wrong document. Latency p50/p95 from the replies' latency_ms.

Baselines in the same run (they always answer with their first hit, so confidently wrong =
1 - hit@1 and every OOC question is answered): TF-IDF char 1-3 over the titles (jsonl: title
+ summary), BM25 over jieba tokens and rapidfuzz WRatio over the titles (both from
bench/retrieval_compare.py); for policy documents the TF-IDF 300-character windows of
bench/policy_docs.py. With --category-cv, bench/category_cv.py runs too and its 5-fold
accuracy is reported.

Data directories live under --work-dir (default var/bench/answers) and are reused: imports
are idempotent and the index build re-embeds only what changed. Run::

    .venv/bin/python bench/answers_all.py --json bench/results/answers_all.json
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections.abc import Sequence
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
    latency_summary,
    markdown_table,
    require_shared,
    write_json,
)
from policy_docs import _DOC_SUFFIXES, POLICY_DEV, read_questions, run_baseline, score_govbot
from retrieval_compare import bm25_ranker, fuzzy_ranker

OOC_CATALOG = REPO_ROOT / "bench" / "data" / "ooc_catalog.tsv"
TOP_K = 10
_MAPS = ("id=sid", "name=service", "body=summary", "department=agency", "online_url=link")


def govbot(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[str, str]:
    """Run a govbot command on `data_dir`; (stdout, stderr)."""
    config = ["--config", CONFIG] if CONFIG else []
    cmd = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *config, *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout, done.stderr


CONFIG = ""  # --config: a config.yml for every govbot command (e.g. confidence: corpus)
REUSE = False  # --reuse-replies: score the replies and calibration of the last run again


def prepare(data_dir: Path, imports: list[list[str]]) -> list[str]:
    """Import, build the index, train (calibrate); the calibration lines `govbot train` printed."""
    saved = data_dir / "train_output.txt"
    if REUSE and saved.is_file():
        return saved.read_text(encoding="utf-8").splitlines()
    data_dir.mkdir(parents=True, exist_ok=True)
    for args in imports:
        govbot(data_dir, "kb", "import", *args, "--no-index")
    govbot(data_dir, "index", "build")
    _, err = govbot(data_dir, "train")
    lines = [line.strip() for line in err.splitlines() if line.strip() and "examples" not in line]
    saved.write_text("\n".join(lines), encoding="utf-8")
    return lines


def ask(data_dir: Path, questions: Sequence[str]) -> list[dict[str, Any]]:
    """Every question's reply; also kept in DATA_DIR/replies.jsonl for reading misses."""
    saved = data_dir / "replies.jsonl"
    if REUSE and saved.is_file():
        return [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    out, _ = govbot(data_dir, "ask", "--batch", "-", "--json", stdin="\n".join(questions) + "\n")
    replies = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if len(replies) != len(questions):
        raise SystemExit(f"{len(questions)} questions but {len(replies)} replies")
    saved.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in replies), encoding="utf-8")
    return replies


def items_of(data_dir: Path) -> dict[str, Any]:
    from core.settings import load_settings
    from knowledge.store import KnowledgeStore

    kb = KnowledgeStore(load_settings(data_dir=data_dir).kb_url)
    try:
        return {item.id: item for item in kb.iter_items()}
    finally:
        kb.close()


# --- the JSONL reshape -----------------------------------------------------------------------
def _listed(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v and v != "无"]
    text = str(value or "")
    if text.startswith("["):
        return re.findall(r"'([^']+)'", text)
    return [text] if text and text != "无" else []


def reshape_catalog(target: Path, size: int, wanted: set[str]) -> int:
    """`size` distinct matter_names (every title the questions expect, then a seeded random
    sample of the others) as {sid, service, summary, agency, link} lines."""
    records: dict[str, dict[str, Any]] = {}
    for raw in CATALOG.read_text(encoding="utf-8").splitlines():
        record = json.loads(raw)
        name = str(record.get("matter_name") or "").strip()
        if name and name not in records:
            records[name] = record
    others = sorted(set(records) - wanted)
    keep = (wanted & set(records)) | set(
        random.Random(0).sample(others, max(0, min(len(others), size - len(wanted))))
    )
    lines = []
    for name, record in records.items():
        if name not in keep:
            continue
        dept = str(record.get("DEPT_NAME") or "")
        parts = [f"{record.get('TASK_TYPE_TEXT') or '服务'}事项，由{dept or '主管部门'}办理。"]
        if serves := _listed(record.get("service_object_name")):
            parts.append(f"服务对象：{'、'.join(serves)}。")
        if materials := _listed(record.get("material_intro")):
            parts.append(f"需要准备：{'；'.join(materials[:6])}。")
        basis = str(record.get("accept_standard") or "")
        if basis and basis != "无":
            parts.append(basis[:160])
        line = {
            "sid": str(record.get("TASK_CODE") or len(lines)),
            "service": name,
            "summary": "".join(parts),
            "agency": dept,
            "link": record.get("URL") or "",
        }
        lines.append(json.dumps(line, ensure_ascii=False))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


# --- scoring ---------------------------------------------------------------------------------
def catalog_rows() -> list[Any]:
    from bot.evaluation import read_eval_tsv

    return [*read_eval_tsv(DEV_QUESTIONS), *read_eval_tsv(COLLOQUIAL), *read_eval_tsv(OOC_CATALOG)]


def score_catalog(
    rows: Sequence[Any], replies: Sequence[dict[str, Any]], titles: dict[str, str]
) -> dict[str, Any]:
    from bot.evaluation import action_correct, rank_of, retrieval_scores

    kb = resolved = wrong = tickets = ooc = ooc_answered = other = other_ok = 0
    ranks = []
    misses = []
    for row, reply in zip(rows, replies, strict=True):
        action = reply["action"]
        if row.kind == "ooc":
            ooc += 1
            ooc_answered += action == "answer"
            continue
        if row.kind != "kb":
            other += 1
            other_ok += action_correct(row, action, reply.get("intent", ""))
            continue
        kb += 1
        wanted = set(row.expected)
        ranks.append(rank_of([s["title"] for s in reply["sources"]][:TOP_K], wanted))
        answered = titles.get(reply.get("item_id") or "", "")
        offered = {o["title"] for o in reply.get("options", [])}
        ok = (action == "answer" and answered in wanted) or (action == "clarify" and bool(offered & wanted))
        bad = action == "answer" and answered not in wanted
        resolved += ok
        wrong += bad
        tickets += action == "ticket"
        if not ok:
            misses.append({"question": row.question, "action": action, "answered": answered})
    r = retrieval_scores(ranks)
    latency = latency_summary([reply["latency_ms"] for reply in replies])
    return {
        "kb_rows": kb,
        "resolved": resolved / max(1, kb),
        "confidently_wrong": wrong / max(1, kb),
        "confidently_wrong_n": wrong,
        "kb_to_ticket": tickets,
        "hit1": r.hit1,
        "hit5": r.hit5,
        "ooc_confident": f"{ooc_answered}/{ooc}",
        "other_action_accuracy": other_ok / max(1, other),
        "other_rows": other,
        "p50_ms": latency["p50_ms"],
        "p95_ms": latency["p95_ms"],
        "misses": misses,
    }


def baseline_catalog(name: str, rank: Any, rows: Sequence[Any]) -> dict[str, Any]:
    from bot.evaluation import rank_of, retrieval_scores

    kb_rows = [r for r in rows if r.kind == "kb"]
    ranks = [rank_of(rank(r.question)[:TOP_K], set(r.expected)) for r in kb_rows]
    s = retrieval_scores(ranks)
    ooc = sum(1 for r in rows if r.kind == "ooc")
    return {
        "system": name,
        "resolved": s.hit1,
        "confidently_wrong": 1 - s.hit1,
        "hit1": s.hit1,
        "hit5": s.hit5,
        "ooc_confident": f"{ooc}/{ooc}",
    }


def tfidf_ranker(texts: Sequence[str], titles: Sequence[str]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    matrix = vectorizer.fit_transform(list(texts))

    def rank(question: str) -> list[str]:
        scores = (matrix @ vectorizer.transform([question]).T).toarray().ravel()
        return [titles[i] for i in np.argsort(-scores, kind="stable")[:TOP_K]]

    return rank


def adapt(ranker: Any) -> Any:
    """retrieval_compare's rankers take (question, n) and return (titles, action, item)."""
    return lambda question: ranker(question, 0)[0]


def score_policy(
    rows: Sequence[dict[str, str]], replies: Sequence[dict[str, Any]], items: dict[str, Any]
) -> dict[str, Any]:
    """bench/policy_docs.py's measures, with the latency of the replies."""
    sources = {item_id: getattr(item, "source", "") for item_id, item in items.items()}
    result = score_govbot(list(rows), list(replies), sources)
    latency = latency_summary([reply["latency_ms"] for reply in replies])
    return {**result, "p50_ms": latency["p50_ms"], "p95_ms": latency["p95_ms"]}


# --- the run ---------------------------------------------------------------------------------
def run_catalog(corpus: str, data_dir: Path, imports: list[list[str]], rows: Sequence[Any]) -> dict[str, Any]:
    print(f"{corpus}: preparing {data_dir} …", file=sys.stderr)
    calibration = prepare(data_dir, imports)
    replies = ask(data_dir, [r.question for r in rows])
    items = items_of(data_dir)
    titles = {i: item.title for i, item in items.items()}
    result = score_catalog(rows, replies, titles)
    names = sorted(set(titles.values()))
    if corpus == "jsonl":
        texts = [f"{item.title} {getattr(item, 'body', '') or ''}" for item in items.values()]
        labels = [item.title for item in items.values()]
        tfidf = tfidf_ranker(texts, labels)
    else:
        tfidf = tfidf_ranker(names, names)
    baselines = [
        baseline_catalog(
            "TF-IDF char 1-3" + (" (title + summary)" if corpus == "jsonl" else " (titles)"), tfidf, rows
        ),
        baseline_catalog("BM25 jieba (titles)", adapt(bm25_ranker(names)), rows),
        baseline_catalog("rapidfuzz WRatio (titles)", adapt(fuzzy_ranker(names)), rows),
    ]
    return {"govbot": result, "baselines": baselines, "calibration": calibration, "items": len(items)}


def run_policy(data_dir: Path, policy_set: Path) -> dict[str, Any]:
    print(f"policy: preparing {data_dir} …", file=sys.stderr)
    docs = sorted(p for p in (policy_set / "docs").iterdir() if p.suffix.lower() in _DOC_SUFFIXES)
    rows = read_questions(policy_set / "questions.tsv")
    calibration = prepare(data_dir, [[str(d)] for d in docs])
    replies = ask(data_dir, [r["question"] for r in rows])
    result = score_policy(rows, replies, items_of(data_dir))
    return {"govbot": result, "baseline": run_baseline(docs, rows), "calibration": calibration}


def run_category_cv(work: Path) -> dict[str, Any]:
    out = work / "category_cv.json"
    script = REPO_ROOT / "bench" / "category_cv.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(out)], check=True, capture_output=True, cwd=REPO_ROOT
    )
    folds = json.loads(out.read_text())["results"]["current"]["folds"]
    accuracy = [f["accuracy"] for f in folds]
    return {"accuracy_mean": float(np.mean(accuracy)), "accuracy_std": float(np.std(accuracy))}


def report(results: dict[str, Any]) -> str:
    parts = []
    catalog_table = []
    for corpus in ("gd", "jsonl"):
        if corpus not in results:
            continue
        g = results[corpus]["govbot"]
        catalog_table.append(
            [
                corpus,
                "govbot",
                g["resolved"],
                f"{g['confidently_wrong']:.3f} ({g['confidently_wrong_n']})",
                g["hit1"],
                g["hit5"],
                g["ooc_confident"],
                g["kb_to_ticket"],
                g["p95_ms"],
            ]
        )
        for b in results[corpus]["baselines"]:
            catalog_table.append(
                [
                    corpus,
                    b["system"],
                    b["resolved"],
                    f"{b['confidently_wrong']:.3f}",
                    b["hit1"],
                    b["hit5"],
                    b["ooc_confident"],
                    "-",
                    "-",
                ]
            )
    if catalog_table:
        parts += [
            "### Catalogs (kb rows of the dev + colloquial sets; OOC rows of bench/data/ooc_catalog.tsv)",
            "",
            markdown_table(
                [
                    "corpus",
                    "system",
                    "resolved",
                    "confidently wrong",
                    "hit@1",
                    "hit@5",
                    "OOC answered",
                    "kb → ticket",
                    "p95 ms",
                ],
                catalog_table,
            ),
            "",
        ]
        for corpus in ("gd", "jsonl"):
            if corpus in results:
                g = results[corpus]["govbot"]
                parts.append(
                    f"{corpus}: {g['kb_rows']} kb rows, {results[corpus]['items']} items; action accuracy on "
                    f"{g['other_rows']} ticket/smalltalk/human rows {g['other_action_accuracy']:.3f}; "
                    f"p50 {g['p50_ms']:.1f} ms."
                )
        parts.append("")
    if "policy" in results:
        g, b = results["policy"]["govbot"], results["policy"]["baseline"]
        parts += [
            "### Policy documents (../shared/data/policy_dev)",
            "",
            markdown_table(
                [
                    "system",
                    "right doc first",
                    "clause in reply",
                    "answered with a wrong doc",
                    "doc hit@5",
                    "OOC answered",
                    "p95 ms",
                ],
                [
                    [
                        "govbot",
                        g["right_doc"],
                        g["clause_in_reply"],
                        g["confidently_wrong"],
                        g["hit5_doc"],
                        g["ooc_confident"],
                        g["p95_ms"],
                    ],
                    [
                        "TF-IDF char 1-3, 300-char windows",
                        b["right_doc"],
                        b["clause_in_reply"],
                        1 - b["right_doc"],
                        "-",
                        b["ooc_confident"],
                        "-",
                    ],
                ],
            ),
            "",
        ]
    if "category_cv" in results:
        c = results["category_cv"]
        parts += [
            f"Category routing (bench/category_cv.py, current model, 5 folds): accuracy "
            f"{c['accuracy_mean']:.3f} ± {c['accuracy_std']:.3f}",
            "",
        ]
    for corpus in ("gd", "jsonl", "policy"):
        if corpus in results:
            parts.append(f"Calibration printed by `govbot train` ({corpus}):")
            parts += [f"    {line}" for line in results[corpus]["calibration"]]
            parts.append("")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = docstring_parser(__doc__)
    parser.add_argument("--work-dir", help="where the data directories live (default: var/bench/answers)")
    parser.add_argument(
        "--corpora", default="gd,jsonl,policy", help="comma-separated subset of gd,jsonl,policy"
    )
    parser.add_argument(
        "--policy-set", type=Path, default=POLICY_DEV, help="folder with docs/ and questions.tsv"
    )
    parser.add_argument(
        "--jsonl-items", type=int, default=625, help="services in the reshaped catalog (default: %(default)s)"
    )
    parser.add_argument("--category-cv", action="store_true", help="also run bench/category_cv.py")
    parser.add_argument("--json", dest="json_out", help="write every figure and miss here")
    parser.add_argument("--config", help="config.yml for every govbot command (default: the repository's)")
    parser.add_argument(
        "--reuse-replies", action="store_true", help="score the saved replies of the last run again"
    )
    args = parser.parse_args(argv)
    global REUSE, CONFIG
    REUSE, CONFIG = args.reuse_replies, args.config or ""
    require_shared(CATALOG, DEV_QUESTIONS)
    env = environment()
    work = data_dir_for(args.work_dir, "answers")
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    rows = catalog_rows()
    results: dict[str, Any] = {}
    if "gd" in corpora:
        results["gd"] = run_catalog("gd", work / "gd", [[str(CATALOG), "--format", "gd-catalog"]], rows)
    if "jsonl" in corpora:
        reshaped = work / "reshaped_catalog.jsonl"
        reshape_catalog(reshaped, args.jsonl_items, {e for r in rows if r.kind == "kb" for e in r.expected})
        maps = [arg for m in _MAPS for arg in ("--map", m)]
        results["jsonl"] = run_catalog(
            "jsonl", work / "jsonl", [[str(reshaped), "--format", "jsonl", *maps]], rows
        )
    if "policy" in corpora and (args.policy_set / "questions.tsv").is_file():
        results["policy"] = run_policy(work / "policy", args.policy_set)
    if args.category_cv:
        results["category_cv"] = run_category_cv(work)
    text = header("Answers on every corpus (issue 8)", env) + "\n" + report(results)
    print(text)
    write_json(args.json_out, {"environment": env, **results, "markdown": text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
