"""A fake external 12345 platform on loopback: a real FastAPI app under uvicorn in a thread.

It checks our signatures itself (hmac/hashlib, not our code), records every request,
deduplicates by Idempotency-Key (a repeat gets the first answer and creates nothing),
and can be stopped (connection refused), told to answer 503, or told to process a request
and hold its answer until the test releases it (the client times out after the work was done).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LoopbackServer:
    """Serve an ASGI app on 127.0.0.1:port in a daemon thread; start and stop at will."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"loopback server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None


@dataclass
class Received:
    path: str
    key: str
    event: str
    body: dict[str, Any]


@dataclass
class FakePlatform:
    secret: str
    mode: str = "up"  # up | 503 | hold_once (process, then answer once `release` is set)
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)  # created, by ticket_no
    statuses: list[tuple[str, str]] = field(default_factory=list)  # (ticket_no, status) applied
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/tickets")
        async def create(request: Request) -> JSONResponse:
            return await self._handle(request, "create")

        @app.post("/tickets/{ticket_no}/status")
        async def status(request: Request, ticket_no: str) -> JSONResponse:
            return await self._handle(request, "status")

        return app

    def _signed(self, stamp: str, signature: str, body: bytes) -> bool:
        expected = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={expected}", signature)

    async def _handle(self, request: Request, kind: str) -> JSONResponse:
        body = await request.body()
        if self.mode == "503":
            return JSONResponse({"detail": "maintenance"}, status_code=503)
        stamp = request.headers.get("X-Govbot-Timestamp", "")
        if not self._signed(stamp, request.headers.get("X-Govbot-Signature", ""), body):
            self.bad_signatures += 1
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        key = request.headers["Idempotency-Key"]
        data = json.loads(body)
        with self.lock:
            self.requests.append(Received(request.url.path, key, request.headers["X-Govbot-Event"], data))
            answer = self.answers.get(key)
            if answer is None:  # first time this key: do the work
                if kind == "create":
                    self.tickets[data["ticket_no"]] = data
                else:
                    self.statuses.append((data["ticket_no"], data["status"]))
                answer = {"accepted": key}
                self.answers[key] = answer
        if self.mode == "hold_once":
            self.mode = "up"
            await asyncio.to_thread(self.release.wait, 30)
        return JSONResponse(answer, status_code=201 if kind == "create" else 200)

    @property
    def keys(self) -> set[str]:
        return {r.key for r in self.requests}
