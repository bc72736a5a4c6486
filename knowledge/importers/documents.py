"""Policy documents (txt, md, html, docx, pdf) become citable chunks.

A Markdown file with a YAML front matter that names a service (`name:`) is a
service guide instead; see `markdown_guide`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import ValidationError

from knowledge.chunking import ARTICLE, is_furniture, paragraphs, split_document
from knowledge.importers.base import (
    ImportResult,
    RecordError,
    explain_validation,
)
from knowledge.importers.document_text import DocumentText, read_document
from knowledge.importers.options import ImportOptions
from knowledge.models import PolicyChunk

_DOC_TYPE = re.compile(
    r"(条例|办法|规定|细则|通知|意见|决定|公告|通告|法|规则|指南|指引|方案|须知|规程|批复|答复|解读|标准|目录)"
    r"(（[^）]{1,12}）)?$"
)
# Issuing-body headers and site names that sit where a title would, but name no document.
_NOT_A_TITLE = re.compile(r"(文件|令|公报|门户|首页|网站|网)$|^第?[\d〔〕\[\]]+号$|〔\d{4}〕")
_TITLE_PUNCT = re.compile(r"[，。；：,;:！？]")
_NAMED = re.compile(r"^(?:事项名称|文件名称|文件标题|标题|名称)[:：]\s*(.{4,60})$")


def read_text(path: Path, fmt: str) -> str:
    """Plain text of a document; raises ImportFormatError when it cannot be read."""
    return read_document(path, fmt).body


def _plausible(title: str) -> bool:
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in title)
    words = len(re.findall(r"[A-Za-z]{2,}", title))
    return (
        (cjk >= 4 or words >= 3)
        and len(title) <= 80
        and not _NOT_A_TITLE.search(title)
        and not is_furniture(title)
    )


def _title_from_text(paragraphs: list[str]) -> str | None:
    """A "事项名称：…" line, or a line naming a document type (…条例, …的通知) and what it wraps from."""
    head = [p.lstrip("#").strip().strip("《》") for p in paragraphs[:15]]
    for line in head:
        named = _NAMED.match(line)
        if named and _plausible(named.group(1)):
            return named.group(1).strip("《》")
    for n, line in enumerate(head):
        if len(line) > 60 or _TITLE_PUNCT.search(line) or not _DOC_TYPE.search(line):
            continue
        start = n
        while start > 0 and len(head[start - 1]) <= 30 and not _TITLE_PUNCT.search(head[start - 1]):
            if not _plausible(head[start - 1]) or ARTICLE.match(head[start - 1]):
                break
            start -= 1
        title = "".join(head[start : n + 1])
        if _plausible(title):
            return title
    return None


def document_title(path: Path, document: DocumentText) -> str:
    """The file's own title (metadata, largest heading), a document-type line, 《…》, or the file name."""
    for hint in document.title_hints:
        hint = hint.strip().strip("《》")
        if _plausible(hint):
            return hint
    found = paragraphs(document.body)
    for line in found[:3]:
        if line.startswith("# ") and _plausible(line[2:].strip()):
            return line[2:].strip().strip("《》")
    from_text = _title_from_text(found)
    if from_text:
        return from_text
    first = found[0].lstrip("#").strip() if found else ""
    if len(first) <= 40 and not _TITLE_PUNCT.search(first) and _plausible(first):
        return first.strip("《》")
    quoted = re.search(r"《([^《》]{4,60})》", document.body[:2000])
    return quoted.group(1) if quoted else path.stem


def import_document(path: Path, fmt: str, options: ImportOptions) -> ImportResult:
    document = read_document(path, fmt)
    text = document.body
    if not text.strip():
        return ImportResult(errors=[RecordError(str(path), 0, "document has no text")])
    title = document_title(path, document)
    doc_key = hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:10]
    result = ImportResult()
    chunks = split_document(text, size=options.chunk_chars, overlap=options.chunk_overlap)
    for number, chunk in enumerate(chunks, start=1):
        try:
            result.items.append(
                PolicyChunk(
                    id=f"doc-{doc_key}-{number:04d}",
                    doc_title=title,
                    chunk_no=number,
                    text=chunk.text,
                    heading=chunk.heading,
                    article=chunk.article,
                    source=path.name,
                    sample=options.sample,
                )
            )
        except ValidationError as exc:
            result.errors.append(RecordError(str(path), number, explain_validation(exc)))
    return result


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def split_front_matter(text: str) -> tuple[str | None, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    return match.group(1), text[match.end() :]
