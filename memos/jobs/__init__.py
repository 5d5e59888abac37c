"""Background jobs: the outbox (``jobs`` table), the handler registry, the runner, the relay and sweeps."""
