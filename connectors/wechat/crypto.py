"""WeChat's message-push signatures and AES envelope (compat and safe mode).

Signature: SHA1 hex of the sorted, concatenated strings (token, timestamp, nonce and, for
encrypted messages, the Encrypt field). Envelope: AES-256-CBC with the key decoded from the
43-character EncodingAESKey and the IV equal to its first 16 bytes; the plaintext is 16 random
bytes, a 4-byte big-endian length, the message and the app id, PKCS#7-padded to 32-byte blocks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.channel_settings import check_aes_key

BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size


class CryptoError(ValueError):
    """The request's envelope or signature is not what WeChat would send."""


def signature(*parts: str) -> str:
    """SHA1 over the sorted parts, as WeChat computes `signature` and `msg_signature`."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected_parts: tuple[str, ...], given: str) -> bool:
    """Constant-time comparison, so a forger learns nothing from response times."""
    return hmac.compare_digest(signature(*expected_parts), given.lower())


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    pad = block - len(data) % block
    return data + bytes([pad]) * pad


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    if not data:
        raise CryptoError("empty ciphertext")
    pad = data[-1]
    if not 1 <= pad <= block or data[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding (wrong EncodingAESKey?)")
    return data[:-pad]


class WeChatCipher:
    """Encrypts replies and decrypts pushes for one app."""

    def __init__(self, aes_key: str, app_id: str) -> None:
        try:
            self._key = check_aes_key(aes_key)
        except ValueError as exc:
            raise CryptoError(str(exc)) from exc
        self._app_id = app_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        """Base64 of the AES envelope around `message` (random 16-byte prefix unless given)."""
        body = message.encode("utf-8")
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        plain = pkcs7_pad(prefix + struct.pack(">I", len(body)) + body + self._app_id)
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """The message inside the envelope; CryptoError when anything is off, the app id included."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("Encrypt is not valid base64") from exc
        if not raw or len(raw) % 16:
            raise CryptoError("Encrypt is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < 20:
            raise CryptoError("envelope too short")
        (length,) = struct.unpack(">I", plain[16:20])
        body, tail = plain[20 : 20 + length], plain[20 + length :]
        if len(body) != length:
            raise CryptoError("envelope length field exceeds the data")
        if not hmac.compare_digest(tail, self._app_id):
            raise CryptoError("message was encrypted for another app id")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CryptoError("message is not UTF-8") from exc
