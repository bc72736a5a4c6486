"""Vectors as the knowledge base stores them: which encoder made them, from which texts.

The store keeps bytes and never imports numpy: the index turns them into arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def vector_key(views: list[str]) -> str:
    """What a vector depends on: only the embedded texts, not every field."""
    return hashlib.sha256("\n".join(views).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class StoredVector:
    encoder: str  # Encoder.name: vectors of another encoder are never mixed in
    key: str  # vector_key of the texts it embeds
    data: bytes  # float32, little-endian
