"""docker-compose.yml, resolved by Debian's ``docker-compose config`` (1.29; it needs no Docker engine): the
services, their health checks and volumes, secrets from the env file, and no service but the one-shot
``migrate`` holding the superuser's login. Nothing here builds or starts a container (no engine on these
machines; docs/operations.md says what was and was not run)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="Debian's docker-compose is not installed "
                                "(apt-get install docker-compose; .ci/run installs it)")
MEMOS_SERVICES = ("api", "worker", "beat")


def compose_config(tmp_path: Path, env_file: Path | None) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` in a clean environment (this process's MEMOS_* must not fill variables) and
    with an explicit env file (a stray .env beside the compose file must not either)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    assert COMPOSE is not None
    return subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(env_file or empty), "config"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, str]:
    """The example env file with every value replaced by a distinct one (as an operator would)."""
    example = (ROOT / ".env.compose.example").read_text()
    names = re.findall(r"^([A-Z_]+)=", example, flags=re.M)
    assert set(names) == {"POSTGRES_PASSWORD", "MEMOS_APP_DB_PASSWORD", "MEMOS_CONTEXT_SECRET", "MEMOS_ADMIN_KEY"}
    return {name: f"{name.lower().replace('_', '-')}-0123456789abcdef" for name in names}


@pytest.fixture
def resolved(tmp_path: Path, secrets: dict[str, str]) -> dict[str, Any]:
    env = tmp_path / "test.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
    done = compose_config(tmp_path, env)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_every_secret_is_required(tmp_path: Path) -> None:
    done = compose_config(tmp_path, None)
    assert done.returncode == 1
    assert re.search(r"set (POSTGRES_PASSWORD|MEMOS_APP_DB_PASSWORD|MEMOS_CONTEXT_SECRET|MEMOS_ADMIN_KEY)",
                     done.stderr), done.stderr


def test_the_example_env_file_resolves(tmp_path: Path) -> None:
    done = compose_config(tmp_path, ROOT / ".env.compose.example")
    assert done.returncode == 0, done.stderr


def test_services_images_and_health_checks(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "beat"}
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith("redis:")
    for name in ("postgres", "redis", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "python", "-m", "workers.heartbeat"]
    for name in (*MEMOS_SERVICES, "migrate"):
        assert services[name]["build"]["context"] == str(ROOT)
        assert services[name]["image"] == "memos:latest"
    assert services["api"]["command"][:2] == ["memos", "serve"]
    assert services["worker"]["command"] == ["memos", "worker"]
    assert services["beat"]["command"] == ["memos", "beat"]
    assert services["migrate"]["command"] == ["memos", "migrate"]
    # The API runs no workers of its own; the worker serves its metrics.
    assert services["api"]["environment"]["MEMOS_RUN_WORKERS"] == "false"
    assert services["worker"]["environment"]["MEMOS_WORKER_METRICS_PORT"] == "9808"


def test_start_order(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in MEMOS_SERVICES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"}}, name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_volumes(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(resolved["volumes"]) == {"pgdata", "redisdata", "blobs", "embedding-cache"}
    assert "pgdata:/var/lib/postgresql/data:rw" in services["postgres"]["volumes"]
    assert "redisdata:/data:rw" in services["redis"]["volumes"]
    for name in MEMOS_SERVICES:  # one blob store: snapshots a worker writes are read by the API
        assert "blobs:/data/blobs:rw" in services[name]["volumes"], name
        assert services[name]["environment"]["MEMOS_HOME"] == "/data"


def test_no_service_but_migrate_has_the_superuser_login(resolved: dict[str, Any], secrets: dict[str, str]) -> None:
    services = resolved["services"]
    superuser_password = secrets["POSTGRES_PASSWORD"]
    for name in MEMOS_SERVICES:
        env = services[name]["environment"]
        url = urlsplit(env["MEMOS_DATABASE_URL"].replace("postgresql+psycopg", "postgresql"))
        assert (url.username, url.password, url.hostname, url.path) == (
            "memos_app", secrets["MEMOS_APP_DB_PASSWORD"], "postgres", "/memos"), name
        assert "MEMOS_ADMIN_DATABASE_URL" not in env, name
        assert all(superuser_password not in str(value) for value in env.values()), name
        assert env["MEMOS_CONTEXT_SECRET"] == secrets["MEMOS_CONTEXT_SECRET"]
        assert env["MEMOS_ADMIN_KEY"] == secrets["MEMOS_ADMIN_KEY"]
    migrate = services["migrate"]["environment"]
    admin = urlsplit(migrate["MEMOS_ADMIN_DATABASE_URL"].replace("postgresql+psycopg", "postgresql"))
    assert (admin.username, admin.password) == ("postgres", superuser_password)
    assert "MEMOS_DATABASE_URL" not in migrate
    # Only the API is published, and only on the host's loopback.
    assert [s for s in services if services[s].get("ports")] == ["api"]
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000/tcp"]


def test_dockerfile_is_multi_stage_non_root_cpu_torch() -> None:
    """The image cannot be built here (no engine): what the file says is checked instead."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM python:3.11-slim AS build", "FROM python:3.11-slim AS runtime"]
    runtime = lines[lines.index(stages[1]):]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users == ["memos"]
    assert any("useradd" in line and "--uid 10001" in line for line in runtime)
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in lines
    assert 'RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0' in lines
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "constraints.txt").read_text(), flags=re.M)
    assert pinned is not None
    assert pinned.group(1) == "2.13.0"  # the image installs the torch the lock pins
