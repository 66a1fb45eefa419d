"""The executive dashboard's KPI cards as data and words, with no Dash: which figures, how each
is formatted and how its change against the previous period is worded. components.kpis draws
them; the weekly summary email (services.notification_mail) words them the same way."""
from __future__ import annotations

from typing import NamedTuple

from services import currency as money
from services.aggregates import CYCLE_CAP
from services.alerts import MIN_RATE_SAMPLE

class Card(NamedTuple):
    key: str
    label: str  # short: one line on a card a sixth of a 1280 px screen wide
    kind: str
    better: bool | None  # is a rise good news? None: neither
    help: str  # the definition, in the label's tooltip
    base: tuple[str, str] | None = None  # a rate's denominator: (figure key, what it counts)
    unlike: str | None = None  # why a comparison with the previous period would mislead
    aside: tuple[str, str, str] | None = None  # a second figure under the change: (figure, count, words)


CARDS = (
    Card("received", "Claims received", "count", None, "Claims reported in the period (by report date)."),
    Card("backlog", "Open backlog", "count", False,
         "Claims open at the end of the period: received by its last day and not closed by then."),
    Card("cycle_median", "Median cycle time", "days", False,
         "Half of the claims closed in the period took at most this many days from report to closing."),
    Card("cycle_p90", "P90 cycle time", "days", False,
         "90th-percentile cycle time: 9 in 10 claims closed in the period took at most this many days "
         "from report to closing."),
    Card("sla_breaches", "SLA breaches", "count", False,
         "Claims closed in the period later than their department's service level (days from report to "
         "closing; each department sets its own). Open claims already past their level are not counted here: "
         "managers see those on Workload and Operations."),
    Card("routing_accuracy", "Routing accuracy", "pct", True,
         "Closed claims whose latest routing decision named their final department, of the closed claims "
         "SCOPE routed (a claim sent to triage counts as missed). The managers' Operations page scores the first "
         "decision's predicted department instead ('Prediction accuracy'), so its figure differs.",
         ("closed_routed", "closed claims"),
         aside=("routing_accuracy_without_siu_later", "routed_siu_later", "claims later sent to SIU")),
    Card("reassignment_rate", "Reassignment rate", "pct", False,
         "Manual reassignment rate: routed claims a person moved to another department in the period "
         "(on the day of the first move), of the claims routed in the period. No figure where nothing was "
         "routed, e.g. before go-live.", ("routed", "routed claims")),
    Card("agreement_rate", "Adjuster agreement", "pct", True,
         "Adjusters' verdicts on routing decisions that agreed with the router (latest verdict per person).",
         ("feedback_total", "verdicts")),
    Card("auto_routed_share", "Auto-routed", "pct", True,
         "Routed claims sent straight to a department (confidence at or above the threshold), not to triage.",
         ("routed", "routed claims")),
    Card("fraud_flagged", "Fraud flagged", "count", None,
         "Claims received in the period suspected of fraud, whatever came of it: a fraud alert (even if "
         "dismissed later), the SIU queue or an SIU case, or found fraudulent when closed. Confirmed fraud is "
         "in the Special Investigations strip."),
    Card("reserve", "Total reserve", "money", None,
         "Reserves set on the claims received in the period, open or closed (what they were expected to cost, "
         "not what is still outstanding)."),
    Card("paid", "Total paid", "money", None,
         "Paid so far on the claims received in the period. Recent claims have had little time to be paid, "
         "so there is no comparison with the previous period.",
         unlike="Claims received earlier have had longer to be paid: a drop against the previous period "
                "would only show that this period is younger."),
)


def fmt(value, kind: str, currency: str | None = None) -> str:
    """A KPI value as a card shows it; money needs the deployment's currency code."""
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "days":
        # The histogram holds whole days up to its cap: at the cap the true figure is longer.
        return f"{value:,.0f}+ d" if value >= CYCLE_CAP else f"{value:,.0f} d"
    if kind == "money":
        if currency is None:  # fail loudly rather than show some other currency's symbol
            raise ValueError("fmt: a money value needs its currency code")
        return money.money_short(value, currency)
    return f"{value:,.0f}"


