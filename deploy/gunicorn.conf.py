"""gunicorn hooks and the access-log format shared by `scope run` and the container image (`-c deploy/gunicorn.conf.py`;
bind, workers and timeouts stay on the command line).

Prometheus counts requests per worker process; with PROMETHEUS_MULTIPROC_DIR set
before the workers start, each writes its counts to files there and /metrics sums
them, whichever worker answers the scrape. The directory must start empty: counts
left by an earlier run would be added in.
"""
import os
import shutil
import tempfile
from pathlib import Path

_created_dir = None
# gunicorn's default access line plus the request's reference (api/request_ids.py), so an
# access line, the app's log lines and a user's error page can be matched.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss rid=%({x-request-id}o)s'


def on_starting(server):
    global _created_dir
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        _created_dir = tempfile.mkdtemp(prefix="scope-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_dir


def child_exit(server, worker):
    # Imported here, after on_starting set the directory: prometheus_client picks its
    # storage when first imported.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_dir:
        shutil.rmtree(_created_dir, ignore_errors=True)
