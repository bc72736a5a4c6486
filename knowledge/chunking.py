"""Split long policy documents into citable chunks.

Chunks follow paragraph boundaries where possible, carry the nearest heading,
and overlap a little so that a sentence cut at a boundary is still findable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(
    r"^(#{1,6}\s*.+|第[一二三四五六七八九十百零〇\d]+[章节条部分].{0,30}"
    r"|[一二三四五六七八九十]+、.{1,40}|（[一二三四五六七八九十]+）.{1,40})$"
)
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str | None


def _paragraphs(text: str) -> list[str]:
    """Paragraphs with PDF-style hard line breaks inside them rejoined."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    paragraphs = []
    for block in blocks:
        joined = "".join(line.strip() for line in block.split("\n"))
        if joined:
            paragraphs.append(joined)
    return paragraphs


def _pieces(paragraph: str, size: int) -> list[str]:
    """A paragraph longer than one chunk is cut at sentence ends."""
    if len(paragraph) <= size:
        return [paragraph]
    sentences = [s for s in _SENTENCE_END.split(paragraph) if s]
    pieces, current = [], ""
    for sentence in sentences:
        while len(sentence) > size:  # a run-on "sentence" with no stop at all
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:size])
            sentence = sentence[size:]
        if len(current) + len(sentence) > size and current:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return pieces


def split_document(text: str, *, size: int = 400, overlap: int = 60) -> list[Chunk]:
    """Chunks of about `size` characters, each with the heading it falls under."""
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("chunk size must be positive and larger than the overlap")
    chunks: list[Chunk] = []
    heading: str | None = None
    buffer = ""
    buffer_heading: str | None = None

    def flush() -> None:
        nonlocal buffer
        if buffer.strip():
            chunks.append(Chunk(buffer.strip(), buffer_heading))
            buffer = buffer[-overlap:] if overlap else ""

    for paragraph in _paragraphs(text):
        if len(paragraph) <= 40 and _HEADING.match(paragraph):
            flush()
            buffer = ""
            heading = paragraph.lstrip("# ").strip()
            buffer_heading = heading
            continue
        for piece in _pieces(paragraph, size):
            if len(buffer) + len(piece) > size:
                flush()
                buffer_heading = heading
            buffer += piece if not buffer else "\n" + piece
    flush()
    return [c for c in chunks if len(c.text) >= 20 or len(chunks) == 1]
