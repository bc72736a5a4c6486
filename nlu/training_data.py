"""Rasa's nlu.yml format, read and written, so data moves between Rasa and govbot.

Supported blocks: `intent` (examples), `synonym`, `lookup` and `regex`.
Inline entity annotations such as `[天河区](district)` are kept as entity
examples and stripped from the text used to train classifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.yamlio import load_yaml

_ANNOTATION = re.compile(r"\[([^\]]+)\]\((\w+)\)")


@dataclass
class NluData:
    intents: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # official -> colloquial
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)

    def synonym_map(self) -> dict[str, str]:
        """colloquial -> official; the first definition of a colloquial word wins."""
        mapping: dict[str, str] = {}
        for official, variants in self.synonyms.items():
            for variant in variants:
                if variant and variant != official:
                    mapping.setdefault(variant, official)
        return mapping

    def merge(self, other: NluData) -> None:
        for target, source in (
            (self.intents, other.intents),
            (self.synonyms, other.synonyms),
            (self.lookups, other.lookups),
            (self.regexes, other.regexes),
        ):
            for key, values in source.items():
                target.setdefault(key, []).extend(values)


def _examples(block: object) -> list[str]:
    if isinstance(block, list):
        return [str(x).strip() for x in block if str(x).strip()]
    lines = str(block or "").splitlines()
    out = []
    for line in lines:
        line = line.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        elif line == "-":
            continue
        if line:
            out.append(line)
    return out


def strip_annotations(text: str) -> str:
    return _ANNOTATION.sub(r"\1", text)


def load_nlu(path: Path) -> NluData:
    """Read one nlu.yml; raises ValueError naming the file on malformed input."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc
    blocks = data.get("nlu") if isinstance(data, dict) else None
    if not isinstance(blocks, list):
        raise ValueError(f"{path}: expected a top-level 'nlu:' list (Rasa 3 format)")
    result = NluData()
    for block in blocks:
        if not isinstance(block, dict):
            continue
        examples = _examples(block.get("examples"))
        if "intent" in block:
            texts = [strip_annotations(e) for e in examples]
            result.intents.setdefault(str(block["intent"]), []).extend(texts)
        elif "synonym" in block:
            result.synonyms.setdefault(str(block["synonym"]), []).extend(examples)
        elif "lookup" in block:
            result.lookups.setdefault(str(block["lookup"]), []).extend(examples)
        elif "regex" in block:
            result.regexes.setdefault(str(block["regex"]), []).extend(examples)
    return result


def dump_nlu(data: NluData) -> str:
    """Write NluData back in Rasa's format (literal example blocks)."""

    def block(kind: str, name: str, items: list[str]) -> str:
        body = "\n".join(f"    - {x}" for x in items)
        return f"- {kind}: {name}\n  examples: |\n{body}\n"

    parts = ['version: "3.1"\nnlu:\n']
    for kind, group in (
        ("intent", data.intents),
        ("synonym", data.synonyms),
        ("lookup", data.lookups),
        ("regex", data.regexes),
    ):
        parts += [block(kind, name, items) for name, items in group.items()]
    return "".join(parts)
