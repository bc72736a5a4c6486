"""The text of a policy document (txt, md, html, docx, pdf) as paragraphs, and its title hints.

Each reader returns `DocumentText`: the body as paragraphs separated by blank lines, with
headings written as Markdown `#` lines (so the chunker sees one heading syntax), tables as
text rows, and page furniture left out: site navigation (blocks that are mostly links),
page headers and footers repeated on most PDF pages. `title_hints` are the title
candidates the file itself holds (metadata, the largest heading), best first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.importers.base import ImportFormatError

_LINK_DENSITY = 0.6  # a block whose text is mostly link text is navigation
_KEY_MAX = 12  # a table row "key | value" reads as "key：value" when the key is this short
_SHORT_CELL = 40


@dataclass
class DocumentText:
    body: str
    title_hints: list[str] = field(default_factory=list)


def _decode(raw: bytes, path: Path) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFormatError(f"{path}: not UTF-8 or GB18030 text")


def row_text(cells: list[str]) -> str:
    """One table row as text: "key：value" for a two-cell row with a short key, else "a | b"."""
    distinct = [c for i, c in enumerate(cells) if c and c not in cells[:i]]
    if not distinct:
        return ""
    if len(distinct) == 2 and len(distinct[0]) <= _KEY_MAX and "\n" not in distinct[0]:
        key = distinct[0].rstrip("：:")
        return f"{key}：\n{distinct[1]}" if "\n" in distinct[1] else f"{key}：{distinct[1]}"
    if all(len(c) <= _SHORT_CELL and "\n" not in c for c in distinct):
        return " | ".join(distinct)
    return "\n\n".join(distinct)


# --- html ------------------------------------------------------------------------------------
def _read_html(raw: bytes) -> DocumentText:
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(raw, "html.parser")
    hints = []
    for level in ("h1", "h2"):
        for tag in soup.find_all(level):
            first = next((s.strip() for s in tag.get_text("\n").split("\n") if s.strip()), "")
            if first:
                hints.append(first)
    if soup.title and soup.title.string:
        hints.append(re.split(r"\s*[-_|–—]\s*", soup.title.string.strip())[0])
    for tag in soup(
        [
            "head",
            "title",
            "script",
            "style",
            "nav",
            "footer",
            "header",
            "noscript",
            "iframe",
            "form",
            "select",
        ]
    ):
        tag.decompose()
    blocks = soup.find_all(["ul", "ol", "dl", "div", "td", "tr", "table", "p", "span", "li"])
    for block in reversed(blocks):  # innermost first
        if not isinstance(block, Tag) or block.decomposed:
            continue
        text = block.get_text("", strip=True)
        links = "".join(a.get_text("", strip=True) for a in block.find_all("a"))
        if text and len(links) >= _LINK_DENSITY * len(text):
            block.decompose()
    innermost = [t for t in soup.find_all("table") if not t.find("table")]  # outer ones are layout
    for table in innermost:
        if table.decomposed:
            continue
        rows = []
        for tr in table.find_all("tr"):
            cells = [_cell_text(td) for td in tr.find_all(["td", "th"])]
            rows.append(row_text(cells))
        table.replace_with("\n\n" + "\n\n".join(r for r in rows if r) + "\n\n")
    for depth in range(1, 7):
        for tag in soup.find_all(f"h{depth}"):
            parts = [line.strip() for line in tag.get_text("\n").split("\n") if line.strip()]
            if parts:  # a heading's first line; what else sits in it (dates, sources) is body
                tag.replace_with("\n\n".join([f"\n\n{'#' * depth} {parts[0]}", *parts[1:], ""]))
    for tag in soup.find_all(["p", "div", "br", "li", "tr"]):
        tag.insert_before("\n\n")
    return DocumentText(soup.get_text(""), hints)


def _cell_text(cell: Any) -> str:
    lines = [line.strip() for line in cell.get_text("\n").split("\n")]
    return "\n".join(line for line in lines if line)


# --- docx ------------------------------------------------------------------------------------
def _read_docx(path: Path) -> DocumentText:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    hints = [document.core_properties.title or ""]
    parts: list[str] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            text = paragraph.text.strip()
            level = _docx_heading_level(style)
            if text and level:
                if level <= 2:  # Title, Heading 1
                    hints.append(text)
                parts.append(f"{'#' * level} {text}")
            elif text:
                parts.append(text)
        elif tag == "tbl":
            for row in Table(element, document).rows:
                line = row_text(
                    ["\n".join(p.text.strip() for p in c.paragraphs if p.text.strip()) for c in row.cells]
                )
                if line:
                    parts.append(line)
    return DocumentText("\n\n".join(parts), [h for h in hints if h.strip()])


def _docx_heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.match(r"(?:Heading|标题)\s*(\d)", style)
    return int(match.group(1)) + 1 if match else 0


# --- pdf -------------------------------------------------------------------------------------
def _read_pdf(path: Path) -> DocumentText:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [(page.extract_text() or "").split("\n") for page in reader.pages]
    repeated = _repeated_edges(pages)
    lines = [line for page in pages for line in page if _edge_key(line) not in repeated]
    title = str(reader.metadata.get("/Title") or "").strip() if reader.metadata else ""
    return DocumentText("\n".join(lines), [title] if title else [])


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _repeated_edges(pages: list[list[str]]) -> set[str]:
    """Lines at the top or bottom of most pages (running headers, footers), digits ignored."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        kept = [line for line in page if line.strip()]
        counts.update({_edge_key(line) for line in kept[:2] + kept[-2:]})
    return {key for key, n in counts.items() if key and n >= max(3, len(pages) // 2)}


def read_document(path: Path, fmt: str) -> DocumentText:
    """The document's text and title hints; raises ImportFormatError when it cannot be read."""
    try:
        if fmt in ("txt", "md"):
            return DocumentText(_decode(path.read_bytes(), path))
        if fmt == "html":
            return _read_html(path.read_bytes())
        if fmt == "docx":
            return _read_docx(path)
        if fmt == "pdf":
            return _read_pdf(path)
    except ImportFormatError:
        raise
    except Exception as exc:  # parsers raise many types for a damaged file
        raise ImportFormatError(f"{path}: cannot read as {fmt}: {exc}") from exc
    raise ImportFormatError(f"{path}: unknown document format {fmt}")
