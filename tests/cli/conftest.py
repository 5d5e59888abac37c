"""CLI fixtures: the live server of the SDK tests, a tenant on it, and a way to run the real ``memos`` script."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from memos.client import MemOSClient
from tests.sdk.live import LiveServer, live_server

__all__ = ["live_server"]

MEMOS = Path(sys.executable).parent / "memos"  # the console script the package installs


def run_memos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(MEMOS)] if MEMOS.exists() else [sys.executable, "-m", "memos.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.fixture
def tenant_key(live_server: LiveServer) -> str:
    with MemOSClient(live_server.url, api_key=live_server.admin_key) as admin:
        tenant = admin.create_tenant(f"cli-{uuid.uuid4().hex[:8]}")
        return admin.create_key(tenant.id, "cli").key


@pytest.fixture
def client(live_server: LiveServer, tenant_key: str) -> MemOSClient:
    return MemOSClient(live_server.url, api_key=tenant_key)
