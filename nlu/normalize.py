"""Normalisation: what citizens type becomes one canonical form before anything else.

Full-width to half-width, traditional to simplified, emoji and control
characters out, ASR fillers (嗯、呃、那个…) out, whitespace collapsed, very
long input cut with a notice.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from core.component_settings import NormalizerOptions
from nlu.message import ParsedMessage

# Voice transcripts are full of hesitations; they carry no meaning for retrieval.
_FILLERS = re.compile(r"(嗯+|呃+|额+|唔+|啊+(?=[，,。\s]|$)|(?<![一-龥])那个(?=那个)|就是说|然后呢|怎么说呢)")
_REPEATED_NAGE = re.compile(r"(那个[，,\s]*){2,}")
_SPACES = re.compile(r"\s+")
_HAS_WORD = re.compile(r"[^\W_]")
_PUNCT_RUN = re.compile(r"([，。！？,.!?])\1+")


def _is_dropped(char: str) -> bool:
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Co", "Cs") and char not in "\n\t":
        return True
    if category == "So":  # emoji and pictographs
        return True
    return 0x1F000 <= ord(char) <= 0x1FAFF or 0xFE00 <= ord(char) <= 0xFE0F


def _to_simplified(text: str) -> str:
    import zhconv  # heavy table, loaded once on first use

    return str(zhconv.convert(text, "zh-cn"))


def normalize_text(text: str) -> str:
    """The canonical form; idempotent."""
    text = unicodedata.normalize("NFKC", text)  # full-width letters, digits, punctuation
    text = "".join(" " if c in "\n\t" else c for c in text if not _is_dropped(c))
    text = _to_simplified(text)
    text = _REPEATED_NAGE.sub("那个", text)
    text = _FILLERS.sub("", text)
    text = _PUNCT_RUN.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip(" ，,")
    return text


class Normalizer:
    """Pipeline stage: fills `text` and `truncated`."""

    def __init__(self, options: NormalizerOptions) -> None:
        self.max_chars = options.max_chars

    @classmethod
    def create(cls, options: NormalizerOptions, resources: Any) -> Normalizer:
        return cls(options)

    def process(self, message: ParsedMessage) -> None:
        raw = message.raw or ""
        if len(raw) > self.max_chars * 2:  # do not normalise megabytes
            raw = raw[: self.max_chars * 2]
            message.truncated = True
        text = normalize_text(raw)
        if not _HAS_WORD.search(text):  # punctuation or symbols only: nothing to understand
            text = ""
        if len(text) > self.max_chars:
            text = text[: self.max_chars]
            message.truncated = True
        message.text = text
