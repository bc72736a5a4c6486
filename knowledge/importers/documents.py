"""Policy documents (txt, md, html, docx, pdf) become citable chunks.

A Markdown file with a YAML front matter that names a service (`name:`) is a
service guide instead; see `markdown_guide`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import ValidationError

from knowledge.chunking import split_document
from knowledge.importers.base import (
    ImportFormatError,
    ImportResult,
    RecordError,
    explain_validation,
)
from knowledge.importers.options import ImportOptions
from knowledge.models import PolicyChunk


def read_text(path: Path, fmt: str) -> str:
    """Plain text of a document; raises ImportFormatError when it cannot be read."""
    try:
        if fmt in ("txt", "md"):
            raw = path.read_bytes()
            for encoding in ("utf-8", "gb18030"):
                try:
                    return raw.decode(encoding)
                except UnicodeDecodeError:
                    continue
            raise ImportFormatError(f"{path}: not UTF-8 or GB18030 text")
        if fmt == "html":
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(path.read_bytes(), "html.parser")
            for tag in soup(["script", "style", "nav", "footer", "header"]):
                tag.decompose()
            return soup.get_text("\n")
        if fmt == "docx":
            import docx

            document = docx.Document(str(path))
            return "\n\n".join(p.text for p in document.paragraphs)
        if fmt == "pdf":
            from pypdf import PdfReader

            reader = PdfReader(str(path))
            return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except ImportFormatError:
        raise
    except Exception as exc:  # parsers raise many types for a damaged file
        raise ImportFormatError(f"{path}: cannot read as {fmt}: {exc}") from exc
    raise ImportFormatError(f"{path}: unknown document format {fmt}")


def _document_title(path: Path, text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if 4 <= len(line) <= 60:
            return line
    return path.stem


def import_document(path: Path, fmt: str, options: ImportOptions) -> ImportResult:
    text = read_text(path, fmt)
    if not text.strip():
        return ImportResult(errors=[RecordError(str(path), 0, "document has no text")])
    title = _document_title(path, text)
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
