"""A live MemOS server for the SDK and CLI tests: uvicorn in a subprocess on a fresh, committed database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from memos.client import MemOSClient, NotFoundError
from tests.conftest import ADMIN_KEY


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    admin_key: str
    home: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 120.0) -> None:
    # A readiness poll (not a timing assertion): the embedder loads before the app answers.
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {deadline_s}s:\n{log.read_text()[-4000:]}")


def start_server(make_database: Callable[[str], str], tmp: Path) -> Iterator[LiveServer]:
    """Create a database, run ``uvicorn api.app:create_app`` on it, yield, then stop the server."""
    database_url = make_database(f"memos_live_{uuid.uuid4().hex[:8]}")
    port = free_port()
    home = tmp / "home"
    env = {
        **os.environ,
        "MEMOS_DATABASE_URL": database_url,
        "MEMOS_ADMIN_KEY": ADMIN_KEY,
        "MEMOS_HOME": str(home),
        "MEMOS_RUN_WORKERS": "false",
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield LiveServer(url=url, database_url=database_url, admin_key=ADMIN_KEY, home=home)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def live_server(make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from start_server(make_database, tmp_path_factory.mktemp("live"))


def working_fills(client: MemOSClient, cube_id: object, session: str) -> int:
    """How often the session's working memory was filled (0 before its first fill is written)."""
    try:
        return client.working_memory(str(cube_id), session).fills
    except NotFoundError:
        return 0
