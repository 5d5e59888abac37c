"""The ``memos`` command: ``serve``, ``migrate``, ``admin``, ``import``, ``search``, ``context``, ``mcp``,
``worker``, ``beat``, ``relay``; ``status``, ``jobs``, ``activation``, ``adapter`` (memos/cli_follow.py).

Kept import-light so ``memos --help`` answers at once: uvicorn, the app, SQLAlchemy and torch are imported
inside the commands that need them.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from memcube.schemas import Cube, MemoryCreate
    from memos.client import MemOSClient
    from memos.config import Settings
    from memos.database import DatabaseAccess

app = typer.Typer(
    name="memos",
    help="MemOS: a memory operating system for LLM agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(help="Administration directly against the database (no server, no admin key).",
                        no_args_is_help=True)
app.add_typer(admin_app, name="admin")


def _settings(**overrides: object) -> Settings:
    from memos.config import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _prepared(settings: Settings) -> DatabaseAccess:
    """The configured database (``MEMOS_DATABASE_URL``, else the embedded one under ``MEMOS_HOME``), set up
    (roles, migrations, context key) when the administrator's login is known."""
    from memos.database import prepare

    settings.home.mkdir(parents=True, exist_ok=True)
    return prepare(settings)


def _where(settings: Settings) -> str:
    url = settings.database_url or settings.admin_database_url
    if url:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    return f"embedded PostgreSQL in {settings.pgdata.resolve()}"


# ---------------------------------------------------------------- serve / migrate
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to bind (env MEMOS_HOST, default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (env MEMOS_PORT, default 8000)")] = None,
) -> None:
    """Run the API server (migrations are applied at start; data under MEMOS_HOME, default ./.memos).

    One per MEMOS_HOME: a second one there is refused while the first runs. Its Redis and workers die with it
    however it dies; what a run killed before it could stop them left behind is stopped by its watchdog, or
    else by the next start (see workers/orphans.py).
    """
    from workers.orphans import HomeInUse, serve_run

    settings = _settings(host=host, port=port)
    with ExitStack() as stack:
        try:
            stack.enter_context(serve_run(settings.home, pgdata=settings.pgdata))
        except HomeInUse as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        _serve(settings)


WEB_APP = "memos.cli:web_app"  # what each web process imports when MEMOS_WEB_CONCURRENCY > 1


