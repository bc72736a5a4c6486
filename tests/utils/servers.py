"""Real HTTP servers for tests: an ASGI app under uvicorn in a thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any, port: int | None = None, timeout: float = 120.0) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL once it accepts requests."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_until_up(url: str, timeout: float = 90.0, process: Any = None) -> None:
    """Poll `url` until it answers 200 (or the process died, or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode} before {url} was up")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


def start_serve_process(
    data_dir: Any, port: int, env: dict[str, str], log_path: Any, cwd: Any, workers: int = 1
) -> Any:
    """`govbot serve` (python -m cli.main) as a subprocess in its own session, output to a log."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process by stop_process
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_file = log  # type: ignore[attr-defined]
    return process


def stop_process(process: Any) -> None:
    """SIGTERM, then SIGKILL after 20 s; closes its log."""
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    process.log_file.close()