NO_COMPARISON = "no comparison"
COMPARABLE_SHARE = 0.25  # a rate's previous period needs at least this share of the current one's claims


def change_text(current: float, previous: float, kind: str) -> tuple[float, str]:
    """The change a card shows without its arrow ("+4%", "-0.8 pts", "±0%"), and the difference
    it is of (0 where the change rounds away). Both values must be there."""
    diff = current - previous
    if kind == "pct":
        if round(diff * 100, 1) == 0:
            diff = 0  # "▼ -0.0 pts" in red for a change that rounds away says more than there is
        text = f"{diff * 100:+.1f} pts" if diff else "±0.0 pts"
    elif previous:
        share = diff / abs(previous)
        # A change under half a percent printed as "-0%" (1,866 against 1,867): one decimal then.
        text = f"{share:+.0%}" if abs(share) >= 0.005 else f"{share:+.1%}" if abs(share) >= 0.0005 else "±0%"
    else:
        text = "new" if diff else "±0"
    return diff, text


def arrow(diff: float) -> str:
    return "▲" if diff > 0 else ("▼" if diff < 0 else "■")


def instead_of_change(card: Card, current: dict, previous: dict | None) -> tuple[str, str, str] | None:
    """(words, tooltip, class) shown in place of the change, or None (see thin_base)."""
    if card.unlike and current.get(card.key) is not None:
        return "still being paid", card.unlike, "small text-muted fst-italic kpi-delta"
    if not card.base or current.get(card.key) is None:
        return None
    n = current.get(card.base[0])
    if n is not None and n < MIN_RATE_SAMPLE:
        return (f"only {n:,} {card.base[1]}", f"Fewer than {MIN_RATE_SAMPLE} {card.base[1]} in the period: too few to "
                "read the rate or compare it; pick a longer period.", "small text-muted fst-italic kpi-delta")
    before = (previous or {}).get(card.base[0])
    # Before go-live a year's view compared 10,314 routed claims with 20 ("+6.0 pts" in red):
    # a previous period with too few, or far fewer than now, is no comparison.
    if (before is not None and (previous or {}).get(card.key) is not None
            and before < max(MIN_RATE_SAMPLE, COMPARABLE_SHARE * (n or 0))):
        return (NO_COMPARISON, f"The previous period had only {before:,} {card.base[1]} (against {n or 0:,} now): "
                "too few to compare with.", "text-muted small kpi-delta")
    return None


def change_words(card: Card, current: dict, previous: dict) -> tuple[str, float | None]:
    """A card's change line as plain text, without "vs prev." (the weekly summary email's):
    "▲ +4%", "▼ -0.8 pts", "no comparison", "only 6 routed claims", "still being paid";
    and the difference behind it (None when the card compares nothing)."""
    instead = instead_of_change(card, current, previous)
    if instead is not None:
        return instead[0], None
    now, before = current.get(card.key), previous.get(card.key)
    if now is None or before is None:
        return NO_COMPARISON, None
    diff, text = change_text(now, before, card.kind)
    return f"{arrow(diff)} {text}", diff


def thin_now(card: Card, current: dict) -> bool:
    n = current.get(card.base[0]) if card.base else None
    return n is not None and current.get(card.key) is not None and n < MIN_RATE_SAMPLE


def aside_text(card: Card, current: dict, currency: str) -> tuple[str, str] | None:
    """The card's second figure and its explanation, e.g. routing accuracy without the claims
    referred to SIU after routing ("92.9% without 41 claims later sent to SIU"): only where it
    differs and the rate is readable."""
    if card.aside is None or thin_now(card, current) or current.get(card.key) is None:
        return None
    key, count, words = card.aside
    n, value = current.get(count) or 0, current.get(key)
    left = (current.get(card.base[0]) or 0) - n if card.base else MIN_RATE_SAMPLE
    if not n or value is None or left < MIN_RATE_SAMPLE:  # the second rate must be readable too
        return None
    return (f"{fmt(value, card.kind, currency)} without {n:,} {words}",
            f"{n:,} closed claims were routed to another department (not triage) and ended in "
            "Special Investigations: referred after routing, when a fraud signal came up while they "
            "were worked. The rate above counts them as misroutes; this figure leaves them out.")
