"""Lookup-table entities (districts, departments) by a phrase index over jieba words.

Why not spaCy's EntityRuler: importing spaCy (and the torch it pulls in) cost
~4 s of every cold start, for a phrase lookup. This index gives the same spans
as `spacy.blank("zh")` with the jieba segmenter and an EntityRuler of phrase
patterns: a pattern is the word sequence jieba makes of it, a match is that
sequence among the text's words, and overlaps are resolved as the ruler does
(longest in words first, then the earliest). A message costs one jieba pass and
at most `longest pattern` dictionary probes per word, whatever the number of
patterns (sub-linear in the size of the tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nlu.tokenize import cut


@dataclass(frozen=True)
class PhraseMatch:
    label: str
    start: int  # character offsets into the text
    end: int


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """The words spaCy's Chinese tokenizer would make: jieba's, one space after a word dropped.

    Mirrors spacy.util.get_words_and_spaces, so that multi-word patterns match
    across a single space exactly as they did with the ruler.
    """
    out: list[tuple[str, int, int]] = []
    pos = 0
    for word in cut(text):
        if not word or word.isspace():
            continue
        start = text.index(word, pos)
        if start > pos:
            out.append((text[pos:start], pos, start))
        out.append((word, start, start + len(word)))
        pos = start + len(word)
        if pos < len(text) and text[pos] == " ":
            pos += 1
    if pos < len(text):
        out.append((text[pos:], pos, len(text)))
    return out


class PhraseIndex:
    """Word-sequence -> label; `find(text)` returns non-overlapping matches in text order."""

    def __init__(self, tables: Mapping[str, Iterable[str]]) -> None:
        self._labels: dict[tuple[str, ...], str] = {}
        for label, values in tables.items():
            for value in values:
                key = tuple(w for w, _, _ in words_with_offsets(value))
                if key:
                    self._labels.setdefault(key, label)
        self.longest = max((len(k) for k in self._labels), default=0)

    def __len__(self) -> int:
        return len(self._labels)

    def find(self, text: str) -> list[PhraseMatch]:
        if not self._labels or not text:
            return []
        words = words_with_offsets(text)
        tokens = [w for w, _, _ in words]
        found: list[tuple[int, int, str]] = []  # (start word, end word, label)
        for i in range(len(tokens)):
            for n in range(1, min(self.longest, len(tokens) - i) + 1):
                label = self._labels.get(tuple(tokens[i : i + n]))
                if label is not None:
                    found.append((i, i + n, label))
        found.sort(key=lambda m: (m[1] - m[0], -m[0]), reverse=True)
        taken: set[int] = set()
        kept = []
        for start, end, label in found:
            if start not in taken and end - 1 not in taken:
                kept.append(PhraseMatch(label, words[start][1], words[end - 1][2]))
                taken.update(range(start, end))
        return sorted(kept, key=lambda m: m.start)
