"""Start the app under a real gunicorn for tests that need several worker processes."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict, tmp_path: Path, timeout: float = 180) -> tuple[subprocess.Popen, str]:
    """gunicorn ``app:server`` with ``args`` (workers, config...) on a free port; returns
    the process and its base URL once /healthz answers (its stderr goes to tmp_path)."""
    port = free_port()
    errors = tmp_path / "gunicorn.err"
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:server", "-b", f"127.0.0.1:{port}", *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors.open("w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=10) as response:  # nosec B310 - local
                if response.status == 200:
                    return proc, base
        except (OSError, urllib.error.URLError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail("gunicorn did not start: " + errors.read_text()[-2000:])
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
