"""The generator's end date: data ends on it, nothing piles up on it, same input same output."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from services import demo_data
from services.demo_data import SPAN_DAYS, generate, generate_range

N = 20_000
END = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def shifted():
    return generate(N, 11, end=END)


def _daily(dates: pd.Series, end: dt.date, days: int) -> pd.Series:
    window = pd.date_range(end - dt.timedelta(days=days - 1), end).date
    return dates.dropna().value_counts().reindex(window, fill_value=0)


@pytest.mark.parametrize("end", [demo_data.END_DATE, END, dt.date(2025, 3, 3)])
def test_no_day_near_the_end_piles_up_closings_or_reports(end):
    """Claims that would close (or be reported) after the end used to be put on
    the last day: hundreds of closings where a day has about ten."""
    claims = generate(N, 11, end=end).claims
    for column in ("closed_at", "report_date"):
        daily = _daily(claims[column], end, 90)
        assert daily.max() <= 3 * daily.median(), (column, daily.idxmax(), daily.max(), daily.median())


def test_a_claim_not_settled_by_the_end_stays_open(shifted):
    c = shifted.claims
    closed = c["status"] == "closed"
    assert c.loc[closed, "closed_at"].max() <= END
    assert c.loc[~closed, "closed_at"].isna().all() and c.loc[closed, "closed_at"].notna().all()
    # Long-running claims reported months before the end are still open.
    old_open = (~closed) & (c["report_date"] < END - dt.timedelta(days=110))
    assert old_open.sum() > 50
    assert set(c.loc[old_open, "true_department"]) <= {"LIABILITY", "WORKERS_COMP", "SIU", "PROPERTY", "AUTO_PD"}


def test_end_moves_the_whole_window(shifted):
    c = shifted.claims
    first = END - dt.timedelta(days=SPAN_DAYS - 1)
    assert c["report_date"].max() == END
    assert c["loss_date"].min() >= first and c["report_date"].min() >= first
    assert (c["report_date"] >= c["loss_date"]).all()
    default = generate(2_000, 11).claims
    assert default["report_date"].max() == demo_data.END_DATE
    # Same claims (numbers, amounts), other dates.
    assert shifted.claims["claim_number"].head(2_000).tolist() == default["claim_number"].tolist()
    assert (shifted.claims["report_date"].head(2_000) != default["report_date"]).mean() > 0.9


def test_same_seed_and_end_give_identical_output(shifted):
    again = generate(N, 11, end=END)
    pd.testing.assert_frame_equal(shifted.claims, again.claims)
    pd.testing.assert_frame_equal(shifted.parties, again.parties)
    part = generate_range(11, 9_990, 10_010, end=END)
    pd.testing.assert_frame_equal(part.claims, shifted.claims.iloc[9_990:10_010].reset_index(drop=True))


def test_default_end_is_the_fixed_date():
    pd.testing.assert_frame_equal(generate(1_000, 3).claims, generate(1_000, 3, end=demo_data.END_DATE).claims)


def test_seasons_follow_the_calendar_not_the_window(shifted):
    month = pd.to_datetime(shifted.claims["loss_date"]).dt.month
    storms = shifted.claims["extra"].map(lambda e: e["catastrophe_code"] is not None)
    assert storms[month.isin([6, 7, 8])].mean() > storms[month.isin([12, 1, 2])].mean() * 2
    codes = shifted.claims.loc[storms, ["loss_date", "extra"]]
    assert all(e["catastrophe_code"] == f"CAT-{d:%Y-%m}" for d, e in zip(codes["loss_date"], codes["extra"]))


@pytest.mark.parametrize("end", ["2026-11-28", dt.datetime(2026, 11, 28, 12, 0), None])
def test_end_must_be_a_date(end):
    with pytest.raises(TypeError, match="end must be a datetime.date"):
        generate(10, 1, end=end)
