"""Request hygiene in front of every route: body size limit, per-address rate limit, and
strict JSON (server/inputs.py).

Pure ASGI middleware, so an oversized body is refused while it streams in, before any
route reads it. Trusted upstreams (the Rasa host, WeChat's servers: `server.trusted_upstreams`)
relay many end users from one address; they skip the per-address limit, and their users are
limited per session by the message callback.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import metrics
from server.inputs import BadInputError, check_json
from server.limits import RateLimiter

EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics")
UPLOAD_PATHS = ("/api/v1/admin/kb/import",)
"""Routes that take a file (never JSON-checked): `max_upload_bytes` instead of `max_body_bytes`."""


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
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        limiter: RateLimiter,
        per_ip: int,
        trusted_upstreams: frozenset[str] = frozenset(),
        max_upload_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes or max_body_bytes
        self.limiter = limiter
        self.per_ip = per_ip
        self.trusted_upstreams = trusted_upstreams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = self.max_upload_bytes if scope["path"] in UPLOAD_PATHS else self.max_body_bytes
        declared = headers.get(b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, f"request body over {limit} bytes")
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = 0 if client in self.trusted_upstreams else self.limiter.hit(f"ip:{client}", self.per_ip)
        if wait:
            metrics.RATE_LIMITED.labels("ip").inc()
            await _refuse(
                send,
                429,
                f"too many requests from this address; retry in {wait} s",
                [(b"retry-after", str(wait).encode())],
            )
            return
        if b"json" in headers.get(b"content-type", b"") and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._strict_json(scope, receive, send)
            return
        await self._streamed(scope, receive, send, limit)

    async def _strict_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the whole (bounded) body, check it, and hand the route the same bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _refuse(send, 413, f"request body over {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_json(body)
        except BadInputError as exc:
            metrics.REFUSED_INPUT.inc()
            await _refuse(send, 400, f"invalid JSON body: {exc}")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect, as a server would
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
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
                await _refuse(send, 413, f"request body over {limit} bytes")
