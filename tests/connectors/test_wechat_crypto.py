"""Signatures and the AES envelope against vectors made outside the code under test
(hashlib, and the openssl command line with PKCS#7 bytes written here)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest

from connectors.wechat.crypto import CryptoError, WeChatCipher, signature, signature_matches
from core.channel_settings import check_aes_key
from tests.utils.wechat import AES_KEY, OTHER_AES_KEY, aes_key_bytes, wx_encrypt, wx_encrypt_raw

APP_ID = "wx5823bf96d3bd56c7"
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")


def _openssl(data: bytes, *, decrypt: bool = False) -> bytes:
    key = aes_key_bytes(AES_KEY)
    args = ["openssl", "enc", "-aes-256-cbc", "-K", key.hex(), "-iv", key[:16].hex(), "-nopad"]
    if decrypt:
        args.append("-d")
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


def _envelope(message: bytes, app_id: bytes, prefix: bytes = b"0123456789abcdef") -> bytes:
    plain = prefix + len(message).to_bytes(4, "big") + message + app_id
    pad = 32 - len(plain) % 32
    return plain + bytes([pad]) * pad


def test_signature_is_sha1_of_the_sorted_parts() -> None:
    assert signature("token", "1700000000", "nonce") == hashlib.sha1(b"1700000000noncetoken").hexdigest()
    assert signature("b", "a", "c") == signature("c", "b", "a")
    assert signature_matches(("token", "1", "n"), signature("token", "1", "n").upper())
    assert not signature_matches(("token", "1", "n"), signature("token", "1", "m"))
    assert not signature_matches(("token", "1", "n"), "")


@needs_openssl
def test_decrypts_what_openssl_encrypted() -> None:
    message = "<xml><Content><![CDATA[社保卡补办需要什么材料？]]></Content></xml>"
    encrypted = base64.b64encode(_openssl(_envelope(message.encode(), APP_ID.encode()))).decode()
    assert WeChatCipher(AES_KEY, APP_ID).decrypt(encrypted) == message


@needs_openssl
def test_openssl_decrypts_what_we_encrypted() -> None:
    prefix = b"fedcba9876543210"
    encrypted = WeChatCipher(AES_KEY, APP_ID).encrypt("回复：请携带身份证。", random_prefix=prefix)
    plain = _openssl(base64.b64decode(encrypted), decrypt=True)
    assert plain == _envelope("回复：请携带身份证。".encode(), APP_ID.encode(), prefix)
    assert len(plain) % 32 == 0


def test_random_prefix_differs_between_encryptions() -> None:
    cipher = WeChatCipher(AES_KEY, APP_ID)
    first, second = cipher.encrypt("同一条消息"), cipher.encrypt("同一条消息")
    assert first != second
    assert cipher.decrypt(first) == cipher.decrypt(second) == "同一条消息"


def test_full_padding_block_when_already_aligned() -> None:
    """A plaintext that fills whole 32-byte blocks still gets a block of 32 padding bytes."""
    message = "x" * (64 - 16 - 4 - len(APP_ID))
    encrypted = WeChatCipher(AES_KEY, APP_ID).encrypt(message)
    assert len(base64.b64decode(encrypted)) == 96
    assert WeChatCipher(AES_KEY, APP_ID).decrypt(encrypted) == message


@pytest.mark.parametrize(
    ("encrypted", "error"),
    [
        ("not base64 !!", "base64"),
        (base64.b64encode(b"x" * 20).decode(), "AES blocks"),
        ("", "AES blocks"),
        (wx_encrypt("<xml/>", "wxsomeoneelse"), "another app id"),
        (wx_encrypt_raw(b"R" * 16 + (1000).to_bytes(4, "big") + b"<xml/>" + b"\x06" * 6), "length"),
        (wx_encrypt_raw(b"R" * 16 + (6).to_bytes(4, "big") + b"<xml/>" + b"\x00" * 6), "padding"),
        (wx_encrypt_raw(b"R" * 31 + b"\x21"), "padding"),
        (wx_encrypt("<xml/>", APP_ID, OTHER_AES_KEY), "padding|app id|length|short|UTF-8"),
    ],
    ids=["base64", "short", "empty", "app-id", "length", "zero-pad", "pad-too-big", "other-key"],
)
def test_bad_envelopes_raise(encrypted: str, error: str) -> None:
    with pytest.raises(CryptoError, match=error):
        WeChatCipher(AES_KEY, APP_ID).decrypt(encrypted)


@pytest.mark.parametrize(
    ("key", "error"),
    [("short", "43 characters"), ("!" * 43, "base64"), (AES_KEY[:-1] + "=", "32 bytes")],
)
def test_aes_key_shape(key: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        check_aes_key(key)
    with pytest.raises(CryptoError):
        WeChatCipher(key, APP_ID)


def test_aes_key_decodes_to_32_bytes() -> None:
    assert check_aes_key(AES_KEY) == aes_key_bytes(AES_KEY)
    assert len(check_aes_key(AES_KEY)) == 32
