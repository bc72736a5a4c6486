"""Split policy documents into citable chunks that follow the document's own structure.

A citizen's answer is usually one article (第十二条) or one numbered condition, so chunks
start at articles and keep an article's items (（一）…, 1. …, (1) …) with it; a lead line
that ends in "：" stays with the items it introduces. Headings (Markdown `#`, 第X章/节,
a short 一、…) are carried as the chunk's heading, not body text. Nothing that is content
is dropped: a fragment shorter than `min_chars` is merged into a neighbour, and lines that
are page furniture (page numbers, "打印本页", "信息来源：…") are removed before splitting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_NUM = "一二三四五六七八九十百千零〇两"
ARTICLE = re.compile(rf"^第[{_CN_NUM}\d]+条(?:之[{_CN_NUM}]+)?")
_CHAPTER = re.compile(rf"^第[{_CN_NUM}\d]+(章|节|编|部分)")
_CN_SECTION = re.compile(rf"^[{_CN_NUM}]+[、．.]")
_MD_HEADING = re.compile(r"^(#{1,6})\s*(.+?)\s*#*$")
_END_PUNCT = "。；;！!？?：:"
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Spaces that PDF text layers and web pages put between Chinese and digits ("2016 年 5 月").
_CJK_DIGIT_SPACE = re.compile(
    r"(?<=[\u4e00-\u9fff])[ \t\u00a0]+(?=[\d%])|(?<=[\d%])[ \t\u00a0]+(?=[\u4e00-\u9fff])"
)
_PAGE_FURNITURE = re.compile(
    r"^(?:[-－—–_\s]*\d{1,4}[-－—–_\s]*"  # "- 3 -", a lone page number
    r"|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?"  # 第 3 页, 第3页 共10页
    r"|\d+\s*/\s*\d+|[Pp]age\s*\d+(?:\s*of\s*\d+)?"
    r"|[=\-_*~·—－]{3,}|[^\w\s]{1,3})$"  # separator rules, stray brackets and arrows
)
_WEB_FURNITURE = re.compile(
    r"^[\[【]?(?:首页|网站首页|返回顶部|返回首页|打印本页|打印|关闭窗口|关闭|内容纠错|我要纠错|收藏|分享到.*"
    r"|(?:您的|您现在的)?(?:当前)?位置[:：]?.*|字[体号][:：]?.*|[大中小]|信息来源[:：].*|来源[:：].*"
    r"|(?:[^>»\s]{1,12}\s*[>»]\s*)+[^>»\s]{1,20}"  # breadcrumbs: 首页 > 工作动态 > 公告公示
    r"|(?:发布|录入|更新)(?:时间|日期)[:：].*|信息提供日期[:：].*|浏览次数.*|点击[数率量次]?[:：].*|访问量.*"
    r"|责任编辑[:：].*|版权所有.*|[Cc]opyright.*|.*ICP备.*|网站标识码.*|主办单位[:：].*|承办单位[:：].*)[\]】]?$"
)
_FURNITURE_MAX = 60
# A wrapped line (PDF text layer) is nearly as wide as the widest line of its block.
_WRAP_MIN, _WRAP_RATIO = 20, 0.6


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str | None
    article: str | None = None


def is_furniture(line: str) -> bool:
    """Page numbers and web-page chrome: never content a citizen asks about."""
    line = line.strip().lstrip("#").strip()
    return bool(_PAGE_FURNITURE.match(line)) or (
        len(line) <= _FURNITURE_MAX and bool(_WEB_FURNITURE.match(line))
    )


def clean_line(line: str) -> str:
    return _CJK_DIGIT_SPACE.sub("", line.replace("\u3000", " ").strip())


def _starts_paragraph(line: str) -> bool:
    return bool(ARTICLE.match(line) or _CHAPTER.match(line) or marker_kind(line) or _MD_HEADING.match(line))


def paragraphs(text: str) -> list[str]:
    """Paragraphs, with hard line breaks inside them (PDF text layers) rejoined.

    Inside a block of consecutive lines a new paragraph starts after a line that ends a
    sentence or clause, at a numbered line, or after a line clearly shorter than the
    block's longest (a title or the last line of a paragraph).
    """
    text = _HTML_COMMENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    result: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        raw = [line.replace("\u3000", " ").strip() for line in block.split("\n")]
        raw = [line for line in raw if line and not is_furniture(line)]
        if not raw:
            continue
        widest = max(len(line) for line in raw)
        current = previous = ""
        for line in raw:
            short = widest >= _WRAP_MIN and len(previous) < _WRAP_RATIO * widest
            if current and (current[-1] in _END_PUNCT or short or _starts_paragraph(clean_line(line))):
                result.append(current)
                current = ""
            current += clean_line(line)
            previous = line
        if current:
            result.append(current)
    return result


def _heading_level(paragraph: str) -> tuple[int, str] | None:
    """(level, text) when the paragraph is a heading; body paragraphs give None."""
    md = _MD_HEADING.match(paragraph)
    if md:
        return len(md.group(1)), md.group(2)
    short = len(paragraph) <= 40 and not any(p in paragraph for p in "。；;，,")
    if short and _CHAPTER.match(paragraph):
        return (3 if "节" in paragraph[:8] else 2), paragraph
    if short and _CN_SECTION.match(paragraph) and not ARTICLE.match(paragraph):
        return 4, paragraph
    return None


def marker_kind(paragraph: str) -> str | None:
    """Which numbering a paragraph starts with: （一） (1) 1. 一、 ① — items of one kind are siblings."""
    for kind, pattern in _MARKERS:
        if pattern.match(paragraph):
            return kind
    return None


_MARKERS = (
    ("cn_paren", re.compile(rf"^[（(][{_CN_NUM}]{{1,3}}[）)]")),
    ("num_paren", re.compile(r"^[（(]\d{1,3}[）)]")),
    ("num", re.compile(r"^\d{1,2}[.．、](?!\d)")),
    ("cn", re.compile(rf"^[{_CN_NUM}]+[、．.]")),
    ("circled", re.compile(r"^[①-⑳]")),
)


@dataclass
class _Unit:
    """Paragraphs that belong together: one article, or a lead line and its items."""

    paragraphs: list[str]
    heading: str | None
    article: str | None

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    def open_for(self, paragraph: str) -> bool:
        if self.article:
            return not ARTICLE.match(paragraph)
        kind = marker_kind(paragraph)
        if kind and kind == marker_kind(self.paragraphs[0]):
            return False  # a sibling of the lead starts its own unit
        return self.paragraphs[-1][-1:] in "：:" or (len(self.paragraphs) > 1 and kind is not None)


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    stack: list[tuple[int, str]] = []
    fresh_section = True
    for paragraph in paragraphs(text):
        heading = _heading_level(paragraph)
        if heading:
            stack = [h for h in stack if h[0] < heading[0]] + [heading]
            fresh_section = True
            continue
        inner = [h[1] for h in stack if h[0] > 1]  # level 1 is the document's own title
        label = " ".join(inner) or None
        article = ARTICLE.match(paragraph)
        if units and not fresh_section and not article and units[-1].open_for(paragraph):
            units[-1].paragraphs.append(paragraph)
        else:
            units.append(_Unit([paragraph], label, article.group(0) if article else None))
        fresh_section = False
    return units


def _pieces(paragraph: str, size: int, overlap: int) -> list[str]:
    """A paragraph longer than one chunk is cut at sentence ends (hard cuts overlap)."""
    if len(paragraph) <= size:
        return [paragraph]
    pieces, current = [], ""
    for sentence in (s for s in _SENTENCE_END.split(paragraph) if s):
        while len(sentence) > size:  # a run-on "sentence" with no stop at all
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:size])
            sentence = sentence[size - overlap :]
        if len(current) + len(sentence) > size and current:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return pieces


def _split_unit(unit: _Unit, size: int, overlap: int) -> list[str]:
    """One text, or pieces of at most `size` each repeating the unit's lead line."""
    if len(unit.text) <= size:
        return [unit.text]
    lead = unit.paragraphs[0] if len(unit.paragraphs[0]) <= size // 2 and len(unit.paragraphs) > 1 else ""
    body = unit.paragraphs[1:] if lead else unit.paragraphs
    pieces: list[str] = []
    current = lead
    for paragraph in body:
        for piece in _pieces(paragraph, size - len(lead), overlap):
            if current != lead and len(current) + len(piece) + 1 > size:
                pieces.append(current)
                current = lead
            current = f"{current}\n{piece}" if current else piece
    if current and current != lead:
        pieces.append(current)
    return pieces


