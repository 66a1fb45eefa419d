"""Queue filter validation and wording (no database)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from components.queue_filters import (
    LINE_FORMATTER, PANEL_COLUMN, describe_filters, line_label, panel_filter_model, queue_columns,
)
from services.queues import (
    BAND_LABELS,
    MAX_OFFSET,
    InvalidFilter,
    QueueFilters,
    QueuePage,
    _round_estimate,
    parse_filters,
)


def test_empty_filters():
    assert parse_filters(None) == QueueFilters()
    assert parse_filters({}) == QueueFilters()
    assert parse_filters({"statuses": [], "search": "  ", "amount_min": ""}).is_empty()


def test_valid_filters_are_normalised():
    f = parse_filters({"statuses": ["new", "new", "assigned"], "lines": "auto", "amount_min": "1,000",
                       "amount_max": 2500.5, "date_field": "loss_date", "date_from": "2026-01-01",
                       "date_to": "2026-02-01T00:00:00", "confidence": ["low", "unscored"],
                       "search": "  rear   bumper "})
    assert f.statuses == ("new", "assigned") and f.lines == ("auto",)
    assert f.amount_min == Decimal("1000.00") and f.amount_max == Decimal("2500.50")
    assert f.date_field == "loss_date" and f.date_from == dt.date(2026, 1, 1) and f.date_to == dt.date(2026, 2, 1)
    assert f.confidence == ("low", "unscored") and f.search == "rear bumper"


def test_round_trip_through_json():
    f = parse_filters({"statuses": ["new"], "amount_min": 10, "date_from": "2026-03-04", "search": "glass"})
    assert parse_filters(f.to_json()) == f


@pytest.mark.parametrize("raw,needle", [
    ("text", "object"),
    ({"statuses": ["hacked"]}, "Status"),
    ({"statuses": "x" * 100}, "Status"),
    ({"statuses": [1]}, "Status"),
    ({"statuses": ["new"] * 21}, "at most"),
    ({"lines": ["<script>"]}, "Line"),
    ({"amount_min": "abc"}, "not a number"),
    ({"amount_min": True}, "number"),
    ({"amount_min": "NaN"}, "between"),
    ({"amount_max": "Infinity"}, "between"),
    ({"amount_min": -1}, "between"),
    ({"amount_min": 5, "amount_max": 1}, "above the maximum"),
    ({"date_from": "yesterday"}, "not a date"),
    ({"date_from": "1066-10-14"}, "between"),
    ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "after"),
    ({"date_field": "created_at"}, "Date filter"),
    ({"search": ["a"]}, "text"),
    ({"search": "a" * 101}, "at most"),
    ({"confidence": ["sure"]}, "Confidence"),
    ({"sql": "1=1"}, "Unknown filter"),
    ({"search": "x" * 5000}, "too large"),
])
def test_bad_filters_are_refused_with_a_message(raw, needle):
    with pytest.raises(InvalidFilter, match=needle):
        parse_filters(raw)


def test_lines_can_be_restricted_to_known_values():
    assert parse_filters({"lines": ["auto"]}, lines=("auto",)).lines == ("auto",)
    with pytest.raises(InvalidFilter):
        parse_filters({"lines": ["marine"]}, lines=("auto",))


def test_counts_are_described_honestly():
    assert QueuePage([], 12, 12).describe() == "12 open claims"
    estimated = QueuePage([], MAX_OFFSET, 152_345, estimated=True, capped=True).describe()
    assert estimated.startswith("about 152,000 open claims") and f"first {MAX_OFFSET:,}" in estimated
    assert _round_estimate(987) == 987 and _round_estimate(54_621) == 54_600


def test_describe_filters():
    text = describe_filters({"statuses": ["in_review"], "amount_min": 500.0, "confidence": ["low"],
                             "date_field": "loss_date", "date_from": "2026-01-01"}, BAND_LABELS, currency="USD")
    assert "status In review" in text and "amount \u2265 $500" in text and "confidence low" in text
    assert "loss date 2026-01-01" in text
    assert describe_filters({}, BAND_LABELS, currency="USD") == ""
    # Typed bounds read in the deployment's currency, like the grid's amounts.
    assert "amount €1,000–€2.50M" in describe_filters({"amount_min": 1000, "amount_max": 2_500_000}, BAND_LABELS,
                                                      currency="EUR")


def test_lines_read_the_same_in_the_filter_the_status_line_and_the_grid():
    """The grid and the status line showed the raw code ("workers_comp") while the
    filter offered "Workers comp"."""
    assert line_label("workers_comp") == "Workers comp" and line_label("auto") == "Auto"
    assert "line Workers comp, General liability" in describe_filters(
        {"lines": ["workers_comp", "general_liability"]}, BAND_LABELS, currency="USD")
    line = next(c for c in queue_columns(currency="USD") if c["field"] == "line_of_business")
    assert line["valueFormatter"]["function"] == LINE_FORMATTER


def test_panel_filter_model_and_columns():
    model = panel_filter_model(3, {"statuses": ["new"]})
    assert '"rev":3' in model[PANEL_COLUMN]["filter"]
    hidden = [c for c in queue_columns(currency="USD") if c.get("hide")]
    assert [c["field"] for c in hidden] == [PANEL_COLUMN]
    mine = [c["field"] for c in queue_columns(currency="USD", with_department=True)]
    assert "department_name" in mine and "adjuster" not in mine
