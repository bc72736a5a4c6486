"""Policy-document Q&A: right document, the needed clause in the reply, honest out-of-corpus.

Imports every document of a policy set (default ../shared/data/policy_dev/docs) into a fresh
data directory with `govbot kb import FILE --no-index`, builds the index with `govbot index
build`, asks every question of questions.tsv with `govbot ask --batch --json` (one session per
line), and scores the replies the way the set's README says: the key phrase must occur in
the reply after NFKC normalisation and removal of whitespace (Chinese numerals may also
appear as Arabic numerals). In the same run, a TF-IDF baseline (character 1-3-grams over
300-character windows of the same extracted text) ranks the windows for each question.

Measures, per system:
- right doc first: the document of the first source (govbot) or top window (baseline);
- clause in reply: the reply (govbot) or the top window (baseline) contains the key phrase;
- OOC confident: out-of-corpus questions (expected_doc NONE) that got `answer` (the
  baseline has no way to abstain, so it answers all of them).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from _common import SHARED_DIR, docstring_parser, environment, header, markdown_table, write_json

POLICY_DEV = SHARED_DIR / "data" / "policy_dev"
_DOC_SUFFIXES = {".md": "md", ".txt": "txt", ".html": "html", ".htm": "html", ".docx": "docx", ".pdf": "pdf"}
_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+")


def normalise(text: str) -> str:
    """NFKC, no whitespace: how the set's README compares answers with key phrases."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _cn_to_int(numeral: str) -> int | None:
    total, digit = 0, None
    for char in numeral:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            return None
    return total + (digit or 0)


def phrase_forms(phrase: str) -> set[str]:
    """The key phrase as written and with its Chinese numerals in Arabic digits."""
    forms = {normalise(phrase)}

    def arabic(match: re.Match[str]) -> str:
        value = _cn_to_int(match.group(0))
        return match.group(0) if value is None else str(value)

    forms.add(normalise(_CN_NUMBER.sub(arabic, phrase)))
    return forms


def contains_clause(text: str, phrase: str) -> bool:
    body = normalise(text)
    return any(form in body for form in phrase_forms(phrase))


def read_questions(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _govbot(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    cmd = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def run_govbot(
    docs: list[Path], questions: list[str], data_dir: Path
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Replies to every question, and the source file of every knowledge item."""
    for doc in docs:
        _govbot(data_dir, "kb", "import", str(doc), "--no-index")
    _govbot(data_dir, "index", "build")
    out = _govbot(data_dir, "ask", "--batch", "-", "--json", stdin="\n".join(questions) + "\n")
    replies = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    from core.settings import load_settings
    from knowledge.store import KnowledgeStore

    kb = KnowledgeStore(load_settings(data_dir=data_dir).kb_path)
    try:
        sources = {item.id: item.source for item in kb.iter_items()}
    finally:
        kb.close()
    return replies, sources


def score_govbot(
    rows: list[dict[str, str]], replies: list[dict[str, Any]], sources: dict[str, str]
) -> dict[str, Any]:
    """Per answerable question: the first cited item's document right, the needed clause in the
    reply, the document among the first five sources, an answer from the wrong document; per
    out-of-corpus question: answered confidently. `sources` maps item id to its document."""
    answerable = right = clause = wrong_doc = hit5 = ooc = ooc_confident = 0
    misses = []
    for row, reply in zip(rows, replies, strict=True):
        if row["expected_doc"] == "NONE":
            ooc += 1
            ooc_confident += reply["action"] == "answer"
            continue
        answerable += 1
        cited = reply.get("sources") or []
        first = reply.get("item_id") or (cited[0]["id"] if cited else None)
        doc_ok = sources.get(first or "") == row["expected_doc"]
        clause_ok = contains_clause(reply["reply"], row["key_phrase"])
        right += doc_ok
        clause += clause_ok
        hit5 += row["expected_doc"] in [sources.get(s["id"], "") for s in cited[:5]]
        wrong_doc += reply["action"] == "answer" and not doc_ok
        if not (doc_ok and clause_ok):
            misses.append(
                {
                    "question": row["question"],
                    "action": reply["action"],
                    "doc_ok": doc_ok,
                    "clause_ok": clause_ok,
                }
            )
    return {
        "right_doc": right / max(1, answerable),
        "clause_in_reply": clause / max(1, answerable),
        "confidently_wrong": wrong_doc / max(1, answerable),
        "hit5_doc": hit5 / max(1, answerable),
        "ooc_confident": f"{ooc_confident}/{ooc}",
        "answerable": answerable,
        "misses": misses,
    }


def run_baseline(docs: list[Path], rows: list[dict[str, str]], window: int = 300) -> dict[str, Any]:
    """TF-IDF char 1-3 over fixed windows of the extracted text; the top window is the answer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from knowledge.importers.documents import read_text

    texts, owners = [], []
    for doc in docs:
        body = re.sub(r"\s+", "", read_text(doc, _DOC_SUFFIXES[doc.suffix.lower()]))
        for start in range(0, len(body), window):
            texts.append(body[start : start + window])
            owners.append(doc.name)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    matrix = vectorizer.fit_transform(texts)
    answerable = right = clause = ooc = 0
    for row in rows:
        if row["expected_doc"] == "NONE":
            ooc += 1
            continue
        answerable += 1
        scores = (matrix @ vectorizer.transform([row["question"]]).T).toarray().ravel()
        top = int(scores.argmax())
        right += owners[top] == row["expected_doc"]
        clause += contains_clause(texts[top], row["key_phrase"])
    return {
        "right_doc": right / answerable,
        "clause_in_reply": clause / answerable,
        "ooc_confident": f"{ooc}/{ooc}",
    }


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--set", type=Path, default=POLICY_DEV, help="folder with docs/ and questions.tsv")
    parser.add_argument("--data-dir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--json", dest="json_out", help="also write the figures and misses here")
    args = parser.parse_args()
    if not (args.set / "questions.tsv").is_file():
        print(f"skipped: {args.set}/questions.tsv not found (pass --set)", file=sys.stderr)
        raise SystemExit(0)
    env = environment()
    docs = sorted(p for p in (args.set / "docs").iterdir() if p.suffix.lower() in _DOC_SUFFIXES)
    rows = read_questions(args.set / "questions.tsv")
    with tempfile.TemporaryDirectory(prefix="govbot-policy-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        replies, sources = run_govbot(docs, [r["question"] for r in rows], data_dir)
    govbot = score_govbot(rows, replies, sources)
    baseline = run_baseline(docs, rows)
    print(header(f"Policy documents: {args.set.name} ({len(docs)} documents, {len(rows)} questions)", env))
    table = [
        (
            "govbot (ask --batch --json)",
            govbot["right_doc"],
            govbot["clause_in_reply"],
            govbot["ooc_confident"],
        ),
        (
            "TF-IDF char 1-3, 300-char windows",
            baseline["right_doc"],
            baseline["clause_in_reply"],
            baseline["ooc_confident"],
        ),
    ]
    print(markdown_table(["system", "right doc first", "clause in reply", "OOC answered confidently"], table))
    print(f"\ngovbot misses ({len(govbot['misses'])}):")
    for miss in govbot["misses"]:
        print(
            f"- {miss['question']} — {miss['action']}, doc {'ok' if miss['doc_ok'] else 'wrong'}, "
            f"clause {'ok' if miss['clause_ok'] else 'missing'}"
        )
    write_json(args.json_out, {"env": env, "govbot": govbot, "baseline": baseline})


if __name__ == "__main__":
    main()
