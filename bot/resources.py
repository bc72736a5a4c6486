"""What the NLU stages may use, provided by the bot from the knowledge base and data files.

Heavy things (the encoder) are created on first use, so `govbot kb list`
stays instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np

from core.settings import Settings
from index.encoders import Encoder, make_encoder
from knowledge.store import KnowledgeStore
from nlu.training_data import NluData, load_nlu

NLU_FILE = Path(__file__).resolve().parent.parent / "nlu" / "data" / "nlu.yml"
CATEGORIES_FILE = NLU_FILE.parent / "categories.yml"


class Resources:
    def __init__(self, settings: Settings, kb: KnowledgeStore) -> None:
        self.settings = settings
        self.kb = kb
        self.models_dir = settings.models_dir

    @cached_property
    def nlu_data(self) -> NluData:
        return load_nlu(NLU_FILE)

    @cached_property
    def encoder(self) -> Encoder:
        return make_encoder(self.settings.index.embedder)

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector; repeated questions (hot topics repeat all day) come from a small LRU."""
        cache = self._query_vectors
        vector = cache.pop(text, None)
        if vector is None:
            vector = self.encoder.encode_queries([text])[0]
        cache[text] = vector  # most recently used last
        if len(cache) > self.settings.index.embedder.query_cache_size:
            cache.pop(next(iter(cache)))
        return vector

    @cached_property
    def _query_vectors(self) -> dict[str, np.ndarray]:
        return {}

    @cached_property
    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for item_id, item_names in self.kb.guide_names():
            for name in item_names:
                names.setdefault(name, item_id)
        return names

    def item_names(self) -> dict[str, str]:
        """Service names and aliases -> item id, for the fuzzy item entity."""
        return self._names

    def domain_words(self) -> Iterable[str]:
        """Words jieba should keep whole: names, aliases, synonyms, lookups."""
        yield from self._names
        for official, variants in self.nlu_data.synonyms.items():
            yield official
            yield from variants
        for values in self.nlu_data.lookups.values():
            yield from values
