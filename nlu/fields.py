"""Which field of an item a question asks about (需要什么材料？ -> materials)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.component_settings import FieldDetectorOptions
from core.yamlio import load_yaml
from nlu.message import ParsedMessage

FIELDS_FILE = Path(__file__).parent / "data" / "fields.yml"


def load_field_words(path: Path = FIELDS_FILE) -> dict[str, list[str]]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return {str(k): [str(w) for w in v] for k, v in data.items()}


# Words that carry no subject of their own: what is left of a question after these and
# the field words is its subject (需要什么材料？ leaves nothing: a follow-up).
_FUNCTION_WORDS = (
    "请问",
    "那么",
    "那个",
    "这个",
    "需要",
    "什么",
    "怎么",
    "如何",
    "哪些",
    "哪个",
    "可以",
    "能不能",
    "多少",
    "办理",
    "一下",
    "还有",
    "还要",
    "要",
    "呢",
    "吗",
    "吧",
    "啊",
    "的",
    "了",
    "那",
    "这",
    "办",
    "去",
    "有",
    "是",
    "在",
    "我",
    "您",
    "你",
    "想",
    "问",
    "还",
    "都",
    "些",
    "个",
    "哪",
    "里",
)
_NON_WORD = re.compile(r"[^\w]|_")


def subject_left(text: str, field_words: list[str]) -> str:
    """The question with field words, function words and punctuation removed."""
    rest = _NON_WORD.sub("", text)
    for word in sorted(field_words, key=len, reverse=True):
        rest = rest.replace(word, "")
    for word in _FUNCTION_WORDS:
        rest = rest.replace(word, "")
    return rest


class FieldDetector:
    """Pipeline stage: fills `fields` in the order the words appear in the question."""

    def __init__(self, words: dict[str, list[str]]) -> None:
        self.words = words

    @classmethod
    def create(cls, options: FieldDetectorOptions, resources: Any) -> FieldDetector:
        return cls(load_field_words())

    def detect(self, text: str) -> list[str]:
        hits: list[tuple[int, str]] = []
        for field, words in self.words.items():
            positions = [text.find(w) for w in words if w in text]
            if positions:
                hits.append((min(positions), field))
        return [field for _, field in sorted(hits)]

    def process(self, message: ParsedMessage) -> None:
        message.fields = self.detect(message.text)
        all_words = [w for words in self.words.values() for w in words]
        message.subject = subject_left(message.text, all_words)
