"""Embedded PostgreSQL for a user with nothing installed (pgserver).

The data directory persists across restarts; the server stops when the last
process that opened it exits.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)
_servers: dict[Path, object] = {}


def start_embedded(pgdata: Path, cleanup_mode: str | None = "stop") -> str:
    """Start (or attach to) the embedded server and return its SQLAlchemy URL."""
    pgdata = Path(pgdata).expanduser().resolve()
    if pgdata not in _servers:
        os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent))
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            log.info("starting embedded PostgreSQL in %s", pgdata)
            _servers[pgdata] = pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)
    return _servers[pgdata].get_uri()
