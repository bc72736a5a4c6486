"""WeChat's server API as govbot uses it: an access_token per app and customer-service text messages.

The token is cached in the data directory's wechat.sqlite so that several workers share one:
each fetch invalidates the previous token after a short grace period, so workers fetching their
own would keep knocking each other out.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx

from connectors.push_outbox import DeliveryError
from core.clock import Clock, system_clock

log = logging.getLogger(__name__)

TOKEN_INVALID = {40001, 40014, 42001}  # invalid / malformed / expired access_token
# The message can never go out: unknown user, user gone silent past the 48 h window, API not granted.
PERMANENT = {40003, 43004, 45015, 45047, 48001}
REFRESH_MARGIN_SECONDS = 300


class ApiError(DeliveryError):
    """A failed call; `permanent` when retrying cannot help."""


class TokenStore:
    """Tokens by app id, in SQLite, shared by the workers of one machine."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS wechat_tokens"
            " (app_id TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL)"
        )

    def get(self, app_id: str) -> tuple[str, float] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT token, expires_at FROM wechat_tokens WHERE app_id = ?", (app_id,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, app_id: str, token: str, expires_at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO wechat_tokens (app_id, token, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT(app_id) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
                (app_id, token, expires_at),
            )

    def invalidate(self, app_id: str, token: str) -> None:
        """Drop `token` unless another worker has already replaced it."""
        with self._lock:
            self._db.execute("DELETE FROM wechat_tokens WHERE app_id = ? AND token = ?", (app_id, token))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class WeChatApi:
    """Calls `{api_base}/cgi-bin/...` for the configured apps (app id -> AppSecret)."""

    def __init__(
        self,
        *,
        api_base: str,
        secrets: dict[str, str],
        tokens: TokenStore,
        timeout: float = 10.0,
        clock: Clock = system_clock,
    ) -> None:
        self._clock = clock  # token expiry is kept in unix seconds
        self._base = api_base.rstrip("/")
        self._secrets = secrets
        self._tokens = tokens
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None  # made in the loop that uses it
        self._locks: dict[str, asyncio.Lock] = {}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    async def _get_json(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise ApiError(f"HTTP {response.status_code} from {response.url.path}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ApiError(f"non-JSON answer from {response.url.path}") from exc
        if not isinstance(data, dict):
            raise ApiError(f"unexpected answer from {response.url.path}")
        return data

    async def access_token(self, app_id: str) -> str:
        """A token valid for at least a few more minutes; fetched once for all waiting callers."""
        cached = self._tokens.get(app_id)
        if cached and cached[1] - self._clock().timestamp() > REFRESH_MARGIN_SECONDS:
            return cached[0]
        lock = self._locks.setdefault(app_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(app_id)
            if cached and cached[1] - self._clock().timestamp() > REFRESH_MARGIN_SECONDS:
                return cached[0]
            secret = self._secrets.get(app_id)
            if not secret:
                raise ApiError(f"no AppSecret for {app_id} (GOVBOT_WECHAT_<APPID>_SECRET)", permanent=True)
            try:
                response = await self._http().get(
                    f"{self._base}/cgi-bin/token",
                    params={"grant_type": "client_credential", "appid": app_id, "secret": secret},
                )
            except httpx.HTTPError as exc:
                raise ApiError(f"token request failed: {exc!r}") from exc
            data = await self._get_json(response)
            token = data.get("access_token")
            if not token:
                raise ApiError(f"token refused: errcode {data.get('errcode')} {data.get('errmsg', '')}")
            expires_in = float(data.get("expires_in", 7200))
            self._tokens.put(app_id, str(token), self._clock().timestamp() + expires_in)
            log.info("wechat.token.refreshed", extra={"app_id": app_id, "expires_in": expires_in})
            return str(token)

    async def send_text(self, app_id: str, touser: str, content: str) -> None:
        """One customer-service text message; a rejected token is refreshed and the call repeated once."""
        for attempt in (1, 2):
            token = await self.access_token(app_id)
            try:
                response = await self._http().post(
                    f"{self._base}/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    json={"touser": touser, "msgtype": "text", "text": {"content": content}},
                )
            except httpx.HTTPError as exc:
                raise ApiError(f"send failed: {exc!r}") from exc
            data = await self._get_json(response)
            code = int(data.get("errcode", 0) or 0)
            if code == 0:
                return
            if code in TOKEN_INVALID and attempt == 1:
                log.info("wechat.token.rejected", extra={"app_id": app_id, "errcode": code})
                self._tokens.invalidate(app_id, token)
                continue
            raise ApiError(f"errcode {code} {data.get('errmsg', '')}".strip(), permanent=code in PERMANENT)
        raise ApiError("access_token rejected twice")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
