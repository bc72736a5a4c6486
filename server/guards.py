"""Request hygiene in front of every route: body size limit and per-address rate limit.

Pure ASGI middleware, so an oversized body is refused while it streams in, before any
route reads it.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import metrics
from server.limits import RateLimiter

EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics")


async def _refuse(
    send: Send, code: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLargeError(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, limiter: RateLimiter, per_ip: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter
        self.per_ip = per_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, f"request body over {self.max_body_bytes} bytes")
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.limiter.hit(f"ip:{client}", self.per_ip)
        if wait:
            metrics.RATE_LIMITED.labels("ip").inc()
            await _refuse(
                send,
                429,
                f"too many requests from this address; retry in {wait} s",
                [(b"retry-after", str(wait).encode())],
            )
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLargeError:
            if not started:
                await _refuse(send, 413, f"request body over {self.max_body_bytes} bytes")
