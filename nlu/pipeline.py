"""The NLU pipeline, built from config.yml's `pipeline:` list, able to describe itself.

Each entry arrives validated as its component's options model (core/component_settings.py),
which declares the options and their defaults; REGISTRY maps the same names to the classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.component_settings import ComponentOptions
from nlu.entities import RuleEntityExtractor
from nlu.fields import FieldDetector
from nlu.intents import CategoryClassifier, IntentClassifier
from nlu.message import ParsedMessage
from nlu.normalize import Normalizer
from nlu.synonyms import SynonymMapper
from nlu.tokenize import JiebaTokenizer
from nlu.training_data import NluData


class NluResources(Protocol):
    """What the stages may use; the bot provides it (NLU never opens the knowledge base)."""

    @property
    def nlu_data(self) -> NluData: ...

    @property
    def models_dir(self) -> Path: ...

    def domain_words(self) -> Iterable[str]: ...

    def item_names(self) -> dict[str, str]: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class Component(Protocol):
    def process(self, message: ParsedMessage) -> None: ...


REGISTRY: dict[str, Any] = {
    "Normalizer": Normalizer,
    "JiebaTokenizer": JiebaTokenizer,
    "SynonymMapper": SynonymMapper,
    "RuleEntityExtractor": RuleEntityExtractor,
    "FieldDetector": FieldDetector,
    "IntentClassifier": IntentClassifier,
    "CategoryClassifier": CategoryClassifier,
}


class Pipeline:
    def __init__(self, steps: list[tuple[str, dict[str, Any], Component]]) -> None:
        self.steps = steps

    @classmethod
    def from_config(cls, entries: Sequence[ComponentOptions], resources: NluResources) -> Pipeline:
        """Create each stage from its options, in the order given."""
        steps = []
        for entry in entries:
            if entry.name not in REGISTRY:
                raise ValueError(f"unknown pipeline component {entry.name!r}; valid: {', '.join(REGISTRY)}")
            steps.append((entry.name, entry.options(), REGISTRY[entry.name].create(entry, resources)))
        return cls(steps)

    def parse(self, text: str) -> ParsedMessage:
        message = ParsedMessage(raw=text if isinstance(text, str) else str(text))
        for _, _, component in self.steps:
            component.process(message)
        if not message.search_text:
            message.search_text = message.text
        return message

    def describe(self) -> list[dict[str, Any]]:
        """The active pipeline as data (shown by `govbot config` and debug endpoints)."""
        return [{"name": name, **config} for name, config, _ in self.steps]
