"""A data key ring for tests that build stores by hand (the desk loads its own from settings)."""

from __future__ import annotations

import secrets

from core.crypto import Keyring


def fresh_keyring() -> Keyring:
    return Keyring(secrets.token_bytes(32))