def _serve(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    typer.echo(f"MemOS serving on http://{settings.host}:{settings.port}  (docs: /docs; "
               f"data: {_where(settings)}; {settings.web_concurrency} web process(es))")
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; with the default handlers the process would
    # die without running atexit (leaving the embedded PostgreSQL it started running) or with a traceback.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    from memos.logs import logging_config
    from workers.embedded import background

    # Our log format (JSON by default) for uvicorn too; the access log is ours (api/request_id.py: with ids).
    log_config = logging_config(settings.log_level, settings.log_format)
    # The background path for real (a Redis, a Celery worker with beat, the outbox relay) unless
    # MEMOS_RUN_WORKERS=false; all of it is stopped when the server exits.
    access = _prepared(settings)
    with background(settings, access) as bg:
        if bg is not None:
            typer.echo(f"background: broker {bg.redis_url}, worker pid {bg.worker.pid}, light worker pid "
                       f"{bg.light_worker.pid} (logs: {bg.worker_log.parent})")
            # /readyz checks the broker and the workers' heartbeats there.
            settings = settings.model_copy(update={"redis_url": bg.redis_url})
        if settings.web_concurrency > 1:
            _prepare_web_processes(settings, access)
            # uvicorn's supervisor binds the socket here and spawns the processes; on SIGTERM it stops them and
            # returns, so this process still stops the background and the embedded PostgreSQL.
            uvicorn.run(WEB_APP, factory=True, workers=settings.web_concurrency, host=settings.host,
                        port=settings.port, log_config=log_config, access_log=False,
                        log_level=settings.log_level.lower())
        else:
            uvicorn.run(limit_threads(create_app(settings=settings, access=access), settings.web_threads),
                        host=settings.host, port=settings.port, log_config=log_config, access_log=False,
                        log_level=settings.log_level.lower())


def _prepare_web_processes(settings: Settings, access: DatabaseAccess) -> None:
    """What the web processes must find ready: the database set up (done), the admin key made once (here,
    not by N processes at once), and a login that needs no embedded-server handle of their own.

    They get ``memos_app``'s URL and the context secret the way the Celery workers do, so none of them
    attaches to the embedded PostgreSQL (a handle they would not release when uvicorn stops them with a
    re-raised SIGTERM, which would keep this process from stopping the server) or sets the database up again.
    """
    import os

    from memos.tenants.service import ensure_admin_key

    _, new_key = ensure_admin_key(settings.home, settings.admin_key)
    if new_key:
        typer.echo(f"\n  MemOS admin key (shown once, keep it): {new_key}\n")
    # Spawned processes inherit this environment and read their settings from it.
    os.environ.update({"MEMOS_DATABASE_URL": access.app_url, "MEMOS_CONTEXT_SECRET": access.context_key.decode(),
                       "MEMOS_HOME": str(settings.home), "MEMOS_WEB_THREADS": str(settings.web_threads)})
    if settings.redis_url:
        os.environ["MEMOS_REDIS_URL"] = settings.redis_url
    os.environ.pop("MEMOS_ADMIN_DATABASE_URL", None)


def web_app() -> ASGIApp:
    """The app of one web process under ``MEMOS_WEB_CONCURRENCY`` > 1 (uvicorn imports it by name in every
    process it spawns), configured from the environment :func:`_prepare_web_processes` left."""
    from api.app import create_app
    from memos.config import Settings

    settings = Settings()
    return limit_threads(create_app(settings=settings), settings.web_threads)


def limit_threads(app: ASGIApp, threads: int) -> ASGIApp:
    """``app`` with its request threads capped at ``threads`` (0: anyio's default of 40).

    Sync handlers and dependencies run in anyio's default thread limiter, which belongs to the event loop;
    it is resized when the lifespan starts, i.e. in the loop that serves the requests.
    """
    if threads <= 0:
        return app

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        await app(scope, receive, send)

    return limited


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command()
def migrate() -> None:
    """Set the database up through MEMOS_ADMIN_DATABASE_URL (a superuser), or the embedded one under
    MEMOS_HOME: the memos_owner and memos_app roles, the migrations (run as memos_owner), the context key."""
    from memos.database import resolve

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    resolve(settings).setup(settings)
    typer.echo(f"migrated {_where(settings)} to head")


# ---------------------------------------------------------------- admin
@admin_app.command("create-tenant")
def create_tenant(
    name: Annotated[str, typer.Argument(help="the tenant's name")],
    key_name: Annotated[str, typer.Option(help="name of the API key created with it")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print {tenant_id, api_key} as JSON")] = False,
) -> None:
    """Create a tenant and an API key for it, directly in the database (migrating it first if needed)."""
    from memcube.db import SYSTEM
    from memos.tenants.service import create_key
    from memos.tenants.service import create_tenant as new_tenant

    settings = _settings()
    db = _prepared(settings).database(pool_size=1)
    try:
        # The system context: creating tenants and keys is the administrator's job, across tenants.
        with db.session(SYSTEM) as session:
            tenant = new_tenant(session, name=name)
            key, secret = create_key(session, tenant.id, name=key_name)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({"tenant_id": str(tenant.id), "key_id": str(key.id), "api_key": secret}))
    else:
        typer.echo(f"tenant_id: {tenant.id}\nkey_id:    {key.id}\napi_key:   {secret}  (shown once, keep it)")


# ---------------------------------------------------------------- import
class ImportFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    locomo = "locomo"


def _resolve_cube(client: MemOSClient, name_or_id: str) -> Cube:
    """A cube by id, else the caller's cube of that name (created if there is none)."""
    if _is_uuid(name_or_id):
        return client.get_cube(name_or_id)
    for cube in client.list_cubes():
        if cube.name == name_or_id and cube.access == "owner":
            return cube
    return client.create_cube(name_or_id)


def _batches(items: Sequence[MemoryCreate], size: int) -> list[Sequence[MemoryCreate]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _plan(file: Path, fmt: ImportFormat, cube: str, sample: str | None) -> list[tuple[str, list[MemoryCreate]]]:
    """(cube name or id, memories) pairs to write: one for JSON lines, one per LoCoMo conversation."""
    from memos.importers import read_jsonl, read_locomo

    if fmt is ImportFormat.auto:
        fmt = ImportFormat.jsonl if file.suffix in {".jsonl", ".ndjson"} else ImportFormat.locomo
    if fmt is ImportFormat.jsonl:
        return [(cube, read_jsonl(file))]
    conversations = read_locomo(file)
    if sample is not None:
        conversations = [c for c in conversations if c.sample_id == sample]
        if not conversations:
            raise typer.BadParameter(f"no conversation with sample_id {sample!r} in {file}", param_hint="--sample")
    if len(conversations) == 1:
        return [(cube, conversations[0].memories)]
    return [(f"{cube}-{c.sample_id}", c.memories) for c in conversations]


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the file to import")],
    cube: Annotated[str, typer.Option(help="cube name or id (a name is created if missing)")],
    fmt: Annotated[ImportFormat, typer.Option(
        "--format", help="jsonl: one MemoryCreate per line; locomo: a LoCoMo file; auto: by extension")
    ] = ImportFormat.auto,
    sample: Annotated[str | None, typer.Option(help="LoCoMo: import only this sample_id")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="memories per request")] = 100,
    url: Annotated[str | None, typer.Option(help="server URL (env MEMOS_URL, default http://127.0.0.1:8000)")]
    = None,
    api_key: Annotated[str | None, typer.Option(help="a tenant's API key (env MEMOS_API_KEY)")] = None,
) -> None:
    """Import memories into a cube through the REST API.

    Several LoCoMo conversations go to one cube each, named CUBE-<sample_id>, unless --sample picks one.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from memos.client import MemOSClient, MemOSClientError
    from memos.importers import ImportFormatError

    console = Console(stderr=True)
    try:
        plan = _plan(file, fmt, cube, sample)
    except ImportFormatError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if len(plan) > 1 and _is_uuid(cube):
        raise typer.BadParameter("several conversations need a cube name (or --sample)", param_hint="--cube")
    total = sum(len(memories) for _, memories in plan)
    written: list[tuple[str, uuid.UUID, int]] = []
    try:
        with MemOSClient(url, api_key=api_key) as client, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("importing", total=total)
            for target, memories in plan:
                target_cube = _resolve_cube(client, target)
                progress.update(task, description=f"importing into {target_cube.name}")
                for batch in _batches(memories, batch_size):
                    client.add_memories(target_cube.id, batch)
                    progress.advance(task, len(batch))
                written.append((target_cube.name, target_cube.id, len(memories)))
    except MemOSClientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    for name, cube_id, count in written:
        typer.echo(f"{count} memories -> cube {name} ({cube_id})")


_Url = Annotated[str | None, typer.Option(help="server URL (env MEMOS_URL, default http://127.0.0.1:8000)")]
_Key = Annotated[str | None, typer.Option(help="a tenant's API key (env MEMOS_API_KEY)")]


def _find_cube(client: MemOSClient, name_or_id: str) -> Cube:
    """A cube by id, else one of the caller's cubes of that name (not created)."""
    if _is_uuid(name_or_id):
        return client.get_cube(name_or_id)
    for cube in client.list_cubes():
        if cube.name == name_or_id:
            return cube
    raise typer.BadParameter(f"no cube named {name_or_id!r}", param_hint="--cube")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    cube: Annotated[str, typer.Option(help="cube name or id")],
    top_k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid | dense | lexical")] = "hybrid",
    expand: Annotated[bool, typer.Option(help="add session neighbours and linked memories of hits")] = False,
    diversity: Annotated[float | None, typer.Option(min=0, max=1, help="MMR lambda")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
    url: _Url = None,
    api_key: _Key = None,
) -> None:
    """Search a cube; one line per result: score, date, speaker, content."""
    from memos.client import MemOSClient

    with MemOSClient(url, api_key=api_key) as client:
        hits = client.search(_find_cube(client, cube).id, query, top_k=top_k, mode=mode, expand=expand,
                             diversity=diversity)
    if as_json:
        typer.echo(json.dumps([h.model_dump(mode="json") for h in hits], indent=2))
        return
    for h in hits:
        m = h.memory
        when = m.event_time.date().isoformat() if m.event_time else "-"
        via = "" if h.via == "search" else f" ({h.via})"
        typer.echo(f"{h.score:6.3f}  {when}  {(m.role or '-')}: {m.content}{via}")


