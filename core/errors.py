"""Errors that cross layers: raised by the server, understood by the connectors below it."""

from __future__ import annotations


class RateLimitedError(Exception):
    """Too many requests in the current window; `retry_after` seconds until the next one.

    The server's message callback raises it; a channel that cannot pass a 429 on (WeChat
    answers inside its own protocol) catches it by type and replies that it is busy.
    """

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"rate limit reached for this {scope}; retry in {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after
