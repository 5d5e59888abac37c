"""``memos status`` and the commands that follow a background job, against the live server (no workers: a
build job is run here, on the server's database and home, as a worker would)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid

from typer.testing import CliRunner

from memcube.db import Database
from memcube.schemas import ActivationState
from memos.cli import app
from memos.client import MemOSClient
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.cli.conftest import MEMOS
from tests.conftest import CONTEXT_KEY
from tests.sdk.live import LiveServer, free_port
from tests.workers.background import wait_for

runner = CliRunner()


def test_status_prints_what_readyz_knows(live_server: LiveServer) -> None:
    # The live server runs no broker and no workers: not ready, and the table says why.
    # Wide enough that no cell wraps; the live server is shared, so other tests' jobs may be in its outbox.
    result = runner.invoke(app, ["status", "--url", live_server.url], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert f"at {live_server.url}: not ready" in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 3}
    assert "ok" in rows["database"]
    assert re.search(r"outbox: \d+ pending, oldest waited [\d.]+ s", result.output), result.output
    assert "no broker configured" in rows["broker"]
    as_json = runner.invoke(app, ["status", "--url", live_server.url, "--json"])
    assert as_json.exit_code == 1
    ready = json.loads(as_json.output)
    assert ready["status"] == "not ready"
    assert ready["checks"]["database"]["status"] == "ok"


def test_status_of_a_server_that_does_not_answer() -> None:
    result = runner.invoke(app, ["status", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2"])
    assert result.exit_code == 2
    assert "no answer from" in result.output


def test_activation_build_follows_its_job_to_the_end(live_server: LiveServer, tenant_key: str,
                                                     client: MemOSClient, embedder: Embedder) -> None:
    cube = client.create_cube(f"follow-{uuid.uuid4().hex[:6]}")
    (alice,) = client.add_memories(cube.id, ["Alice moved to Lyon."])
    env = {**os.environ, "MEMOS_URL": live_server.url, "MEMOS_API_KEY": tenant_key}
    proc = subprocess.Popen([str(MEMOS), "activation", "build", "--cube", cube.name, "--model", "tiny",
                             "--memory", str(alice.id), "--name", "alice", "--timeout", "120"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    database = Database(live_server.database_url, context_key=CONTEXT_KEY, pool_size=2)
    try:
        (building,) = wait_for(lambda: client.list_activations(cube.id), timeout=60, what="the build to be asked")
        assert building.state is ActivationState.building
        assert proc.poll() is None  # following the queued job
        ctx = JobContext(settings=Settings(home=live_server.home), embedder=embedder)
        assert building.job_id is not None
        assert run_job(database.sessions, building.job_id, ctx) == "succeeded"
        out, err = proc.communicate(timeout=60)
    finally:
        database.dispose()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"activation {building.id}, job {building.job_id}" in err
    assert "building the snapshot: succeeded" in err
    built = client.get_activation(building.id)
    assert out.strip() == f"{built.id} ready v{built.version}: {built.tokens} tokens, {built.bytes} bytes, model tiny"


def test_jobs_wait_gives_up_after_its_timeout(live_server: LiveServer, tenant_key: str,
                                              client: MemOSClient) -> None:
    cube = client.create_cube(f"wait-{uuid.uuid4().hex[:6]}")
    accepted = client.create_activation(cube.id, "tiny", text="Bob plays the cello.")
    auth = ["--url", live_server.url, "--api-key", tenant_key]
    result = runner.invoke(app, ["jobs", "wait", str(accepted.job_id), "--timeout", "1", *auth])
    assert result.exit_code == 2, result.output
    assert f"still queued after 1 s: job {accepted.job_id} goes on in the background" in result.output
    unknown = runner.invoke(app, ["jobs", "wait", str(uuid.uuid4()), *auth])
    assert unknown.exit_code == 1
    assert "not found" in unknown.output.lower()
    both = runner.invoke(app, ["activation", "build", "--cube", cube.name, "--model", "tiny", *auth])
    assert both.exit_code == 2
    assert "give --memory" in both.output


def test_adapter_train_follows_its_job_to_the_end(live_server: LiveServer, tenant_key: str,
                                                  client: MemOSClient, embedder: Embedder) -> None:
    cube = client.create_cube(f"train-{uuid.uuid4().hex[:6]}")
    client.add_memories(cube.id, ["Alice moved to Lyon.", "Bob plays the cello."])
    env = {**os.environ, "MEMOS_URL": live_server.url, "MEMOS_API_KEY": tenant_key}
    proc = subprocess.Popen([str(MEMOS), "adapter", "train", "--cube", str(cube.id), "--model", "tiny",
                             "--limit", "2", "--steps", "2", "--rank", "4", "--timeout", "300"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    database = Database(live_server.database_url, context_key=CONTEXT_KEY, pool_size=2)
    try:
        (training,) = wait_for(lambda: client.list_adapters(cube.id), timeout=60, what="the training to be asked")
        assert training.job_id is not None
        assert proc.poll() is None
        ctx = JobContext(settings=Settings(home=live_server.home), embedder=embedder)
        assert run_job(database.sessions, training.job_id, ctx) == "succeeded"
        out, err = proc.communicate(timeout=120)
    finally:
        database.dispose()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"adapter {training.id}, job {training.job_id}" in err
    assert "training the adapter: succeeded" in err
    trained = client.get_adapter(training.id)
    assert trained.rank == 4
    assert out.strip() == f"{trained.id} ready v{trained.version}: rank 4, {trained.bytes} bytes, model tiny"
