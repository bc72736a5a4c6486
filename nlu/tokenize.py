"""Chinese word segmentation with jieba, taught the domain's vocabulary.

Service names, their aliases and official synonyms are added as user words,
so 港澳通行证 or 住房公积金 stay one token instead of falling apart.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from typing import Any

from core.component_settings import JiebaTokenizerOptions
from nlu.message import ParsedMessage

log = logging.getLogger(__name__)

_WORD_CHARS = re.compile(r"[\w\u4e00-\u9fff]")
_STOP = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "我",
        "你",
        "他",
        "她",
        "想",
        "要",
        "请问",
        "一下",
        "怎么",
        "如何",
        "什么",
        "哪里",
        "可以",
        "能",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "有",
        "没",
        "个",
        "去",
        "这",
        "那",
        "就",
        "还",
        "也",
        "都",
        "把",
        "被",
        "给",
        "让",
    ]
)

_added: set[str] = set()


def _jieba() -> Any:
    """jieba, imported on first use with its chatty start-up log silenced."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def add_user_words(words: Iterable[str]) -> int:
    """Teach jieba domain words (process-wide, like jieba itself); returns how many were new."""
    jieba = _jieba()

    added = 0
    for word in words:
        word = word.strip()
        if 2 <= len(word) <= 12 and word not in _added and " " not in word:
            jieba.add_word(word, freq=20000)
            _added.add(word)
            added += 1
    return added


_KEY_CACHE: dict[int, str] = {}


def segmentation_key() -> str:
    """What `content_tokens` gives besides the text depends on: jieba's version and dictionary
    of user words (which only grows), and the stop words. Tokens stored by another process are
    reused only under the same key."""
    key = _KEY_CACHE.get(len(_added))
    if key is None:
        jieba = _jieba()
        payload = "\n".join([jieba.__version__, *sorted(_STOP), "", *sorted(_added)])
        key = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
        _KEY_CACHE.clear()
        _KEY_CACHE[len(_added)] = key
    return key


def cut(text: str) -> list[str]:
    """jieba's default (accurate-mode) words, every character kept: the segmentation of a phrase."""
    return list(_jieba().cut(text, cut_all=False))


def tokenize(text: str) -> list[str]:
    """Search-mode tokens (long words plus their parts), punctuation dropped."""
    return [t for t in _jieba().lcut_for_search(text) if _WORD_CHARS.search(t)]


def content_tokens(text: str) -> list[str]:
    """Tokens without function words, for lexical matching."""
    return [t for t in tokenize(text.lower()) if t not in _STOP]


class JiebaTokenizer:
    """Pipeline stage: fills `tokens`; user words come from the knowledge base."""

    @classmethod
    def create(cls, options: JiebaTokenizerOptions, resources: Any) -> JiebaTokenizer:
        words = list(resources.domain_words())
        log.info("nlu.tokenizer.user_words", extra={"count": add_user_words(words)})
        return cls()

    def process(self, message: ParsedMessage) -> None:
        message.tokens = tokenize(message.text)
