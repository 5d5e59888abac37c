"""``memos serve`` on the embedded default: serves under MEMOS_HOME, and a SIGTERM stops it and its PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from memos.client import MemOSClient
from tests.cli.conftest import MEMOS
from tests.sdk.live import free_port, wait_healthy


@pytest.mark.slow
def test_serve_embedded_default_and_clean_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_RUN_WORKERS": "false",
                "MEMOS_ADMIN_KEY": "mk_serve_test", "HF_HUB_OFFLINE": "1"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MEMOS), "serve", "--host", "127.0.0.1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        assert f"MemOS serving on {url}" in log.read_text()
        with MemOSClient(url, api_key="mk_serve_test") as admin:
            assert admin.create_tenant("served").name == "served"
        assert (home / "pgdata" / "PG_VERSION").exists()  # the embedded database lives under MEMOS_HOME
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    # atexit ran: the process let go of the embedded server, which stopped with it.
    assert json.loads((home / "pgdata" / ".handle_pids.json").read_text()) == []
    assert not (home / "pgdata" / "postmaster.pid").exists()
