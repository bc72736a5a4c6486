"""Factories for the objects tests build by hand: knowledge items, hits, parsed messages, files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.responses import Responses
from index.retriever import Hit
from knowledge.models import FAQ, PolicyChunk, ServiceGuide
from nlu.fields import FieldDetector, load_field_words
from nlu.message import Entity, ParsedMessage


def make_guide(item_id: str = "test-guide", name: str = "测试事项办理", **fields: Any) -> ServiceGuide:
    """A service guide with only the fields given (nothing else is invented)."""
    return ServiceGuide(id=item_id, name=name, **fields)


def make_faq(
    item_id: str = "test-faq",
    question: str = "测试问题怎么办？",
    answer: str = "这是测试答案。",
    **fields: Any,
) -> FAQ:
    return FAQ(id=item_id, question=question, answer=answer, **fields)


def make_chunk(
    item_id: str = "doc-test-0001", doc_title: str = "测试政策文件", chunk_no: int = 1, **fields: Any
) -> PolicyChunk:
    fields.setdefault("text", "这是一段用于测试的政策文件正文内容，长度足够引用。")
    return PolicyChunk(id=item_id, doc_title=doc_title, chunk_no=chunk_no, **fields)


def make_hit(
    item_id: str,
    score: float,
    *,
    title: str | None = None,
    parent: str | None = None,
    dense: float = 0.0,
    fuzzy: float = 0.0,
    kind: str = "guide",
    lexical: float = 0.0,
) -> Hit:
    """A retrieval hit with explicit raw signals (what the calibration judges)."""
    signals = {"dense": dense, "fuzzy": fuzzy, "lexical": lexical}
    return Hit(item_id, title or f"事项{item_id}", kind, parent, score, signals)


def make_message(
    text: str,
    *,
    intent: str = "ask_service",
    confidence: float = 0.9,
    fields: Sequence[str] | None = None,
    entities: Sequence[Entity] = (),
    category: str | None = None,
) -> ParsedMessage:
    """A parsed message as the NLU pipeline would leave it.

    The real FieldDetector fills whatever it fills (fields and what it derives from them);
    `fields`, when given, then overrides the detected list.
    """
    message = ParsedMessage(
        raw=text,
        text=text,
        search_text=text,
        intent=intent,
        intent_confidence=confidence,
        entities=list(entities),
        category=category,
    )
    FieldDetector(load_field_words()).process(message)
    if fields is not None:
        message.fields = list(fields)
    return message


def write(path: Path, text: str) -> Path:
    """Write UTF-8 text (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rendered_variants(responses: Responses, name: str, **values: object) -> list[str]:
    """Every variant of a response with its placeholders filled (replies pick one at random)."""
    return [template.format(**values) for template in responses.templates[name]]


class FakeEncoder:
    """A deterministic stand-in for the sentence encoder that counts what it embeds."""

    def __init__(self, name: str = "fake:hash-32", dim: int = 32) -> None:
        self.name = name
        self.dim = dim
        self.passages: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))


def as_guides(items: Sequence[object]) -> list[ServiceGuide]:
    """The items, checked to be service guides (typed for the assertions that follow)."""
    assert all(isinstance(i, ServiceGuide) for i in items), [type(i).__name__ for i in items]
    return [i for i in items if isinstance(i, ServiceGuide)]


def as_chunks(items: Sequence[object]) -> list[PolicyChunk]:
    """The items, checked to be policy chunks."""
    assert all(isinstance(i, PolicyChunk) for i in items), [type(i).__name__ for i in items]
    return [i for i in items if isinstance(i, PolicyChunk)]


def ticket_data(**fields: Any) -> Any:
    """A valid TicketCreate; fields given replace the defaults."""
    from tickets.schemas import TicketCreate

    values: dict[str, Any] = {
        "title": "小区路灯坏了",
        "content": "幸福小区东门口的路灯坏了一个星期，晚上很黑。",
        "phone": "13812345678",
        "name": "张三",
        "location": "幸福小区东门",
        "category": "城乡建设",
        "type": "求助",
        "channel": "hotline",
    }
    values.update(fields)
    return TicketCreate.model_validate(values)
