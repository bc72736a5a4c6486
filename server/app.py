"""The FastAPI app factory: wires settings, the warm engine, channels and routes together.

`uvicorn server.app:create_app --factory` (or `govbot serve`) runs it; each worker
process builds its own engines once, at start-up (server/service.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.messages import BotReply, UserMessage
from connectors import ChannelRuntime, load_channels
from core.files import private_umask
from core.runtime import apply_runtime, server_answers
from core.settings import Settings, load_settings
from core.startup import app_startup_timer
from jobs.operations import migrate_legacy_kb
from jobs.platform import PlatformLink, push_forever
from jobs.retention import sweep as retention_sweep
from jobs.retention import sweep_forever as retention_forever
from server import console as console_page
from server import metrics
from server.api import (
    admin,
    agent,
    auth,
    console,
    handoff,
    kb,
    kb_admin,
    ops,
    promotion,
    rasa_nlu,
    reports,
    tickets,
    vocab,
)
from server.api import (
    desk as desk_api,
)
from server.auth import TokenTable
from server.limits import RateLimitedError, make_rate_limiter
from server.live import LiveDesk
from server.logs import install_masking
from server.service import AssistantService
from tickets.chat_gateway import SqlTicketGateway
from tickets.errors import TicketError
from tickets.handoff import HandoffError
from tickets.promotion import PromotionRefusedError
from tickets.service import TicketDesk, sweep_forever
from tickets.unanswered import UnansweredRecorder

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    startup = app_startup_timer()
    startup.mark("server_import")
    private_umask()  # databases and files the server writes: readable by their owner only
    settings = settings or load_settings()
    # sized before the engines load the encoder and faiss, for every answer the server may run at once
    apply_runtime(settings.runtime, answers=server_answers(settings.server))
    limiter = make_rate_limiter(settings.secrets.redis_url, settings.server.redis_prefix)
    desk = TicketDesk.open(settings)
    service = AssistantService(settings, desk=SqlTicketGateway(desk))
    platform = PlatformLink(settings, desk)
    runtime = ChannelRuntime(
        data_dir=settings.data_dir,
        redis_url=settings.secrets.redis_url,
        redis_prefix=settings.server.redis_prefix,
        secrets={"wechat": settings.secrets.wechat},
    )
    channels = load_channels(settings.channels, runtime=runtime)
    live = LiveDesk(settings, desk, channels)
    unanswered = UnansweredRecorder(desk.db, lambda: desk.clock())
    for engine in service.engines:
        engine.unanswered_hook = unanswered
        engine.live = live.store

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_masking()
        startup.mark("app_create")
        await asyncio.to_thread(desk.migrate)
        desk.log_calendar_coverage()
        await asyncio.to_thread(migrate_legacy_kb, settings, service.assistant.kb)
        startup.mark("migrations")
        await service.warm_up(startup)
        service.start_refresher()
        interval = settings.tickets.sweep_interval_seconds
        sweeper = asyncio.create_task(sweep_forever(desk, interval)) if interval > 0 else None
        keep = settings.retention
        keeper = (
            asyncio.create_task(
                retention_forever(
                    lambda: retention_sweep(
                        keep, db=desk.db, sessions=service.assistant.sessions, now=desk.clock()
                    ),
                    keep.sweep_interval_minutes * 60,
                )
            )
            if keep.sweep_interval_minutes > 0
            else None
        )
        every = settings.hotline_platform.push_interval_seconds
        pusher = asyncio.create_task(push_forever(platform, every)) if platform.ready and every > 0 else None
        for channel in channels:
            await channel.start()
        await live.start()
        startup.mark("background_tasks")
        startup.ready()
        log.info("server.ready", extra={"data_dir": str(settings.data_dir)})
        try:
            yield
        finally:
            await live.stop()
            for channel in channels:
                await channel.stop()
            for task in (sweeper, pusher, keeper):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            platform.close()
            service.close()
            desk.close()

    async def on_message(message: UserMessage) -> BotReply:
        """The one callback every channel gets: limits, the engine, metrics."""
        wait = limiter.hit(f"session:{message.session_id}", settings.server.rate_per_session)
        if wait:
            metrics.RATE_LIMITED.labels("session").inc()
            raise RateLimitedError("session", wait)
        started = time.perf_counter()
        reply = await service.handle(message)
        metrics.LATENCY.observe(time.perf_counter() - started)
        metrics.REPLIES.labels(reply.action, message.channel).inc()
        return reply

    app = FastAPI(
        title="govbot",
        description="Chinese government-service assistant: answers with cited sources, or a 12345 ticket.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.desk = desk
    app.state.limiter = limiter
    app.state.tokens = TokenTable(settings.secrets.api_tokens)
    app.state.on_message = on_message
    app.state.live = live
    app.state.startup = startup

    @app.exception_handler(RateLimitedError)
    async def rate_limited(_request: Request, exc: RateLimitedError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_down(_request: Request, exc: Exception) -> JSONResponse:
        """The ticket database cannot be reached: 503 with Retry-After, never a 500."""
        log.warning("tickets.db.unavailable", extra={"error": type(exc).__name__})
        wait = str(settings.server.retry_after_seconds)
        return JSONResponse(
            {"detail": "the ticket database is unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": wait},
        )

    app.add_exception_handler(TicketError, tickets.ticket_error_response)
    app.add_exception_handler(PromotionRefusedError, promotion.promotion_refused_response)
    app.add_exception_handler(HandoffError, handoff.handoff_error_response)

    for channel in channels:
        app.include_router(channel.router(on_message))
    for module in (
        agent,
        kb,
        ops,
        rasa_nlu,
        tickets,
        desk_api,
        promotion,
        reports,
        auth,
        console,
        vocab,
        admin,
        kb_admin,
        handoff,
        console_page,
    ):
        app.include_router(module.router)
    app.include_router(reports.pages)
    app.include_router(platform.router())

    from server.guards import RequestGuard

    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.server.max_body_bytes,
        max_upload_bytes=settings.server.max_upload_bytes,
        limiter=limiter,
        per_ip=settings.server.rate_per_ip,
        trusted_upstreams=frozenset(settings.server.trusted_upstreams),
    )
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            expose_headers=["Retry-After"],  # the widget says how long to wait after a 429
        )
    return app
