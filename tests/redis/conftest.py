"""Private Redis servers a test starts, stops, kills and restarts (never the shared one)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A redis-server in a folder of its own, on a free port, with the given settings."""

    folder: Path
    args: list[str]
    port: int = field(default_factory=free_port)
    password: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    def url(self, namespace: str = "t", **options: str) -> str:
        auth = f":{self.password}@" if self.password else ""
        query = "&".join(f"{k}={v}" for k, v in {"namespace": namespace, **options}.items())
        return f"redis://{auth}127.0.0.1:{self.port}/0?{query}"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.folder), "--daemonize", "no", *self.args]
        if self.password:
            command += ["--requirepass", self.password]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, password=self.password)
        try:
            for _ in range(200):
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.exceptions.BusyLoadingError):
                    time.sleep(0.025)
        finally:
            client.close()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown; SIGKILL: a crash (nothing flushed that was not already)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """``redis_server(args)``: a started private server, stopped after the test."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    servers: list[RedisServer] = []

    def make(*args: str, password: str | None = None) -> RedisServer:
        folder = tmp_path / f"redis-{len(servers)}"
        folder.mkdir()
        server = RedisServer(folder, list(args), password=password)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop(signal.SIGKILL)


NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
AOF_ALWAYS = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
AOF_EVERYSEC = ("--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
RDB_ONLY = ("--save", "900 1", "--appendonly", "no")
