"""Prometheus counters of the guard's decisions, in the process that makes them (the API for writes, reviews
and reads; a worker for consolidation's writes, served by its own endpoint, see workers/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

SCREENED = Counter("memos_guard_screened_total",
                   "plaintext records screened at write time, by outcome (clean, flagged below the cube's "
                   "threshold, quarantined)", ["outcome"])
REVIEWS = Counter("memos_guard_reviews_total", "quarantined memories reviewed, by decision", ["decision"])
READ_DROPPED = Counter("memos_guard_read_dropped_total",
                       "records the read-time check dropped from results, by reason (one record may have several)",
                       ["reason"])
JUDGE_CALLS = Counter("memos_guard_judge_calls_total",
                      "calls of the read-time check's LLM judge (MEMOS_GUARD_MODEL), by outcome (answered, failed: "
                      "the offline rules stood alone)", ["outcome"])
