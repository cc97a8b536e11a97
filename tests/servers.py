"""Real server processes for integration tests: `passeport serve` on 127.0.0.1, its own env."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PASSEPORT = str(Path(sys.executable).with_name("passeport"))


def passeport_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a child `passeport` process: ours, minus any PASSEPORT_ leftovers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSEPORT_")}
    env.update(
        {
            "PASSEPORT_ENV": "test",
            "PASSEPORT_DATABASE_URL": database_url,
            "PASSEPORT_SECRET_KEY": "test-secret-" + "x" * 32,
            "PASSEPORT_KEY_ENCRYPTION_KEY": "test-kek-" + "y" * 32,
            "PASSEPORT_LOG_LEVEL": "INFO",
            # The log is read when a test fails: every line written as it happens, none left in
            # a buffer.
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PASSEPORT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


@contextmanager
def running_server(
    env: dict[str, str], port: int, log_path: Path, timeout: float = 120, workers: int = 1
) -> Iterator[Server]:
    """Start `passeport serve` (``workers`` processes), wait until /readyz answers 200, stop it
    on exit."""
    url = f"http://127.0.0.1:{port}"
    env = {**env, "PASSEPORT_PUBLIC_URL": env.get("PASSEPORT_PUBLIC_URL", url)}
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                PASSEPORT,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *(["--workers", str(workers)] if workers > 1 else []),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(url, process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {timeout}s:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
