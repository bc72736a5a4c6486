"""The FastAPI app factory: wires settings, the warm engine, channels and routes together.

`uvicorn bot.app:create_app --factory` (or `govbot serve`) runs it; each worker
process builds its own engine once, at start-up.
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

from bot import metrics
from bot.api import agent, auth, kb, ops, promotion, reports, tickets
from bot.auth import TokenTable
from bot.limits import RateLimitedError, make_rate_limiter
from bot.logs import install_masking
from bot.messages import BotReply, UserMessage
from bot.service import AssistantService
from bot.settings import Settings, load_settings
from connectors import load_channels
from tickets.errors import TicketError
from tickets.promotion import PromotionRefusedError
from tickets.service import TicketDesk, sweep_forever
from tickets.unanswered import UnansweredRecorder

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    limiter = make_rate_limiter(settings.secrets.redis_url)
    service = AssistantService(settings)
    desk = TicketDesk(settings)
    service.assistant.unanswered_hook = UnansweredRecorder(desk.db, lambda: desk.clock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_masking()
        await asyncio.to_thread(desk.migrate)
        await service.warm_up()
        interval = settings.tickets.sweep_interval_seconds
        sweeper = asyncio.create_task(sweep_forever(desk, interval)) if interval > 0 else None
        log.info("server.ready", extra={"data_dir": str(settings.data_dir)})
        yield
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
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

    @app.exception_handler(RateLimitedError)
    async def rate_limited(_request: Request, exc: RateLimitedError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)}
        )

    app.add_exception_handler(TicketError, tickets.ticket_error_response)
    app.add_exception_handler(PromotionRefusedError, promotion.promotion_refused_response)

    for channel in load_channels(settings.channels):
        app.include_router(channel.router(on_message))
    for module in (agent, kb, ops, tickets, promotion, reports, auth):
        app.include_router(module.router)
    app.include_router(reports.pages)

    from bot.guards import RequestGuard

    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.server.max_body_bytes,
        limiter=limiter,
        per_ip=settings.server.rate_per_ip,
    )
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
        )
    return app
