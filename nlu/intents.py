"""Intent and category stages: what the trained classifiers understood, nothing decided.

Rules that read the intent together with other facts (a ticket number asked about, a
session in progress) live in bot/policy.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.component_settings import CategoryClassifierOptions, IntentClassifierOptions
from nlu.classifier import TextClassifier
from nlu.message import ParsedMessage

INTENTS = (
    "ask_service",
    "ticket_status",
    "complaint",
    "handoff",
    "greet",
    "thanks",
    "goodbye",
    "out_of_scope",
)


class ModelMissingError(RuntimeError):
    """A trained model is absent: run `govbot train`."""


def load_classifier(folder: Path) -> TextClassifier:
    if not TextClassifier.saved_in(folder):
        raise ModelMissingError(f"no trained model in {folder}; run `govbot train`")
    return TextClassifier.load(folder)


def _vector(message: ParsedMessage, resources: Any) -> Any:
    """The query embedding, computed once and shared with retrieval."""
    if message.embedding is None and message.text:
        message.embedding = resources.embed_query(message.search_text or message.text)
    return message.embedding


class IntentClassifier:
    """Pipeline stage: fills `intent`, `intent_confidence`, `intent_ranking`."""

    def __init__(self, options: IntentClassifierOptions, model: TextClassifier, resources: Any) -> None:
        self.min_confidence = options.min_confidence
        self.model = model
        self.resources = resources

    @classmethod
    def create(cls, options: IntentClassifierOptions, resources: Any) -> IntentClassifier:
        return cls(options, load_classifier(resources.models_dir / "intent"), resources)

    def process(self, message: ParsedMessage) -> None:
        if not message.text:
            message.intent, message.intent_confidence = "out_of_scope", 1.0
            return
        prediction = self.model.predict(message.text, _vector(message, self.resources))
        message.intent_ranking = prediction.ranking
        message.intent, message.intent_confidence = prediction.label, prediction.confidence
        if message.intent_confidence < self.min_confidence:  # the classifier is unsure: a question
            message.intent = "ask_service"


class CategoryClassifier:
    """Pipeline stage: the first-level 12345 category of a complaint or request."""

    def __init__(self, model: TextClassifier, resources: Any) -> None:
        self.model = model
        self.resources = resources

    @classmethod
    def create(cls, options: CategoryClassifierOptions, resources: Any) -> CategoryClassifier:
        return cls(load_classifier(resources.models_dir / "category"), resources)

    def process(self, message: ParsedMessage) -> None:
        if not message.text:
            return
        prediction = self.model.predict(message.text, _vector(message, self.resources))
        message.category, message.category_confidence = prediction.label, prediction.confidence
