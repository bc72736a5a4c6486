"""The external 12345 hotline platform, HTTP side: signed pushes out, signed callbacks in.

Not a chat channel (no citizen messages pass here), so it is not in the Channel registry:
it offers a client that pushes one outbox message, and a router factory for the platform's
status callbacks that verifies the signature and hands the parsed report to a callback.
It never touches the ticket store itself.

Signature, both ways (core/signing.py, the same scheme as the ticket webhooks):
    X-Govbot-Timestamp: <unix seconds>
    X-Govbot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
Pushes also carry `Idempotency-Key` (stable per outbox row) and `X-Govbot-Event`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from core.clock import Clock, system_clock
from core.retry import refusal_is_permanent
from core.signing import signature_problem, signed_headers

IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Govbot-Event"
CALLBACK_PATH = "/connectors/hotline-platform/callback"


@dataclass(frozen=True)
class PushResult:
    """No error: the platform took it (2xx). Permanent: do not repeat (a 4xx about the request)."""

    error: str | None = None
    permanent: bool = False
    status_code: int | None = None


class HotlinePlatformClient:
    """Pushes one message: POST {base_url}/tickets, or POST {base_url}/tickets/{no}/status."""

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout
        self.http = http or httpx.Client(timeout=timeout)
        self._own_http = http is None
        self.clock = clock

    def url_for(self, kind: str, ticket_no: str) -> str:
        if kind == "create":
            return f"{self.base_url}/tickets"
        return f"{self.base_url}/tickets/{quote(ticket_no, safe='')}/status"

    def push(self, *, kind: str, ticket_no: str, payload: dict[str, Any], key: str) -> PushResult:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: key,
            EVENT_HEADER: f"ticket.{kind}",
            **signed_headers(self.secret, body, timestamp=int(self.clock().timestamp())),
        }
        try:
            response = self.http.post(
                self.url_for(kind, ticket_no), content=body, headers=headers, timeout=self.timeout
            )
        except httpx.HTTPError as exc:
            return PushResult(error=f"{type(exc).__name__}: {exc}"[:300])
        if response.is_success:
            return PushResult(status_code=response.status_code)
        code = response.status_code
        error = f"HTTP {code}: {response.text[:200]}"
        return PushResult(error=error, permanent=refusal_is_permanent(code), status_code=code)

    def close(self) -> None:
        if self._own_http:
            self.http.close()


class CallbackIn(BaseModel):
    """The platform's report on one ticket: its own status code and, when there is one, the result."""

    event_id: str = Field(min_length=1, max_length=100, description="Unique per event; repeats are answered")
    ticket_no: str = Field(min_length=1, max_length=20, description="Our ticket number")
    status: str = Field(min_length=1, max_length=32, description="The platform's status code (status_map)")
    result: str | None = Field(None, max_length=2000, description="Handling result or reason")
    department: str | None = Field(None, max_length=64, description="For dispatch: the department")
    satisfaction: str | None = Field(
        None, max_length=8, description="For the return visit: 满意/基本满意/不满意"
    )
    occurred_at: datetime | None = Field(None, description="When it happened on the platform")


OnCallback = Callable[[CallbackIn], Awaitable[dict[str, Any]]]


def callback_router(
    *,
    secret: str,
    window_seconds: int,
    on_callback: OnCallback,
    clock: Clock = system_clock,
) -> APIRouter:
    """POST /connectors/hotline-platform/callback: 401 unless signed; then `on_callback` decides
    (its domain errors are the app's to translate: unknown ticket 404, illegal step 409)."""
    router = APIRouter(prefix="/connectors/hotline-platform", tags=["hotline-platform"])

    @router.post("/callback")
    async def callback(request: Request) -> dict[str, Any]:
        """A status report from the 12345 platform, HMAC-signed like our pushes."""
        body = await request.body()
        problem = (
            signature_problem(
                secret, request.headers, body, now=clock().timestamp(), window_seconds=window_seconds
            )
            if secret
            else "the platform secret (GOVBOT_PLATFORM_SECRET) is not configured"
        )
        if problem:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, problem)
        try:
            report = CallbackIn.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
        return await on_callback(report)

    return router
