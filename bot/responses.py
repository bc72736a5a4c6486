"""Reply templates in Rasa's domain `responses:` format (bot/data/responses.yml)."""

from __future__ import annotations

import random
from pathlib import Path

from core.yamlio import load_yaml

RESPONSES_FILE = Path(__file__).parent / "data" / "responses.yml"


class Responses:
    def __init__(self, templates: dict[str, list[str]], *, seed: int | None = 0) -> None:
        self.templates = templates
        self._random = random.Random(seed)

    @classmethod
    def load(cls, path: Path = RESPONSES_FILE) -> Responses:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        raw = data.get("responses") or {}
        templates = {
            name: [v["text"] if isinstance(v, dict) else str(v) for v in variants]
            for name, variants in raw.items()
            if isinstance(variants, list)
        }
        return cls(templates)

    def render(self, name: str, **values: object) -> str:
        """A variant of the named response with placeholders filled; fails loudly if unknown."""
        variants = self.templates.get(name)
        if not variants:
            raise KeyError(f"no response named {name!r} in responses.yml")
        template = variants[self._random.randrange(len(variants))]
        try:
            return template.format(**values)
        except (KeyError, IndexError):
            return template
