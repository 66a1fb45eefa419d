"""The scope command: JSON on success, one line and a non-zero exit on error."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def scope(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)


def test_missing_file_is_one_line_error(database_url):
    result = scope("import", "/nonexistent.csv", "--mapping", "data/mappings/lgpif_peril.yaml",
                   "--dataset", "x", database_url=database_url)
    assert result.returncode != 0
    assert result.stderr.strip() == "scope: error: CSV file not found: /nonexistent.csv"
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line_error():
    result = scope("train", "--dataset", "synthetic", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "cannot reach the database" in result.stderr


def test_create_user_then_duplicate_is_refused(database_url):
    args = ("create-user", "--email", "cli.user@scope.example", "--role", "viewer", "--password", "a-long-password-1")
    first = scope(*args, database_url=database_url)
    assert first.returncode == 0, first.stderr
    second = scope(*args, database_url=database_url)
    assert second.returncode == 1
    assert "already exists" in second.stderr and "Traceback" not in second.stderr


def test_unknown_dataset_training_fails_cleanly(database_url):
    result = scope("train", "--dataset", "no_such_dataset", database_url=database_url)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stderr.startswith("scope: error:")


def test_token_create_takes_repeated_scopes_and_prints_the_token_once(database_url):
    made = scope("create-user", "--email", "token.cli@scope.example", "--role", "adjuster",
                 "--password", "a-long-password-2", database_url=database_url)
    assert made.returncode == 0, made.stderr
    result = scope("token", "create", "--email", "token.cli@scope.example", "--name", "ci",
                   "--scope", "claims:read", "--scope", "claims:write", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "claims:read, claims:write" in result.stdout
    assert result.stdout.count("scope_") == 1
