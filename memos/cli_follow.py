"""CLI commands that report on the service or follow its background work: ``memos status`` (what ``/readyz``
knows, as a table), ``memos jobs wait``, ``memos activation build`` and ``memos adapter train`` (each follows
its job with a live progress line until it ends).

Jobs record their state, not a fraction done, so the progress line shows the state, the attempt and the time
elapsed (a spinner while queued or running), not a percentage it would have to invent.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from memcube.schemas import Job
    from memos.client import MemOSClient

_Url = Annotated[str | None, typer.Option(help="server URL (env MEMOS_URL, default http://127.0.0.1:8000)")]
_Key = Annotated[str | None, typer.Option(help="a tenant's API key (env MEMOS_API_KEY)")]
_Timeout = Annotated[float, typer.Option(min=0.1, help="give up waiting after this many seconds (exit 2)")]
POLL_S = 0.5
FINISHED = ("succeeded", "failed")

jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
activation_app = typer.Typer(help="Activation memory (KV-cache snapshots).", no_args_is_help=True)
adapter_app = typer.Typer(help="Parametric memory (LoRA adapters).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(activation_app, name="activation")
    app.add_typer(adapter_app, name="adapter")


# ---------------------------------------------------------------- status
def _detail(check: dict[str, Any]) -> str:
    if check.get("status") != "ok":
        return str(check.get("error", ""))
    parts = []
    if "latency_ms" in check:
        parts.append(f"{check['latency_ms']} ms")
    if "outbox_pending" in check:
        parts.append(f"outbox: {check['outbox_pending']} pending, oldest waited {check['outbox_lag_s']} s")
    for worker in check.get("workers", []):
        parts.append(f"{worker['hostname']} ({worker['concurrency']} proc, {', '.join(worker['queues'])}, "
                     f"beat {worker['age_s']} s ago)")
    return "\n".join(parts)


def status_table(ready: dict[str, Any], url: str) -> Table:
    """``/readyz``'s answer as a table: one row per check."""
    from rich.table import Table

    table = Table(title=f"MemOS {ready.get('version', '?')} at {url}: {ready.get('status', '?')}",
                  title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail")
    for name, check in ready.get("checks", {}).items():
        ok = check.get("status") == "ok"
        table.add_row(name, "[green]ok[/green]" if ok else f"[red]{check.get('status')}[/red]", _detail(check))
    return table


def status(
    url: _Url = None,
    as_json: Annotated[bool, typer.Option("--json", help="print /readyz's JSON as it is")] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds to wait for the answer")] = 10.0,
) -> None:
    """What the server's /readyz knows: its database (and the outbox's backlog), the broker, the live workers.
    Exit code 0 when ready, 1 when not, 2 when the server does not answer."""
    import os

    import httpx
    from rich.console import Console

    base = (url or os.environ.get("MEMOS_URL") or "http://127.0.0.1:8000").rstrip("/")
    try:
        response = httpx.get(f"{base}/readyz", timeout=timeout)
        ready: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        typer.echo(f"error: no answer from {base}/readyz: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(ready, indent=2))
    else:
        Console().print(status_table(ready, base))
    raise typer.Exit(0 if response.status_code == 200 else 1)


# ---------------------------------------------------------------- following a job
def follow_job(client: MemOSClient, job_id: uuid.UUID | str, what: str, *, timeout_s: float,
               console: Console) -> Job:
    """Poll the job until it ends, showing its state and the time elapsed; exit 2 on timeout."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    deadline = time.monotonic() + timeout_s
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        task = progress.add_task(what, total=None)
        while True:
            job = client.get_job(job_id)
            state = job.status.value
            attempt = f", attempt {job.attempts}" if job.attempts > 1 else ""
            progress.update(task, description=f"{what}: {state}{attempt}")
            if state in FINISHED:
                progress.update(task, total=1, completed=1)
                return job
            if time.monotonic() >= deadline:
                progress.stop()
                console.print(f"[yellow]still {state} after {timeout_s:g} s[/yellow]: job {job.id} goes on in the "
                              f"background; follow it with `memos jobs wait {job.id}`", soft_wrap=True)
                raise typer.Exit(2)
            time.sleep(POLL_S)


def _finish(job: Job, console: Console) -> None:
    if job.status.value != "succeeded":
        console.print(f"[red]job {job.id} failed[/red] after {job.attempts} attempt(s): {job.error}", soft_wrap=True)
        raise typer.Exit(1)


@jobs_app.command("wait")
def jobs_wait(
    job_id: Annotated[str, typer.Argument(help="the job's id")],
    timeout: _Timeout = 3600.0,
    url: _Url = None,
    api_key: _Key = None,
) -> None:
    """Follow a job until it ends; print its result. Exit code 0 succeeded, 1 failed, 2 still running."""
    from rich.console import Console

    from memos.client import MemOSClient, MemOSClientError

    console = Console(stderr=True)
    try:
        with MemOSClient(url, api_key=api_key) as client:
            job = follow_job(client, job_id, f"job {job_id}", timeout_s=timeout, console=console)
    except MemOSClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    _finish(job, console)
    typer.echo(json.dumps(job.result or {}, indent=2))


def _cube_id(client: MemOSClient, name_or_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(name_or_id)
    except ValueError:
        pass
    for cube in client.list_cubes():
        if cube.name == name_or_id:
            return cube.id
    raise typer.BadParameter(f"no cube named {name_or_id!r}", param_hint="--cube")


@activation_app.command("build")
def activation_build(
    cube: Annotated[str, typer.Option(help="cube name or id")],
    model: Annotated[str, typer.Option(help="a model of the server (GET /v1/models; `tiny` is built in)")],
    memory: Annotated[list[str] | None, typer.Option(help="a plaintext memory's id (repeat for several)")] = None,
    text: Annotated[str | None, typer.Option(help="a text instead of memories")] = None,
    name: Annotated[str | None, typer.Option(help="a name for the snapshot")] = None,
    wait: Annotated[bool, typer.Option(help="follow the build until it ends")] = True,
    timeout: _Timeout = 3600.0,
    url: _Url = None,
    api_key: _Key = None,
) -> None:
    """Build a KV-cache snapshot of memories (or a text) in the background, following the job."""
    from rich.console import Console

    from memos.client import MemOSClient, MemOSClientError

    if (memory is None) == (text is None):
        raise typer.BadParameter("give --memory (one or more) or --text, not both")
    console = Console(stderr=True)
    try:
        with MemOSClient(url, api_key=api_key) as client:
            accepted = client.create_activation(_cube_id(client, cube), model, memory_ids=memory, text=text,
                                                name=name)
            console.print(f"activation {accepted.activation.id}, job {accepted.job_id}", soft_wrap=True)
            if not wait:
                return
            _finish(follow_job(client, accepted.job_id, "building the snapshot", timeout_s=timeout,
                               console=console), console)
            built = client.get_activation(accepted.activation.id)
    except MemOSClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(f"{built.id} {built.state.value} v{built.version}: {built.tokens} tokens, {built.bytes} bytes, "
               f"model {built.model}")


@adapter_app.command("train")
def adapter_train(
    cube: Annotated[str, typer.Option(help="cube name or id")],
    model: Annotated[str, typer.Option(help="a model of the server (`tiny` is built in)")],
    memory: Annotated[list[str] | None, typer.Option(help="a memory's id to train on (repeat)")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="train on memories with all these tags (repeat)")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="or on the newest LIMIT memories")] = None,
    steps: Annotated[int | None, typer.Option(min=1)] = None,
    rank: Annotated[int | None, typer.Option(min=1)] = None,
    name: Annotated[str | None, typer.Option(help="a name for the adapter")] = None,
    wait: Annotated[bool, typer.Option(help="follow the training until it ends")] = True,
    timeout: _Timeout = 3600.0,
    url: _Url = None,
    api_key: _Key = None,
) -> None:
    """Train a LoRA adapter on a cube's memories in the background, following the job."""
    from rich.console import Console

    from memos.client import MemOSClient, MemOSClientError

    console = Console(stderr=True)
    try:
        with MemOSClient(url, api_key=api_key) as client:
            accepted = client.train_adapter(_cube_id(client, cube), model, memory_ids=memory, tags=tag, limit=limit,
                                            steps=steps, rank=rank, name=name)
            console.print(f"adapter {accepted.adapter.id}, job {accepted.job_id}", soft_wrap=True)
            if not wait:
                return
            _finish(follow_job(client, accepted.job_id, "training the adapter", timeout_s=timeout,
                               console=console), console)
            trained = client.get_adapter(accepted.adapter.id)
    except MemOSClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(f"{trained.id} {trained.state.value} v{trained.version}: rank {trained.rank}, {trained.bytes} bytes, "
               f"model {trained.model}")
