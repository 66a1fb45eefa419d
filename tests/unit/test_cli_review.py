"""CLI argument checks that need no database: one clear line and a non-zero exit."""
from __future__ import annotations

import datetime as dt

import pytest

import cli
from services.demo_data import MIN_END, check_end


def error_line(capsys, *argv: str) -> str:
    assert cli.main(list(argv)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("end, message", [("3000-01-01", "must not be after today"),
                                          ("1900-01-01", f"must be {MIN_END} or later")])
def test_demo_data_end_must_be_a_sensible_date(capsys, end, message):
    line = error_line(capsys, "demo-data", "--end", end)
    assert line.startswith("scope: error: --end:") and message in line


def test_demo_data_seed_is_named(capsys):
    assert "--seed must be" in error_line(capsys, "demo-data", "--seed", "-3")


def test_check_end_bounds():
    today = dt.date(2026, 12, 7)
    assert check_end(today, today) == today and check_end(MIN_END) == MIN_END
    with pytest.raises(ValueError):
        check_end(MIN_END - dt.timedelta(days=1))
    with pytest.raises(ValueError):
        check_end(today + dt.timedelta(days=1), today)


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 61, "x/../../../tmp/h2/escaped"])
def test_import_dataset_name_is_checked_first(capsys, tmp_path, name):
    line = error_line(capsys, "import", str(tmp_path / "x.csv"), "--mapping", "m.yaml", "--dataset", name)
    assert line.startswith("scope: error: --dataset: dataset name") and "not allowed" in line


def test_a_directory_is_not_a_csv_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_migrated_db", lambda: pytest.fail("the database must not be needed"))
    line = error_line(capsys, "evaluate", str(tmp_path), "--mapping", "data/mappings/lgpif_peril.yaml",
                      "--dataset", "x")
    assert line == f"scope: error: CSV file {tmp_path} is a directory, not a file"


def test_a_pasted_no_break_space_in_a_name_is_a_space_not_a_control_character():
    from services.users import UserError, _clean_name

    assert _clean_name("Ann\u00a0Lee\u2009 ") == "Ann Lee"
    for bad in ("Ann\nBee", "Ann\tBee", "Ann\u2028Bee", "Ann\x1b[31m"):
        with pytest.raises(UserError, match="control characters"):
            _clean_name(bad)


@pytest.mark.parametrize("days, message", [("-5", "from 0 (never) to 3650 days (got -5)"),
                                           ("3651", "from 0 (never) to 3650 days (got 3651)"),
                                           ("ninety", "a whole number of days"),
                                           ("1.5", "a whole number of days")])
def test_token_expiry_is_checked_before_the_database(capsys, monkeypatch, days, message):
    monkeypatch.setattr(cli, "_migrated_db", lambda: pytest.fail("the database must not be needed"))
    line = error_line(capsys, "token", "create", "--email", "a@b.example", "--name", "n", "--scope", "claims:read",
                      "--expires-days", days)
    assert line.startswith("scope: error: --expires-days: the expiry must be") and message in line


@pytest.mark.parametrize("argv, days", [((), 90), (("--expires-days", "30"), 30), (("--expires-days", "0"), None)])
def test_token_create_passes_the_expiry_on(capsys, monkeypatch, argv, days):
    from services import api_tokens

    seen = {}

    class Factory:
        def begin(self):
            import contextlib
            return contextlib.nullcontext(None)

    class Row:
        id, scopes = 7, ["claims:read"]

    class Owner:
        email = "a@b.example"

    def fake_create(session, user, *, name, scopes, expires_at=None):
        seen["expires_at"] = expires_at
        return Row(), "scope_secret"

    monkeypatch.setattr(cli, "_migrated_db", lambda: (None, Factory()))
    monkeypatch.setattr(api_tokens, "create_token", fake_create)
    monkeypatch.setattr(api_tokens, "user_by_email", lambda session, email: Owner())
    start = dt.datetime.now(dt.timezone.utc)
    assert cli.main(["token", "create", "--email", "a@b.example", "--name", "n", "--scope", "claims:read",
                     *argv]) == 0
    out = capsys.readouterr().out
    if days is None:
        assert seen["expires_at"] is None and "never expires" in out
    else:
        assert dt.timedelta(days=days) <= seen["expires_at"] - start < dt.timedelta(days=days, minutes=1)
        assert f"expires {seen['expires_at']:%Y-%m-%d}" in out
