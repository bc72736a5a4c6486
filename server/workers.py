"""The worker processes of `govbot serve --workers N`, each listening on its own socket.

Why not uvicorn's own workers: they accept from one shared listening socket, and whichever
event loop wakes first takes the connection; keep-alive clients then stay on that worker, and
often every connection sits on one of them while the other cores idle (docs/benchmarks.md §17).
Here each worker binds its own socket on host:port with SO_REUSEPORT, and Linux hands each new
connection to one of the listening sockets by a hash of its addresses, so connections spread
over the workers.

One job: start, watch and stop the workers. A worker is a fresh interpreter (multiprocessing's
spawn: nothing of the parent's loaded engine or OpenMP runtimes is inherited) running a
uvicorn.Server with the options `govbot serve` gives uvicorn. Its socket is bound at once (a
taken port fails in a second, before the engine loads) but listens only when uvicorn starts
serving, after the app's warm-up, so no connection waits in the queue of a worker that is
still loading. The parent restarts a worker that dies (after a delay that doubles with each
death in a row), forwards SIGTERM / SIGINT to the workers (uvicorn drains their connections),
and tells prometheus_client's multiprocess mode which workers are gone. A worker stops when
the parent dies, however it died (Linux's parent-death signal), so none is left holding the port.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

# uvicorn's own logger: the lines about workers go where uvicorn's supervisor writes its own
log = logging.getLogger("uvicorn.error")
SPAWN = multiprocessing.get_context("spawn")
# SIGHUP too: its default would end the parent alone; the workers are stopped as for SIGTERM
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class PortTakenError(OSError):
    """Something already listens on the address (another govbot, another program)."""


def reuseport_balances() -> bool:
    """Whether the kernel spreads connections over SO_REUSEPORT sockets (Linux does; BSDs and
    macOS accept the option but give every connection to one socket)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def claim_port(host: str, port: int) -> socket.socket:
    """Check that nothing listens on host:port and hold it for this server's life.

    Why: SO_REUSEPORT lets any process of the same user bind a port its sockets hold, so a
    second govbot started on the same port by mistake would silently share the connections.
    The check binds without SO_REUSEPORT, which fails where any socket listens on the port.
    The returned socket is bound with SO_REUSEPORT and without SO_REUSEADDR and never listens:
    the workers (both options) can still bind beside it, the kernel gives connections only to
    listening sockets, and another govbot's check keeps failing even while every worker of
    this one is being restarted. Port 0 picks a free port (the socket's name tells which).
    """
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a previous run's TIME_WAIT is no owner
        probe.bind((host, port))
        port = probe.getsockname()[1]
    except OSError as exc:
        raise PortTakenError(exc.errno, f"{host}:{port} is in use ({exc.strerror})") from exc
    finally:
        probe.close()
    holder = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
    except OSError as exc:  # taken between the check and here
        holder.close()
        raise PortTakenError(exc.errno, f"{host}:{port} is in use ({exc.strerror})") from exc
    return holder


def worker_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket on host:port, bound with SO_REUSEPORT; uvicorn makes it listen."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before restarting a worker that died: `first` seconds, doubled for each
    death in a row, at most `longest`; a worker that ran `longest` seconds starts the count again."""

    first: float
    longest: float

    def deaths_in_a_row(self, previous: int, lived_s: float) -> int:
        return 1 if lived_s >= self.longest else previous + 1

    def delay(self, deaths_in_a_row: int) -> float:
        return float(min(self.longest, self.first * 2 ** max(deaths_in_a_row - 1, 0)))


class _Worker(uvicorn.Server):
    """uvicorn's server that tells the parent once it serves."""

    def __init__(self, config: uvicorn.Config, ready: Connection) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._ready.send(os.getpid())


