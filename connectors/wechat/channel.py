"""The WeChat door: `/connectors/wechat/{app_id}` for official accounts and mini-programs.

GET verifies the URL (echo `echostr` when the signature holds); POST takes a pushed message in
plaintext, compat or safe mode, as XML or JSON. Nothing happens before the request is proven to
come from WeChat (signature, timestamp window, decryption, app id): a refused request leaves no
trace. Then a dedupe record makes WeChat's retries harmless, text goes to `on_message`, and the
answer leaves either as a passive reply (official accounts, within the 5-second budget) or
through the durable outbox and the customer-service API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from bot.messages import UserMessage
from connectors.base import Channel, ChannelRuntime, OnMessage, Sleep, session_key
from connectors.wechat.api_client import TokenStore, WeChatApi
from connectors.wechat.crypto import CryptoError, WeChatCipher, signature, signature_matches
from connectors.wechat.dedupe import DedupeStore, make_dedupe
from connectors.wechat.messages import (
    Inbound,
    MessageError,
    encrypted_reply_xml,
    fit_text,
    parse_body,
    render_reply,
    split_text,
    text_reply_xml,
)
from connectors.wechat.outbox import Outbox, OutboxRow
from core.channel_settings import WeChatApp, WeChatAppSecrets, WeChatSettings, wechat_env_name
from core.clock import system_clock
from core.errors import RateLimitedError
from core.privacy import mask_identifiers

log = logging.getLogger(__name__)
run = anyio.to_thread.run_sync  # store calls (SQLite may wait on another worker, Redis on the network)

SUCCESS = "success"  # what WeChat expects when there is no passive reply
WELCOME_EVENTS = {"subscribe", "user_enter_tempsession"}


@dataclass(frozen=True)
class _App:
    config: WeChatApp
    token: str
    cipher: WeChatCipher | None
    app_secret: str


@dataclass(frozen=True)
class _Checked:
    """A request proven to come from WeChat, with its message in the clear."""

    app: _App
    inbound: Inbound
    encrypted: bool


class WeChatChannel(Channel):
    config_model = WeChatSettings

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_config(cls, config: dict[str, Any], runtime: ChannelRuntime | None = None) -> WeChatChannel:
        settings = WeChatSettings.model_validate(config)
        if settings.apps and runtime is None:
            raise ValueError("the wechat channel needs a ChannelRuntime (data directory, secrets)")
        return cls(settings, runtime)

    def __init__(self, settings: WeChatSettings, runtime: ChannelRuntime | None) -> None:
        self.settings = settings
        self.clock = runtime.clock if runtime is not None else system_clock  # the replay window's "now"
        self.sleep: Sleep = runtime.sleep if runtime is not None else asyncio.sleep  # budget and retry waits
        self.apps: dict[str, _App] = {}
        found: dict[str, WeChatAppSecrets] = dict(runtime.secrets.get("wechat", {})) if runtime else {}
        for app in settings.apps:
            self.apps[app.app_id] = self._app(app, found.get(app.app_id.upper()))
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self.dedupe: DedupeStore | None = None
        self.outbox: Outbox | None = None
        self.api: WeChatApi | None = None
        self.state_path: Path | None = None
        if self.apps and runtime is not None:
            self.state_path = path = runtime.data_dir / "wechat.sqlite"
            self.dedupe = make_dedupe(
                data_dir=runtime.data_dir,
                redis_url=runtime.redis_url,
                ttl_seconds=settings.dedupe_ttl_seconds,
                clock=self.clock,
                redis_prefix=runtime.redis_prefix,
            )
            self.outbox = Outbox(path, settings.outbox, clock=self.clock)
            self.api = WeChatApi(
                api_base=settings.api_base,
                secrets={a.config.app_id: a.app_secret for a in self.apps.values() if a.app_secret},
                tokens=TokenStore(path),
                timeout=settings.http_timeout_seconds,
                clock=self.clock,
            )

    @staticmethod
    def _app(app: WeChatApp, found: WeChatAppSecrets | None) -> _App:
        """Pair an app with its secrets; a missing one is a start-up error, not a 500 later."""
        if found is None or not found.token:
            raise ValueError(f"wechat app {app.app_id}: set {wechat_env_name(app.app_id, 'token')}")
        if app.encoding != "plain" and not found.aes_key:
            env = wechat_env_name(app.app_id, "aes_key")
            raise ValueError(f"wechat app {app.app_id} ({app.encoding} mode): set {env}")
        if app.kind == "mini_program" and not found.app_secret:
            env = wechat_env_name(app.app_id, "app_secret")
            raise ValueError(f"wechat mini-program {app.app_id}: set {env}")
        if not found.app_secret and not app.passive_only:
            env = wechat_env_name(app.app_id, "app_secret")
            raise ValueError(
                f"wechat app {app.app_id}: set {env} (late answers go through the customer-service "
                "API), or set passive_only: true for this app to accept that late answers are dropped"
            )
        if not found.app_secret:
            log.warning(f"wechat.config.passive_only app_id={app.app_id}: late answers will be dropped")
        cipher = WeChatCipher(found.aes_key, app.app_id) if found.aes_key else None
        return _App(config=app, token=found.token, cipher=cipher, app_secret=found.app_secret)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.outbox is not None and self._runner is None:
            self._runner = asyncio.create_task(self.outbox.run(self.send_row))

    async def stop(self) -> None:
        """Let answers in progress reach the outbox, then stop the sender (rows left stay queued)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        if self._runner is not None and self.outbox is not None:
            self.outbox.request_stop()
            await asyncio.wait({self._runner}, timeout=self.settings.http_timeout_seconds + 2)
            self._runner.cancel()  # a send still hanging: its row is given back, not lost
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self.api is not None:
            await self.api.close()

    async def deliver(self, session_id: str, text: str, key: str) -> None:
        """An agent's line through the durable outbox and the customer-service API (retried
        there, never dropped); the session key names the app and the user."""
        _, app_id, touser = session_id.split(":", 2)
        if self.outbox is None or app_id not in self.apps:
            log.warning("wechat.deliver.unroutable", extra={"app_id": app_id})
            return
        parts = split_text(
            text, self.settings.max_reply_bytes, self.settings.max_parts, self.settings.more_link
        )
        await self.outbox.put(app_id=app_id, touser=touser, parts=parts, msg_key=key)

    async def send_row(self, row: OutboxRow) -> None:
        assert self.api is not None
        await self.api.send_text(row.app_id, row.touser, row.content)

    # -- checks: everything here runs before any side effect ---------------------------------

    def _verify(self, app: _App, query: dict[str, str]) -> None:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not timestamp.isdigit() or not nonce:
            raise HTTPException(400, "timestamp and nonce are required")
        if abs(self.clock().timestamp() - int(timestamp)) > self.settings.timestamp_window_seconds:
            raise HTTPException(401, "timestamp outside the accepted window (replayed or clock skew)")
        if not signature_matches((app.token, timestamp, nonce), query.get("signature", "")):
            raise HTTPException(401, "signature does not match")

    def _check(self, app: _App, query: dict[str, str], body: bytes) -> _Checked:
        self._verify(app, query)
        try:
            fields, _ = parse_body(body)
        except MessageError as exc:
            raise HTTPException(400, str(exc)) from exc
        encrypted = query.get("encrypt_type", "").lower() == "aes"
        mode = app.config.encoding
        if encrypted and mode == "plain":
            raise HTTPException(400, "this app is configured for plaintext messages")
        if not encrypted and mode == "safe":
            raise HTTPException(400, "this app is configured for safe mode: messages must be encrypted")
        if encrypted:
            envelope = fields.get("Encrypt", "")
            if not envelope:
                raise HTTPException(400, "encrypted message without an Encrypt field")
            parts = (app.token, query["timestamp"], query["nonce"], envelope)
            if not signature_matches(parts, query.get("msg_signature", "")):
                raise HTTPException(401, "msg_signature does not match")
            assert app.cipher is not None  # guaranteed by _app for compat and safe mode
            try:
                inner = app.cipher.decrypt(envelope)
            except CryptoError as exc:
                code = 403 if "another app id" in str(exc) else 400
                raise HTTPException(code, str(exc)) from exc
            try:
                fields, _ = parse_body(inner.encode("utf-8"))
            except MessageError as exc:
                raise HTTPException(400, f"decrypted message: {exc}") from exc
        try:
            inbound = Inbound.from_fields(fields)
        except MessageError as exc:
            raise HTTPException(400, str(exc)) from exc
        return _Checked(app=app, inbound=inbound, encrypted=encrypted)

    def _lookup(self, app_id: str) -> _App:
        app = self.apps.get(app_id)
        if app is None:
            raise HTTPException(404, "no WeChat app configured under this id")
        return app

    # -- replies ---------------------------------------------------------------------------

    def _passive(self, checked: _Checked, text: str | None) -> Response:
        """The HTTP answer to WeChat: a (possibly encrypted) text reply, or 'success'."""
        if not text or checked.app.config.kind != "official_account":  # "": relayed to an agent
            return PlainTextResponse(SUCCESS)
        inbound = checked.inbound
        xml = text_reply_xml(
            to_user=inbound.from_user,
            from_user=inbound.to_user,
            content=fit_text(text, self.settings.max_reply_bytes, self.settings.more_link),
            create_time=int(self.clock().timestamp()),
        )
        if checked.encrypted:
            assert checked.app.cipher is not None
            envelope = checked.app.cipher.encrypt(xml)
            timestamp, nonce = str(int(self.clock().timestamp())), str(secrets.randbelow(10**9))
            xml = encrypted_reply_xml(
                encrypt=envelope,
                msg_signature=signature(checked.app.token, timestamp, nonce, envelope),
                timestamp=timestamp,
                nonce=nonce,
            )
        return Response(xml, media_type="application/xml")

    async def _queue(self, checked: _Checked, key: str, text: str) -> None:
        """Durably queue `text` for the customer-service API, split to WeChat's limit."""
        assert self.outbox is not None
        parts = split_text(
            text, self.settings.max_reply_bytes, self.settings.max_parts, self.settings.more_link
        )
        added = await self.outbox.put(
            app_id=checked.app.config.app_id, touser=checked.inbound.from_user, parts=parts, msg_key=key
        )
        log.info("wechat.reply.queued", extra={"app_id": checked.app.config.app_id, "parts": added})

    async def _answer(self, checked: _Checked, on_message: OnMessage, text: str) -> str:
        """The bot's reply as plain text; failures become a polite sentence, never an exception."""
        inbound = checked.inbound
        message = UserMessage(
            text=text,
            session_id=session_key("wechat", f"{checked.app.config.app_id}:{inbound.from_user}"),
            channel="wechat",
            message_id=inbound.msg_id or None,
            metadata={"app_id": checked.app.config.app_id, "msg_type": inbound.msg_type},
        )
        try:
            reply = await on_message(message)
        except RateLimitedError:
            return self.settings.busy_reply
        except Exception:
            log.exception("wechat.message.failed", extra={"app_id": checked.app.config.app_id})
            return self.settings.error_reply
        return render_reply(reply)

    def _spawn(self, job: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _queue_when_ready(self, checked: _Checked, key: str, answer: asyncio.Task[str]) -> None:
        text = await answer
        if text:  # an empty answer: the line went to a live agent, nothing to send back
            await self._queue(checked, key, text)

    async def _handle(self, checked: _Checked, key: str, on_message: OnMessage, started: float) -> Response:
        """First delivery of a message: decide the reply and record what retries should get."""
        assert self.dedupe is not None
        inbound, settings = checked.inbound, self.settings
        passive_ok = checked.app.config.kind == "official_account"
        text = inbound.text
        if text is None:
            if inbound.msg_type == "event":
                fixed = settings.welcome_reply if inbound.event in WELCOME_EVENTS else None
            else:
                fixed = settings.unsupported_reply
            if fixed is not None and not passive_ok:
                await self._queue(checked, key, fixed)
                fixed = None
            await run(self.dedupe.finish, key, json.dumps({"reply": fixed}))
            return self._passive(checked, fixed)
        answer = asyncio.create_task(self._answer(checked, on_message, text))
        if passive_ok:
            remaining = settings.reply_budget_seconds - (time.monotonic() - started)
            budget = asyncio.ensure_future(self.sleep(max(remaining, 0.0)))
            try:
                # the reply leaves as soon as the answer is ready; only a budget run out sends it later
                await asyncio.wait({answer, budget}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                self._spawn(self._queue_when_ready(checked, key, answer))
                raise
            finally:
                budget.cancel()
            if answer.done():
                reply = answer.result()
                await run(self.dedupe.finish, key, json.dumps({"reply": reply}))
                return self._passive(checked, reply)
            log.info("wechat.reply.late", extra={"app_id": checked.app.config.app_id})
            if not checked.app.app_secret:  # passive_only: nothing can deliver it now; say so loudly
                log.warning("wechat.reply.dropped", extra={"app_id": checked.app.config.app_id})
                await run(self.dedupe.finish, key, json.dumps({"reply": None}))
                return PlainTextResponse(SUCCESS)
        await run(self.dedupe.finish, key, json.dumps({"reply": None}))
        self._spawn(self._queue_when_ready(checked, key, answer))
        return PlainTextResponse(SUCCESS)

    async def _repeat(self, checked: _Checked, key: str) -> Response:
        """A retry: give it the first delivery's reply once known, else 'success' (never a new answer)."""
        assert self.dedupe is not None
        # the retry wait runs out by the same injected sleep as the reply budget
        waited = asyncio.ensure_future(self.sleep(self.settings.retry_wait_seconds))
        try:
            while True:
                outcome = await run(self.dedupe.outcome, key)
                if outcome is not None:
                    return self._passive(checked, json.loads(outcome).get("reply"))
                if waited.done():
                    return PlainTextResponse(SUCCESS)
                await asyncio.sleep(0.05)  # how often the store is read, not how long to wait
        finally:
            waited.cancel()

    # -- routes ----------------------------------------------------------------------------

    def router(self, on_message: OnMessage) -> APIRouter:
        router = APIRouter(prefix="/connectors/wechat", tags=["wechat"])
        if not self.apps:
            return router

        @router.get("/{app_id}", response_class=PlainTextResponse)
        async def verify_url(app_id: str, request: Request) -> PlainTextResponse:
            """WeChat's server-URL check: echo `echostr` when the signature holds."""
            app = self._lookup(app_id)
            query = dict(request.query_params)
            try:
                self._verify(app, query)
            except HTTPException as exc:
                log.warning("wechat.verify.rejected", extra={"app_id": app_id, "reason": exc.detail})
                raise
            log.info("wechat.verify.ok", extra={"app_id": app_id})
            return PlainTextResponse(query.get("echostr", ""))

        @router.post("/{app_id}")
        async def receive(app_id: str, request: Request) -> Response:
            """One pushed message (or event); answers within WeChat's 5-second budget."""
            started = time.monotonic()
            app = self._lookup(app_id)
            body = await request.body()
            try:
                checked = self._check(app, dict(request.query_params), body)
            except HTTPException as exc:
                log.warning("wechat.message.rejected", extra={"app_id": app_id, "reason": exc.detail})
                raise
            inbound = checked.inbound
            key = f"{app.config.app_id}:{inbound.dedupe_id}"
            log.info(
                "wechat.message.received",
                extra={"app_id": app_id, "msg_type": inbound.msg_type, "msg_id": inbound.msg_id},
            )
            assert self.dedupe is not None
            if not await run(self.dedupe.claim, key):
                shown = mask_identifiers(key, [inbound.from_user])  # an event's key holds the openid
                log.info("wechat.message.duplicate", extra={"app_id": app_id, "key": shown})
                return await self._repeat(checked, key)
            return await self._handle(checked, key, on_message, started)

        return router
