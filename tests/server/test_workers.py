"""`govbot serve --workers 2` with a socket per worker (server/workers.py): new connections reach
both workers, a killed worker is replaced while the port keeps answering, SIGTERM stops them all,
and a taken port is a clear error. The supervisor's restart delays are checked without a clock.

The real-process tests poll with generous deadlines (a worker loads the engine in seconds on a
quiet machine, much longer on a busy one); nothing depends on how fast it is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from server.workers import PortTakenError, RestartPolicy, Supervisor, claim_port, worker_socket
from tests.utils.servers import free_port, start_serve_process, stop_process, wait_until_up
from tests.utils.ticketdb import copy_data_dir

ROOT = Path(__file__).resolve().parents[2]
PATIENCE = 600.0  # seconds a worker may take to load the engine on a loaded machine

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balances on Linux")


# -- without processes ---------------------------------------------------------------------------


def test_restart_delay_doubles_per_death_in_a_row_and_starts_over_after_a_long_life() -> None:
    policy = RestartPolicy(first=1.0, longest=60.0)
    deaths, delays = 0, []
    for _ in range(8):  # dies 2 s after each start
        deaths = policy.deaths_in_a_row(deaths, lived_s=2.0)
        delays.append(policy.delay(deaths))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    deaths = policy.deaths_in_a_row(deaths, lived_s=60.0)  # it had served for a while
    assert (deaths, policy.delay(deaths)) == (1, 1.0)


def test_a_claimed_port_refuses_another_server_and_takes_workers() -> None:
    holder = claim_port("127.0.0.1", 0)
    port = holder.getsockname()[1]
    try:
        with pytest.raises(PortTakenError, match="in use"):  # a second govbot, even with no worker up
            claim_port("127.0.0.1", port)
        workers = [worker_socket("127.0.0.1", port) for _ in range(2)]
        for sock in workers:
            sock.listen()
        with pytest.raises(PortTakenError):
            claim_port("127.0.0.1", port)
        plain = socket.socket()
        with pytest.raises(OSError):  # nor can a program that does not ask for SO_REUSEPORT
            plain.bind(("127.0.0.1", port))
        plain.close()
        for sock in workers:
            sock.close()
    finally:
        holder.close()
    claim_port("127.0.0.1", port).close()  # free again


def test_a_port_someone_else_listens_on_is_refused() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(PortTakenError, match="in use"):
            claim_port("127.0.0.1", other.getsockname()[1])


def test_a_worker_that_cannot_start_stops_the_server_instead_of_looping() -> None:
    """The app does not import: the first worker exits before serving, and the parent stops the
    other one and returns 1 (the same fault would fail every restart)."""
    config = uvicorn.Config("tests.server.no_such_module:app", host="127.0.0.1", port=0, log_level="warning")
    holder = claim_port("127.0.0.1", 0)
    try:
        config.port = holder.getsockname()[1]
        status = Supervisor(config, 2, RestartPolicy(first=0.1, longest=0.2)).run()
    finally:
        holder.close()
    assert status == 1


# -- the supervisor over a tiny app (no engine: starts in a second) -------------------------------

SUPERVISE = """
import sys, uvicorn
from server.workers import RestartPolicy, serve_workers
port = int(sys.argv[1])
config = uvicorn.Config("tests.utils.tiny_asgi:app", host="127.0.0.1", port=port, log_level="info")
sys.exit(serve_workers(config, 2, RestartPolicy(first=0.2, longest=600.0)))
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two workers of the tiny app under the supervisor, in a process of their own."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log_path = tmp_path / "supervisor.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SUPERVISE, str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=PATIENCE, process=process)
        yield {"url": url, "port": port, "process": process, "log": log_path}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)


def _tiny_pid(url: str) -> int:
    return int(httpx.get(url, timeout=30, headers={"Connection": "close"}).text)


