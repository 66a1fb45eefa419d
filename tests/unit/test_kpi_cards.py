"""The dashboard's KPI cards say when a figure cannot be read or compared."""
from __future__ import annotations

from components.kpis import NO_COMPARISON, fmt, kpi_cards
from services.aggregates import CYCLE_CAP
from tests.webutil import component_texts


def _card(current: dict, previous: dict, key: str) -> list[str]:
    for col in kpi_cards(current, previous, "USD").children:
        body = col.children.children
        if any(getattr(c, "id", None) == f"kpi-{key}" for c in body.children):
            return component_texts(body)
    raise AssertionError(key)


NOW = {"received": 900, "routed": 850, "closed_routed": 400, "feedback_total": 60, "reassignment_rate": 0.04,
       "routing_accuracy": 0.93, "agreement_rate": 0.9, "auto_routed_share": 0.97, "paid": 1_000_000.0,
       "cycle_p90": 120.0}
BEFORE = dict(NOW, reassignment_rate=0.05, paid=2_200_000.0, cycle_p90=100.0)


def test_paid_is_never_compared_with_an_older_period():
    """Claims received earlier have had longer to be paid: "-55%" read as payments halving."""
    texts = _card(NOW, BEFORE, "paid")
    assert "still being paid" in texts and "vs prev." not in texts and not any("%" in t for t in texts)
    assert any("vs prev." in t for t in _card(NOW, BEFORE, "received"))  # other totals still compare


def test_a_rate_against_a_thin_previous_period_is_no_comparison():
    """Before go-live: 0 moves of 5 routed claims is not a 0% to compare with."""
    texts = _card(NOW, dict(BEFORE, routed=5, reassignment_rate=0.0), "reassignment_rate")
    assert NO_COMPARISON in texts and not any("pts" in t for t in texts)
    texts = _card(NOW, dict(BEFORE, routed=20), "reassignment_rate")
    assert NO_COMPARISON in texts  # 20 against 850 now: the router was barely in service then
    texts = _card(NOW, dict(BEFORE, routed=213), "reassignment_rate")  # a quarter of now's 850
    assert any("-1.0 pts" in t for t in texts)
    texts = _card(dict(NOW, routed=40), dict(BEFORE, routed=20), "reassignment_rate")
    assert any("-1.0 pts" in t for t in texts)  # a quiet week against a quieter one still compares


def test_a_thin_rate_now_says_how_few():
    texts = _card(dict(NOW, routed=4, reassignment_rate=0.25), BEFORE, "reassignment_rate")
    assert "only 4 routed claims" in texts and "25.0%" in texts and not any("pts" in t for t in texts)
    assert "only 3 verdicts" in _card(dict(NOW, feedback_total=3), BEFORE, "agreement_rate")


def test_a_cycle_time_at_the_histograms_cap_reads_as_at_least():
    assert fmt(float(CYCLE_CAP), "days") == f"{CYCLE_CAP:,}+ d"
    assert fmt(416.0, "days") == "416 d"
