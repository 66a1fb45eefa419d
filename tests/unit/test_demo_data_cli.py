"""The CLI's demo end dates: `scope run` loads a demo that ends today, `scope demo-data`
takes --end (default the generator's fixed date) and refuses a bad one in one line."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from services import demo_data

ROOT = Path(__file__).resolve().parents[2]


def _scope(*args: str) -> subprocess.CompletedProcess:
    # An unreachable database: the date must be refused before any connection is tried.
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)


def test_first_start_of_scope_run_ends_the_demo_today(monkeypatch):
    from db import migrate
    from jobs import bootstrap

    seen: dict = {}
    monkeypatch.setattr(cli, "_factory", lambda settings: (None, "postgresql://x/y"))
    monkeypatch.setattr(migrate, "is_current", lambda url: True)
    monkeypatch.setattr(bootstrap, "run", lambda factory, settings, **kw: seen.update(kw))
    monkeypatch.setattr(cli, "_mail_sink_for_run", lambda settings, env: None)
    monkeypatch.setattr(cli, "_demo_login_notes", lambda factory: [(login, "") for login in bootstrap.DEMO_LOGINS])
    monkeypatch.setattr(cli, "_serve", lambda *a, **kw: 0)
    before = dt.datetime.now(dt.timezone.utc).date()
    assert cli.cmd_run(cli.build_parser().parse_args(["run"])) == 0
    assert seen["demo_end"] in {before, dt.datetime.now(dt.timezone.utc).date()}
    assert type(seen["demo_end"]) is dt.date


@pytest.mark.parametrize("value", ["2026-11-31", "yesterday", "20261128", "2026-1-5", ""])
def test_a_bad_end_date_is_one_error_line(value):
    result = _scope("demo-data", "--end", value)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("scope: error: --end must be a date written YYYY-MM-DD")


def test_end_date_parses_and_help_names_the_default():
    assert cli._end_date("2026-02-28") == dt.date(2026, 2, 28)
    help_text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["demo-data"]
                         .format_help().split())
    assert demo_data.END_DATE.isoformat() in help_text and "today" in help_text


def test_demo_data_passes_the_end_date_through(monkeypatch):
    import services.demo_data as module
    from services import routing

    ends: list = []

    class _Begin:
        def __enter__(self):
            return object()

        def __exit__(self, *exc):
            return False

    class _Factory:
        def begin(self):
            return _Begin()

    monkeypatch.setattr(cli, "_migrated_db", lambda: (cli._settings(), _Factory()))
    monkeypatch.setattr(module, "load_demo_data", lambda session, n, seed, end: ends.append(end) or {})
    monkeypatch.setattr(routing, "has_champion", lambda session, dataset: False)
    for argv in (["demo-data", "--end", "2026-11-28"], ["demo-data"]):
        assert cli.cmd_demo_data(cli.build_parser().parse_args(argv)) == 0
    assert ends == [dt.date(2026, 11, 28), demo_data.END_DATE]
