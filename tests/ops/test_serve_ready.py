"""The whole chain on the embedded default: ``memos serve`` with its own Redis and workers is ready by
``memos status`` (its workers' heartbeats reach /readyz through the broker it started), and its log is JSON
lines carrying request ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import MEMOS, run_memos
from tests.sdk.live import free_port, wait_healthy
from tests.workers.background import wait_for


@pytest.mark.slow
def test_serve_with_workers_is_ready_and_logs_json(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_ADMIN_KEY": "mk_ready_test",
                "MEMOS_WORKER_HEARTBEAT_S": "0.5", "HF_HUB_OFFLINE": "1"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MEMOS), "serve", "--host", "127.0.0.1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        status = wait_for(lambda: (r := run_memos("status", "--url", url)).returncode == 0 and r, timeout=120,
                          what="memos status to report ready")
        assert f"at {url}: ready" in status.stdout
        assert "memos-light-" in status.stdout  # the light-queue worker serve started
        as_json = json.loads(run_memos("status", "--url", url, "--json").stdout)
        workers = as_json["checks"]["workers"]["workers"]
        assert sorted(q for w in workers for q in w["queues"]) == ["memos", "memos.light"]
        assert httpx.get(f"{url}/healthz", headers={"X-Request-ID": "serve-probe-1"}, timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    probe = [r for r in records if r.get("request_id") == "serve-probe-1"]
    assert [(r["logger"], r["route"], r["status"]) for r in probe] == [("memos.access", "/healthz", 200)]
    assert any(r["logger"].startswith("uvicorn") for r in records)  # uvicorn's own lines in the same format
