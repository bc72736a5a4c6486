"""Encryption at rest of what citizens tell us (phone, name, their own words): AES-256-GCM with
a data key from the environment, and a keyed hash of the phone's last four digits for search.

A sealed value reads `g1:<key id>:<base64 nonce+ciphertext>`; the key id (a fingerprint of the
key, never the key) names the key that sealed it, so after a rotation old values still open with
the old key (GOVBOT_DATA_KEYS_OLD) until `govbot keys rotate` has sealed them again with the new
one. The phone-tail hash is an HMAC under a key derived from each data key: a search asks for
the hash under every known key, so a rotation never hides a ticket from a status look-up.

Where the key comes from: GOVBOT_DATA_KEY (production: set it, `govbot keys new` prints one).
Unset, a key is generated once into `<data dir>/data.key` (0600) with a warning on every start:
tests and development then work without setup, but that key sits next to the data it protects,
which is no protection against a copy of the whole directory.

One key ring per process (the database column type below has no other way to reach it): a
second ring installed, as tests do with a data dir each, becomes the current one and keeps the
earlier keys for reading.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.files import ensure_private, write_private
from core.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "g1"
KEY_FILE = "data.key"
KEY_BYTES = 32
NONCE_BYTES = 12


class DataKeyError(RuntimeError):
    """A data key is malformed, or a sealed value names a key this process does not have."""


def new_key() -> str:
    """A fresh data key, base64 (what GOVBOT_DATA_KEY takes)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """The 32 bytes of a base64 key (standard or URL-safe alphabet); DataKeyError otherwise."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/") + "=" * (-len(cleaned) % 4))
    except ValueError as exc:
        raise DataKeyError("a data key must be base64 (`govbot keys new` prints one)") from exc
    if len(raw) != KEY_BYTES:
        raise DataKeyError(f"a data key must be {KEY_BYTES} bytes, base64; this one is {len(raw)}")
    return raw


def key_id(key: bytes) -> str:
    """A public fingerprint of `key`: 8 hex digits stored with every value it seals."""
    return hashlib.sha256(b"govbot data key id\0" + key).hexdigest()[:8]


def _tail_key(key: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"govbot phone tail v1")
    return hkdf.derive(key)


class Keyring:
    """The current data key (seals) and every key it may meet (opens), by key id."""

    def __init__(self, current: bytes, old: Iterable[bytes] = ()) -> None:
        self.current_id = key_id(current)
        self._keys: dict[str, bytes] = {key_id(k): k for k in old}
        self._keys[self.current_id] = current
        self._ciphers = {kid: AESGCM(k) for kid, k in self._keys.items()}
        self._tail_keys = {kid: _tail_key(k) for kid, k in self._keys.items()}

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def keys(self) -> list[bytes]:
        return list(self._keys.values())

    def with_old(self, old: Iterable[bytes]) -> Keyring:
        """This ring, also able to open what `old` keys sealed."""
        return Keyring(self._keys[self.current_id], [*old, *self._keys.values()])

    def seal(self, text: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        kid = self.current_id
        sealed = self._ciphers[kid].encrypt(nonce, text.encode("utf-8"), kid.encode())
        return f"{PREFIX}:{kid}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, value: str) -> str:
        """The clear text of a sealed value; a value stored before encryption comes back as it is."""
        if not is_sealed(value):
            return value
        _, kid, body = value.split(":", 2)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DataKeyError(f"sealed with data key {kid}, which is neither GOVBOT_DATA_KEY nor an old key")
        raw = base64.b64decode(body)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], kid.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise DataKeyError(f"a value sealed with key {kid} does not open: altered or wrong key") from exc

    def is_current(self, value: str) -> bool:
        """Sealed with the current key (nothing for `keys rotate` to do)."""
        return value.startswith(f"{PREFIX}:{self.current_id}:")

    def tail_hash(self, digits: str) -> str:
        """The keyed hash of a phone's last four digits under the current key (what is stored)."""
        return self._tail_hash(self.current_id, digits)

    def tail_hashes(self, digits: str) -> list[str]:
        """The hash under every known key: what a search asks for, so rows hashed under an
        older key are still found before `keys rotate` has rehashed them."""
        return [self._tail_hash(kid, digits) for kid in self._keys]

    def _tail_hash(self, kid: str, digits: str) -> str:
        return hmac.new(self._tail_keys[kid], digits[-4:].encode(), hashlib.sha256).hexdigest()[:32]


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX + ":") and value.count(":") >= 2


_lock = threading.Lock()
_active: Keyring | None = None


def install(ring: Keyring) -> Keyring:
    """Make `ring` the process's ring; keys of an earlier ring stay readable."""
    global _active
    with _lock:
        _active = ring if _active is None else ring.with_old(_active.keys())
        return _active


def active() -> Keyring:
    if _active is None:
        raise DataKeyError("no data key loaded: open the ticket desk (or call core.crypto.load) first")
    return _active


def load(data_key: str, old_keys: str, data_dir: Path) -> Keyring:
    """The ring of the environment's keys (GOVBOT_DATA_KEY, GOVBOT_DATA_KEYS_OLD), else of the
    data dir's key file (generated on first use), installed for this process. A key file left
    from development stays readable after GOVBOT_DATA_KEY is set, so `keys rotate` can move
    its data onto the production key."""
    old = [decode_key(k) for k in old_keys.split(",") if k.strip()]
    path = data_dir / KEY_FILE
    if data_key:
        if path.is_file():
            old.append(decode_key(path.read_text()))
        return install(Keyring(decode_key(data_key), old))
    if not path.is_file():
        write_private(path, new_key() + "\n")
    else:
        ensure_private(path)
    log.warning(
        "crypto.dev_key: GOVBOT_DATA_KEY is not set; citizens' data is encrypted with the key file "
        "%s, kept beside the data. Production must set GOVBOT_DATA_KEY (`govbot keys new`).",
        path,
    )
    return install(Keyring(decode_key(path.read_text()), old))


def load_for(settings: Settings) -> Keyring:
    """`load` with a Settings' secrets and data dir."""
    secrets_ = settings.secrets
    return load(secrets_.data_key, secrets_.data_keys_old, settings.data_dir)


class Sealed(TypeDecorator[str]):
    """A text column stored sealed under the process's data key, read back in clear.

    `length` is the clear text's limit, kept as the declared type on SQLite (which stores any
    length in a VARCHAR(n), so sealing needed no table copy there); PostgreSQL stores TEXT, as
    a sealed value is about four thirds of its UTF-8 bytes plus 42 characters."""

    impl = Text
    cache_ok = True

    def __init__(self, length: int | None = None) -> None:
        super().__init__()
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite" and self.length is not None:
            return String(self.length)
        return Text()  # not through type_descriptor: psycopg's adaptation would compile as VARCHAR

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else active().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else active().open(value)
