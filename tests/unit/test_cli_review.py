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