def split_document(
    text: str, *, size: int = 400, overlap: int = 60, min_chars: int | None = None
) -> list[Chunk]:
    """Chunks of at most about `size` characters that follow articles and numbered items.

    Short non-article units under one heading are packed together up to `size`; an
    article is never packed with another unless one of them is under `min_chars`
    (default size // 20), which holds for every chunk: a short one joins a neighbour.
    """
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("chunk size must be positive and larger than the overlap")
    min_chars = size // 20 if min_chars is None else min_chars
    chunks: list[Chunk] = []
    for unit in _units(text):
        pieces = _split_unit(unit, size, overlap)
        last = chunks[-1] if chunks else None
        can_pack = (
            last is not None
            and len(pieces) == 1
            and last.heading == unit.heading
            and len(last.text) + len(pieces[0]) + 1 <= size
            and (
                (not unit.article and not last.article)
                or len(pieces[0]) < min_chars
                or len(last.text) < min_chars
            )
        )
        if last is not None and can_pack:
            chunks[-1] = Chunk(f"{last.text}\n{pieces[0]}", last.heading, _joined(last.article, unit.article))
            continue
        chunks.extend(Chunk(piece, unit.heading, unit.article) for piece in pieces)
    return _merge_short(chunks, min_chars)


def _joined(first: str | None, second: str | None) -> str | None:
    """The article label of two merged chunks: 第六十九条、第七十条."""
    if first and second and first != second:
        return f"{first}、{second}"
    return first or second


def _merge_short(chunks: list[Chunk], min_chars: int) -> list[Chunk]:
    """Every chunk of at least `min_chars`: a short one joins its neighbour (never dropped).

    Joining across a heading writes the joined part's heading into the text, so a short
    section (one line under 办理时限) keeps what it is about.
    """
    merged: list[Chunk] = []
    for chunk in chunks:
        if merged and (len(chunk.text) < min_chars or len(merged[-1].text) < min_chars):
            last = merged[-1]
            if last.heading == chunk.heading or not chunk.heading:
                text, heading = f"{last.text}\n{chunk.text}", last.heading
            elif not last.heading:
                text, heading = f"{last.text}\n{chunk.text}", chunk.heading
            else:
                text, heading = f"{last.text}\n{chunk.heading}\n{chunk.text}", last.heading
            merged[-1] = Chunk(text, heading, _joined(last.article, chunk.article))
        else:
            merged.append(chunk)
    return merged