def _stop_with_parent(parent: int) -> None:
    """SIGTERM this worker when the parent dies (even by SIGKILL), so no orphan keeps the port."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(config: uvicorn.Config, ready: Connection, parent: int) -> None:
    """A worker process: bind, then serve until SIGTERM / SIGINT (uvicorn drains)."""
    _stop_with_parent(parent)
    config.configure_logging()
    try:
        sock = worker_socket(config.host, config.port)
    except OSError as exc:
        log.error("server.worker.bind_failed: %s:%s: %s", config.host, config.port, exc.strerror)
        sys.exit(STARTUP_FAILURE)
    _Worker(config, ready).run(sockets=[sock])


@dataclass
class _Slot:
    """One worker's place: the process in it now and how often it died in a row."""

    number: int
    process: BaseProcess | None = None
    ready: Connection | None = None
    started_at: float = 0.0
    served: bool = False  # this process told us it serves
    ever_served: bool = False  # some process in this slot did
    deaths: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Starts `workers` processes serving `config`, restarts the ones that die, stops them all on
    SIGTERM / SIGINT. `run()` returns the exit status: 0 after a stop, 1 when a worker could not
    start the first time (a broken configuration or a taken port fails the same on every try)."""

    config: uvicorn.Config
    workers: int
    policy: RestartPolicy
    clock: Callable[[], float] = time.monotonic
    metrics_dir: str | None = None  # prometheus_client's multiprocess folder of the workers
    slots: list[_Slot] = field(default_factory=list)
    _signals: list[int] = field(default_factory=list)
    _stopping: bool = False
    _status: int = 0

    def run(self) -> int:
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        previous_fd = signal.set_wakeup_fd(wake_write.fileno())
        try:
            log.info(
                "server.workers.start: parent [%d], %d workers on their own sockets",
                os.getpid(),
                self.workers,
            )
            self.slots = [_Slot(number=n) for n in range(1, self.workers + 1)]
            for slot in self.slots:
                self._start(slot)
            while not (self._stopping and not self._alive()):
                self._watch(wake_read)
        finally:
            for slot in self._alive():  # only after an error in the parent: no orphans left serving
                assert slot.process is not None
                slot.process.kill()
                slot.process.join()
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_read.close()
            wake_write.close()
        log.info("server.workers.stopped: parent [%d]", os.getpid())
        return self._status

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self._signals.append(sig)

    def _alive(self) -> list[_Slot]:
        return [s for s in self.slots if s.process is not None]

    def _start(self, slot: _Slot) -> None:
        parent_end, child_end = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(
            target=_worker_main,
            args=(self.config, child_end, os.getpid()),
            name=f"govbot-worker-{slot.number}",
        )
        process.start()
        child_end.close()  # the child has its copy
        slot.process, slot.ready, slot.served = process, parent_end, False
        slot.started_at, slot.restart_at = self.clock(), None
        log.info("server.worker.started: worker %d [%s]", slot.number, process.pid)

    def _watch(self, wake: socket.socket) -> None:
        """Wait for a worker's end, a worker's "serving", a signal or the next restart due."""
        waiting: list[Any] = [wake]
        for slot in self._alive():
            assert slot.process is not None
            waiting.append(slot.process.sentinel)
            if not slot.served and slot.ready is not None:
                waiting.append(slot.ready)
        due = [s.restart_at for s in self.slots if s.restart_at is not None]
        timeout = max(0.0, min(due) - self.clock()) if due and not self._stopping else None
        woken = wait(waiting, timeout)
        if wake in woken:
            while True:
                try:
                    if not wake.recv(512):
                        break
                except BlockingIOError:
                    break
        while self._signals:
            self._stop(self._signals.pop(0))
        for slot in self._alive():
            assert slot.process is not None
            if slot.ready is not None and slot.ready in woken and not slot.served:
                self._served(slot)
            if slot.process.sentinel in woken or not slot.process.is_alive():
                self._reap(slot)
        for slot in self.slots:
            if slot.restart_at is not None and not self._stopping and self.clock() >= slot.restart_at:
                self._start(slot)

    def _served(self, slot: _Slot) -> None:
        assert slot.ready is not None
        try:
            slot.ready.recv()
        except (EOFError, OSError):  # it died right after: _reap sees it
            return
        slot.served = slot.ever_served = True
        log.info("server.worker.serving: worker %d [%s]", slot.number, slot.process and slot.process.pid)

    def _reap(self, slot: _Slot) -> None:
        assert slot.process is not None
        process = slot.process
        process.join()
        if slot.ready is not None:
            slot.ready.close()
        slot.process, slot.ready = None, None
        if self.metrics_dir and process.pid is not None:
            # its live-gauge files go; its counters stay (totals must not go backwards)
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(process.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
        if self._stopping:
            log.info(
                "server.worker.exited: worker %d [%s], status %s", slot.number, process.pid, process.exitcode
            )
            return
        if not slot.ever_served:
            log.error(
                "server.worker.start_failed: worker %d [%s] exited with %s before serving; stopping",
                slot.number,
                process.pid,
                process.exitcode,
            )
            self._status = 1
            self._stop(signal.SIGTERM)
            return
        slot.deaths = self.policy.deaths_in_a_row(slot.deaths, self.clock() - slot.started_at)
        wait_s = self.policy.delay(slot.deaths)
        slot.restart_at = self.clock() + wait_s
        log.warning(
            "server.worker.died: worker %d [%s] exited with %s (%d in a row); restarting in %.1f s",
            slot.number,
            process.pid,
            process.exitcode,
            slot.deaths,
            wait_s,
        )

    def _stop(self, sig: int) -> None:
        """Pass the signal on to every worker (a second SIGINT makes uvicorn stop at once)."""
        if not self._stopping:
            log.info("server.workers.stopping: %s", signal.Signals(sig).name)
        self._stopping = True
        sig = signal.SIGTERM if sig == signal.SIGHUP else sig  # uvicorn drains on TERM, not on HUP
        for slot in self.slots:
            slot.restart_at = None
            if slot.process is not None and slot.process.pid is not None and slot.process.is_alive():
                os.kill(slot.process.pid, sig)


def serve_workers(
    config: uvicorn.Config, workers: int, policy: RestartPolicy, metrics_dir: str | None = None
) -> int:
    """Claim config.host:config.port, run the supervisor until it is stopped; its exit status.
    `metrics_dir`: the workers' PROMETHEUS_MULTIPROC_DIR.

    Raises PortTakenError when something listens there already."""
    holder = claim_port(config.host, config.port)
    try:
        config.port = holder.getsockname()[1]
        return Supervisor(config, workers, policy, metrics_dir=metrics_dir).run()
    finally:
        holder.close()