def _until(check: Any, what: str) -> Any:
    """Poll `check()` until it returns something true; fails after PATIENCE seconds."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {PATIENCE} s: {what}")


def _gone(pids: set[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


def _both_workers(url: str) -> set[int] | None:
    pids = {_tiny_pid(url) for _ in range(16)}
    return pids if len(pids) == 2 else None


def _log_with(path: Path, needle: str) -> str | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    return text if needle in text else None


def test_deaths_in_a_row_wait_longer_each_time(tiny: dict[str, Any]) -> None:
    url = tiny["url"]
    workers = _until(lambda: _both_workers(url), "both workers answer")
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    # reaped by the parent: every thread ended, its socket closed (a connection the kernel hands
    # a killed worker's socket before that is reset, the price of a socket per worker)
    _until(lambda: _gone({victim}), "the killed worker is reaped")
    replacement = _until(lambda: {_tiny_pid(url) for _ in range(16)} - workers, "the replacement answers")
    os.kill(replacement.pop(), signal.SIGKILL)  # the same slot dies again soon after its start
    text = _until(lambda: _log_with(tiny["log"], "(2 in a row); restarting in 0.4 s"), "the doubled delay")
    assert f"[{victim}] exited with -9 (1 in a row); restarting in 0.2 s" in text


def test_workers_stop_when_the_parent_is_killed(tiny: dict[str, Any]) -> None:
    workers = _until(lambda: _both_workers(tiny["url"]), "both workers answer")
    tiny["process"].kill()
    tiny["process"].wait(timeout=60)
    _until(lambda: _gone(workers), "the workers exit after the parent")
    claim_port("127.0.0.1", tiny["port"]).close()  # nobody holds the port any more


def test_sighup_stops_the_server_like_sigterm(tiny: dict[str, Any]) -> None:
    workers = _children(tiny["process"].pid)
    tiny["process"].send_signal(signal.SIGHUP)
    assert tiny["process"].wait(timeout=PATIENCE) == 0
    _until(lambda: _gone(workers), "the workers exit")


# -- govbot serve --workers 2 ---------------------------------------------------------------------


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{parent}\n" in status:
                found.add(int(entry.name))
    return found


def _pid_of_answering_worker(url: str) -> int:
    """One request on a fresh connection: the kernel picks a worker's socket for it."""
    response = httpx.get(f"{url}/readyz", timeout=60, headers={"Connection": "close"})
    assert response.status_code == 200, response.text[:300]
    pid: int = response.json()["worker_pid"]
    return pid


def _pids_seen(url: str, connections: int) -> set[int]:
    return {_pid_of_answering_worker(url) for _ in range(connections)}


@pytest.fixture(scope="module")
def served(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("workers")
    data_dir = tmp / "data"
    db_url = copy_data_dir(prepared_dir, data_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("GOVBOT_DATA_DIR", None)
    env.pop("REDIS_URL", None)
    if db_url:
        env["DATABASE_URL"] = db_url
    else:
        env.pop("DATABASE_URL", None)
    port = free_port()
    process = start_serve_process(data_dir, port, env, tmp / "serve.log", ROOT, workers=2)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/readyz", timeout=PATIENCE, process=process)
        # /readyz answers as soon as one worker serves; the other may still be warming up
        deadline = time.monotonic() + PATIENCE
        while len(_children_serving(url, process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        yield {"url": url, "port": port, "process": process, "env": env, "data_dir": data_dir, "log": tmp}
    finally:
        stop_process(process)


def _children_serving(url: str, parent: int) -> set[int]:
    return _pids_seen(url, 20) & _children(parent)


def test_fresh_connections_reach_both_workers(served: dict[str, Any]) -> None:
    parent = served["process"].pid
    workers = _children(parent)
    seen = _pids_seen(served["url"], 64)  # 64 connections all hashed to one of 2 sockets: 2^-63
    assert len(seen) == 2, (seen, workers)
    assert seen <= workers  # the answering processes are the supervisor's own workers


def test_a_second_server_on_the_port_fails_clearly(served: dict[str, Any]) -> None:
    command = [sys.executable, "-m", "cli.main", "--data-dir", str(served["data_dir"]), "serve"]
    command += ["--port", str(served["port"]), "--workers", "2"]
    done = subprocess.run(
        command, cwd=ROOT, env=served["env"], capture_output=True, text=True, timeout=PATIENCE
    )
    assert done.returncode == 1
    assert "in use" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(served: dict[str, Any]) -> None:
    url, parent = served["url"], served["process"].pid
    before = _pids_seen(url, 32)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    # reaped by the parent: every thread ended, its socket closed (a connection the kernel hands
    # a killed worker's socket before that is reset, the price of a socket per worker)
    _until(lambda: _gone({victim}), "the killed worker is reaped")
    for _ in range(20):  # the other worker's socket takes every new connection meanwhile
        assert _pid_of_answering_worker(url) != victim
    deadline = time.monotonic() + PATIENCE
    replaced: set[int] = set()
    while not replaced and time.monotonic() < deadline:
        replaced = (_pids_seen(url, 8) & _children(parent)) - before
        if not replaced:
            time.sleep(0.5)
    assert replaced, f"no new worker answered within {PATIENCE} s"
    assert victim not in _children(parent)
    log = (served["log"] / "serve.log").read_text(encoding="utf-8", errors="replace")
    assert f"[{victim}] exited with -9" in log


def test_sigterm_stops_every_worker(served: dict[str, Any]) -> None:
    process = served["process"]
    workers = _children(process.pid)
    assert workers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=PATIENCE) == 0
    deadline = time.monotonic() + 60  # multiprocessing's resource tracker ends once the parent has
    while (
        alive := {pid for pid in workers if Path(f"/proc/{pid}").exists()}
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, alive
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{served['url']}/healthz", timeout=5)
