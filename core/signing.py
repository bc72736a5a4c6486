"""HMAC signing of JSON bodies, one scheme for every signed exchange (ticket webhooks, the
12345 platform's pushes and callbacks), so a receiver checks all of them the same way:

    X-Govbot-Timestamp: <unix seconds>
    X-Govbot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp is signed with the body, so a captured request cannot be replayed outside the
receiver's window.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Govbot-Timestamp"
SIGNATURE_HEADER = "X-Govbot-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """hex HMAC-SHA256 of '<timestamp>.<body>'."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, timestamp: int) -> dict[str, str]:
    """The two headers that sign `body` at `timestamp`."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: "sha256=" + sign(secret, timestamp, body),
    }


def signature_problem(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float, window_seconds: int
) -> str | None:
    """Why a signed request is not acceptable, or None when it is (`now` in unix seconds).
    `secret` empty means signing is not configured, so nothing is accepted."""
    if not secret:
        return "the shared secret is not configured"
    stamp, given = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if not stamp or not given:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
    try:
        timestamp = int(stamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not a unix time"
    if abs(now - timestamp) > window_seconds:
        return f"timestamp outside the {window_seconds}-second window"
    expected = "sha256=" + sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "signature mismatch"
    return None
