"""The knowledge-base document model: service guides, FAQ pairs, policy chunks.

Every answer the assistant gives is composed from these fields and cites the
item it came from, so a field that is absent here is never stated in a reply.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ITEM_MARKER = re.compile(r"^[（(][一二三四五六七八九十\d]{1,3}[）)]")
_EMPTY_MARKERS = {"", "无", "暂无", "null", "none", "-", "/"}


def clean_value(value: object) -> object:
    """Treat catalog placeholders such as 无 or empty lists as missing."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return None if text.lower() in _EMPTY_MARKERS else text
    if isinstance(value, list):
        items = [clean_value(v) for v in value]
        kept = [v for v in items if v is not None]
        return kept or None
    return value


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    source: str = Field("", description="Where the record came from (file, catalog, ticket)")
    updated: date | None = None
    sample: bool = Field(False, description="Bundled sample content, not official information")

    @field_validator("id")
    @classmethod
    def _strip_id(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("id is empty")
        return value

    def content_hash(self) -> str:
        """Stable hash of the content; the index re-embeds only items whose hash changed."""
        payload = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


class ServiceGuide(_Item):
    """A service item (办事指南)."""

    kind: Literal["guide"] = "guide"
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    item_type: str | None = None
    department: str | None = None
    conditions: str | None = None
    materials: list[str] | None = None
    steps: list[str] | None = None
    legal_time_limit: str | None = None
    promised_time_limit: str | None = None
    fees: str | None = None
    location: str | None = None
    office_hours: str | None = None
    phone_enquiry: str | None = None
    phone_complaint: str | None = None
    online_url: str | None = None
    targets: list[str] | None = None
    themes: list[str] | None = None
    region: str | None = None
    level: str | None = None
    parent: str | None = Field(None, description="Parent item id or name (variants share one)")
    variant_ids: list[str] = Field(default_factory=list, description="Merged duplicate records")

    @field_validator(
        "item_type",
        "department",
        "conditions",
        "legal_time_limit",
        "promised_time_limit",
        "fees",
        "location",
        "office_hours",
        "phone_enquiry",
        "phone_complaint",
        "online_url",
        "region",
        "level",
        "parent",
        "materials",
        "steps",
        "targets",
        "themes",
        mode="before",
    )
    @classmethod
    def _placeholders_are_missing(cls, value: object) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return clean_value(value)

    @property
    def title(self) -> str:
        return self.name

    def field_value(self, field: str) -> str | list[str] | None:
        """The value of a citable field, None when the knowledge base does not hold it."""
        value = getattr(self, field, None)
        return value if value else None

    def dense_views(self) -> list[str]:
        """Texts whose embeddings are averaged into the item's vector.

        One view says what the item is and who handles it, the other what it is
        called and what family it belongs to; their mean was measurably better than
        either alone on colloquial questions (docs/benchmarks.md).
        """
        named = "；".join(dict.fromkeys([self.name, *self.aliases, self.parent or self.name]))
        handled = f"{self.name}（{self.department}）" if self.department else self.name
        return [handled, named]

    def lexical_fields(self) -> dict[str, str]:
        """Texts for BM25, by weight class (title fields count more than body)."""
        body = [
            self.department or "",
            self.item_type or "",
            " ".join(self.themes or []),
            " ".join(self.materials or [])[:300],
        ]
        return {
            "title": " ".join([self.name, *self.aliases, self.parent or ""]),
            "body": " ".join(body),
        }


class FAQ(_Item):
    """A question-answer pair (常见问题), possibly promoted from a closed ticket."""

    kind: Literal["faq"] = "faq"
    question: str = Field(min_length=1)
    alt_questions: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1)
    related: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    reviewed_by: str | None = Field(None, description="Who reviewed it (FAQs promoted from tickets)")
    reviewed_at: datetime | None = Field(None, description="When it was reviewed")

    @property
    def title(self) -> str:
        return self.question

    def dense_views(self) -> list[str]:
        return ["；".join([self.question, *self.alt_questions]), self.question]

    def lexical_fields(self) -> dict[str, str]:
        return {
            "title": " ".join([self.question, *self.alt_questions]),
            "body": self.answer[:300],
        }


class PolicyChunk(_Item):
    """A citable piece of a long policy document."""

    kind: Literal["chunk"] = "chunk"
    doc_title: str = Field(min_length=1)
    chunk_no: int = Field(ge=1)
    text: str = Field(min_length=1)
    heading: str | None = Field(None, description="The chapter or section the chunk falls under")
    article: str | None = Field(None, description="The article(s) it holds, e.g. 第十二条")

    @property
    def place(self) -> str:
        """Where in the document: the article, else the section heading, else the opening words."""
        if self.article:
            return self.article
        marker = _ITEM_MARKER.match(self.text)
        if self.heading:
            return f"{self.heading}{marker.group(0)}" if marker else self.heading
        opening = self.text.split("\n", 1)[0]
        return f"“{opening[:16]}…”" if len(opening) > 16 else f"“{opening}”"

    @property
    def doc_name(self) -> str:
        """The document title ready to go inside 《》: a 《…》 within it becomes 〈…〉."""
        return self.doc_title.replace("《", "〈").replace("》", "〉")

    @property
    def title(self) -> str:
        """A label a citizen can choose by: 《document》第十二条."""
        return f"《{self.doc_name}》{self.place}"

    def dense_views(self) -> list[str]:
        return [f"{self.doc_title} {self.heading or ''} {self.text}"[:500]]

    def lexical_fields(self) -> dict[str, str]:
        return {"title": f"{self.doc_title} {self.heading or ''}", "body": self.text}


KnowledgeItem = Annotated[ServiceGuide | FAQ | PolicyChunk, Field(discriminator="kind")]


class _ItemEnvelope(BaseModel):
    item: KnowledgeItem


def item_from_dict(data: dict[str, object]) -> ServiceGuide | FAQ | PolicyChunk:
    """Validate a stored or imported record into the right item class."""
    return _ItemEnvelope.model_validate({"item": data}).item