@app.command()
def context(
    query: Annotated[str, typer.Argument(help="what the prompt is about")],
    cube: Annotated[str, typer.Option(help="cube name or id")],
    token_budget: Annotated[int, typer.Option(min=1, help="cl100k_base tokens")] = 2000,
    top_k: Annotated[int, typer.Option(min=1, max=100)] = 20,
    url: _Url = None,
    api_key: _Key = None,
) -> None:
    """Print the context block a prompt should carry for QUERY (dated, by session, within the budget)."""
    from memos.client import MemOSClient

    with MemOSClient(url, api_key=api_key) as client:
        out = client.context(_find_cube(client, cube).id, query, token_budget=token_budget, top_k=top_k)
    typer.echo(out.context)
    typer.echo(f"({len(out.memories)} memories, {out.tokens} tokens)", err=True)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- MCP (see docs/mcp.md)
@app.command()
def mcp(url: _Url = None, api_key: _Key = None) -> None:
    """Serve MemOS's memory tools to an MCP client over stdio (list_cubes, add_memories, search, get_context,
    get_history), calling the server at MEMOS_URL with the API key MEMOS_API_KEY."""
    from memos.mcp.stdio import run

    run(url, api_key)


# ---------------------------------------------------------------- background (see docs/workers.md)
@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="processes (env MEMOS_WORKER_CONCURRENCY)")] = None,
    beat: Annotated[bool, typer.Option(help="also run beat inside this worker (a single-node setup)")] = False,
    queues: Annotated[str | None, typer.Option(
        help="comma-separated broker queues to consume (default: MEMOS_CELERY_QUEUE and its .light queue)")] = None,
) -> None:
    """Run a Celery worker for background jobs (broker MEMOS_REDIS_URL; scale by running more of them).
    MEMOS_WORKER_METRICS_PORT serves its Prometheus metrics."""
    import os

    from workers.metrics import worker_env

    settings = _settings()
    os.environ.update(worker_env(settings))  # before anything imports prometheus_client (workers/metrics.py)
    from workers.commands import run_worker

    run_worker(settings, concurrency=concurrency, beat=beat,
               queues=[q.strip() for q in queues.split(",") if q.strip()] if queues else None)


@app.command()
def beat(
    relay: Annotated[bool, typer.Option(help="also run the outbox relay in this process")] = True,
) -> None:
    """Run the periodic sweeps' scheduler (exactly one per deployment) and, by default, the outbox relay."""
    from workers.commands import run_beat

    run_beat(_settings(), relay=relay)


@app.command()
def relay() -> None:
    """Run the outbox relay alone (hands queued jobs to the broker; several may run side by side)."""
    from workers.commands import run_relay

    run_relay(_settings())


# ---------------------------------------------------------------- status and following jobs
from memos.cli_follow import register as _register_follow  # noqa: E402 - typer only; commands import lazily

_register_follow(app)


def main() -> None:
    """Entry point of the ``memos`` console script."""
    app()


if __name__ == "__main__":
    main()
