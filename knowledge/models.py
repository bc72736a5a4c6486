"""The knowledge-base document model: service guides, FAQ pairs, policy chunks.

Every answer the assistant gives is composed from these fields and cites the
item it came from, so a field that is absent here is never stated in a reply.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ITEM_MARKER = re.compile(r"^[（(][一二三四五六七八九十\d]{1,3}[）)]")
_EMPTY_MARKERS = {"", "无", "暂无", "null", "none", "-", "/"}
_LEXICAL_TEXT = 300  # characters of each free-text field that BM25 reads: enough to name the matter


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

    id: str = Field(
        min_length=1, max_length=200, description="Unique id; importing the same id again replaces the item"
    )
    source: str = Field("", description="Where the record came from (file, catalog, ticket)")
    updated: date | None = Field(None, description="Date the content was last checked (YYYY-MM-DD)")
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

    kind: Literal["guide"] = Field("guide", description="Record kind: guide, faq or chunk")
    name: str = Field(min_length=1, description="Name of the service item (事项名称), shown as the title")
    aliases: list[str] = Field(default_factory=list, description="Other names citizens use for it")
    body: str | None = Field(
        None,
        description="Free text about the item (事项说明, summary): indexed and shown in the answer",
    )
    item_type: str | None = Field(None, description="Item type (事项类型), e.g. 行政许可")
    department: str | None = Field(None, description="Department that handles it (实施部门)")
    conditions: str | None = Field(None, description="Who may apply and on what conditions (申请条件)")
    materials: list[str] | None = Field(None, description="Documents to bring (申请材料), one per entry")
    steps: list[str] | None = Field(None, description="Procedure (办理流程), one step per entry")
    legal_time_limit: str | None = Field(None, description="Statutory time limit (法定办结时限)")
    promised_time_limit: str | None = Field(None, description="Promised time limit (承诺办结时限)")
    fees: str | None = Field(None, description="Fees (收费标准)")
    location: str | None = Field(None, description="Where to apply (办理地点)")
    office_hours: str | None = Field(None, description="Office hours (办公时间)")
    phone_enquiry: str | None = Field(None, description="Enquiry phone number (咨询电话)")
    phone_complaint: str | None = Field(None, description="Complaint phone number (投诉电话)")
    online_url: str | None = Field(None, description="Link to apply or read more online (网上办理)")
    targets: list[str] | None = Field(None, description="Who it serves (服务对象), e.g. 自然人")
    themes: list[str] | None = Field(None, description="Topics (主题分类), used for search")
    region: str | None = Field(None, description="Administrative area it applies to")
    level: str | None = Field(None, description="Administrative level (省级, 市级 …)")
    parent: str | None = Field(None, description="Parent item id or name (variants share one)")
    variant_ids: list[str] = Field(default_factory=list, description="Merged duplicate records")

    @field_validator(
        "body",
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
        views = [handled, named]
        if self.body:  # a catalog of name + summary: the summary says what the item is about
            views.append(f"{self.name}：{self.body}")
        return views

    def lexical_fields(self) -> dict[str, str]:
        """Texts for BM25, by weight class (title fields count more than body)."""
        body = [
            self.department or "",
            self.item_type or "",
            " ".join(self.themes or []),
            (self.body or "")[:_LEXICAL_TEXT],
            (self.conditions or "")[:_LEXICAL_TEXT],
            " ".join(self.materials or [])[:_LEXICAL_TEXT],
        ]
        return {
            "title": " ".join([self.name, *self.aliases, self.parent or ""]),
            "body": " ".join(body),
        }


class FAQ(_Item):
    """A question-answer pair (常见问题), possibly promoted from a closed ticket."""

    kind: Literal["faq"] = Field("faq", description="Record kind: guide, faq or chunk")
    question: str = Field(min_length=1, description="The question as citizens ask it, shown as the title")
    alt_questions: list[str] = Field(default_factory=list, description="Other ways to ask it")
    answer: str = Field(min_length=1, description="The answer given to the citizen")
    body: str | None = Field(
        None, description="Further free text (background, details): indexed and shown in the answer"
    )
    related: list[str] = Field(default_factory=list, description="Ids of related items")
    themes: list[str] = Field(default_factory=list, description="Topics (主题分类), used for search")
    reviewed_by: str | None = Field(None, description="Who reviewed it (FAQs promoted from tickets)")
    reviewed_at: datetime | None = Field(None, description="When it was reviewed")

    @field_validator("body", mode="before")
    @classmethod
    def _placeholder_body_is_missing(cls, value: object) -> object:
        return clean_value(value)

    @property
    def title(self) -> str:
        return self.question

    def dense_views(self) -> list[str]:
        views = ["；".join([self.question, *self.alt_questions]), self.question]
        if self.body:
            views.append(f"{self.question}：{self.body}")
        return views

    def lexical_fields(self) -> dict[str, str]:
        return {
            "title": " ".join([self.question, *self.alt_questions]),
            "body": " ".join([self.answer[:_LEXICAL_TEXT], (self.body or "")[:_LEXICAL_TEXT]]),
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


IMPORTABLE: dict[str, type[ServiceGuide] | type[FAQ]] = {"guide": ServiceGuide, "faq": FAQ}
"""The record kinds an importer reads field by field (chunks come from documents)."""


@dataclass(frozen=True)
class FieldInfo:
    """One importable field: what `govbot kb fields` and `kb import --help` show."""

    name: str
    kind: str
    shape: Literal["text", "list", "other"]
    required: bool
    description: str


def _shape(annotation: object) -> Literal["text", "list", "other"]:
    union = get_origin(annotation) in (UnionType, Union)
    args = set(get_args(annotation)) - {type(None)} if union else {annotation}
    if args == {str}:
        return "text"
    if all(get_origin(a) is list for a in args):
        return "list"
    return "other"


def importable_fields(kind: str) -> list[FieldInfo]:
    """The fields of a record kind, in declaration order, from the model's own descriptions."""
    model = IMPORTABLE[kind]
    return [
        FieldInfo(name, kind, _shape(info.annotation), info.is_required(), info.description or "")
        for name, info in model.model_fields.items()
    ]
