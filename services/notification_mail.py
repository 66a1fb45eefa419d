"""The notification emails' wording (services.notifications sends them). Plain text, like
the account emails: links are shown whole, so a person can see where they point."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from services import kpi_cards as cards
from services import alerts
from services.currency import money
from services.account_mail import SIGNATURE
from services.mail import Mail

SEVERITY_WORDS = {"critical": "critical alerts", "warning": "warning and critical alerts",
                  "info": "every alert (info, warning and critical)"}
RESOLUTION_WORDS = {"recovered": "the figure is back within its threshold",
                    "rule changed": "its rule was changed (a new alert opens if the new terms are breached)",
                    "rule disabled": "its rule was switched off", "rule deleted": "its rule was deleted",
                    "period ended": "the period it measured ended",
                    "too little to measure": "there are now too few claims behind the figure to measure it"}
DIGEST_SHOWN = 50  # a digest lists tasks, not a backlog: the rest are counted and on the case pages


def _url(base_url: str, path: str, query: dict | None = None) -> str:
    return f"{base_url.rstrip('/')}{path}" + (f"?{urlencode(query)}" if query else "")


def case_url(base_url: str, key: str) -> str:
    # The form of components.siu_cases.case_href: /siu-cases?case=C-000012 opens that case.
    return _url(base_url, "/siu-cases", {"case": key})


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _day(value: dt.date, today: dt.date) -> str:
    return f"{value.day} {value:%b}" + ("" if value.year == today.year else f" {value.year}")


def _greeting(name: str | None) -> str:
    return f"Hello {name}," if name else "Hello,"


@dataclass(frozen=True)
class AlertFacts:
    """One alert event as the emails tell it (from an AlertEvent row)."""
    event_id: int
    rule_name: str
    metric: str
    comparison: str
    threshold: float
    period: str
    severity: str
    department: str | None
    opened_at: dt.datetime
    opened_value: float
    last_value: float
    worst_value: float
    resolved_at: dt.datetime | None
    resolution: str | None


def _measure(facts: AlertFacts, currency: str) -> tuple[str, str, callable]:
    metric = alerts.METRICS.get(facts.metric)
    kind = metric.kind if metric else "count"
    label = (metric.label if metric else facts.metric).removesuffix(" (now)")
    when = "now" if facts.metric in alerts.NOW_METRICS else alerts.PERIOD_LABELS.get(facts.period, facts.period)
    return label, when, (lambda v: alerts.format_value(v, kind, currency))


def _footer(base_url: str, severity_choice: str) -> str:
    return (f"\n\nYou get this because your profile asks for emails about {SEVERITY_WORDS[severity_choice]}. "
            f"Change that under Email notifications on your profile:\n{_url(base_url, '/profile')}")


def alert_opened(to: str, name: str | None, facts: AlertFacts, *, base_url: str, currency: str,
                 severity_choice: str) -> Mail:
    label, when, show = _measure(facts, currency)
    where = facts.department or "All departments"
    body = (f"{_greeting(name)}\n\nAn alert opened in SCOPE Assistant.\n\n"
            f"Rule: {facts.rule_name}\n"
            f"Severity: {facts.severity}\n"
            f"Value: {label} is {show(facts.opened_value)} {when}, {facts.comparison} the "
            f"{show(facts.threshold)} threshold\n"
            f"Department: {where}\n"
            f"Started: {_utc(facts.opened_at)}\n\n"
            f"See it and acknowledge it on the Alerts page:\n{_url(base_url, '/alerts')}"
            + _footer(base_url, severity_choice) + SIGNATURE)
    return Mail(to, f"SCOPE alert ({facts.severity}): {facts.rule_name}", body)


def alert_resolved(to: str, name: str | None, facts: AlertFacts, *, base_url: str, currency: str,
                   severity_choice: str) -> Mail:
    label, when, show = _measure(facts, currency)
    where = facts.department or "All departments"
    why = RESOLUTION_WORDS.get(facts.resolution or "", facts.resolution or "resolved")
    body = (f"{_greeting(name)}\n\nAn alert you were told about has resolved: {why}.\n\n"
            f"Rule: {facts.rule_name}\n"
            f"Severity: {facts.severity}\n"
            f"Last value: {label} was {show(facts.last_value)} {when} at the last check (the alert is for "
            f"{facts.comparison} {show(facts.threshold)})\n"
            f"Worst while open: {show(facts.worst_value)}\n"
            f"Department: {where}\n"
            f"Started: {_utc(facts.opened_at)}\n"
            f"Resolved: {_utc(facts.resolved_at) if facts.resolved_at else 'now'}\n\n"
            f"The alert history:\n{_url(base_url, '/alerts')}"
            + _footer(base_url, severity_choice) + SIGNATURE)
    return Mail(to, f"SCOPE alert resolved: {facts.rule_name}", body)


@dataclass(frozen=True)
class DueTask:
    case_key: str
    case_title: str
    title: str
    due: dt.date


def due_words(due: dt.date, today: dt.date) -> str:
    """"due today" or "due 3 Dec, overdue by 4 days" (a task is overdue the day after its due date)."""
    if due >= today:
        return "due today"
    days = (today - due).days
    return f"due {_day(due, today)}, overdue by {days} day{'s' if days != 1 else ''}"


def siu_digest(to: str, name: str | None, tasks: list[DueTask], *, today: dt.date, base_url: str) -> Mail:
    overdue = sum(1 for t in tasks if t.due < today)
    due_today = len(tasks) - overdue
    parts = [f"{overdue} overdue" if overdue else None, f"{due_today} due today" if due_today else None]
    summary = " and ".join(p for p in parts if p)
    lines = []
    for task in tasks[:DIGEST_SHOWN]:
        lines.append(f"{task.case_key} · {task.title}\n  {due_words(task.due, today)} · case: {task.case_title}\n"
                     f"  {case_url(base_url, task.case_key)}")
    more = len(tasks) - DIGEST_SHOWN
    if more > 0:
        lines.append(f"…and {more} more, on your cases' pages.")
    body = (f"{_greeting(name)}\n\nYour open SIU tasks due by today ({_day(today, today)} {today.year}): "
            f"{summary}.\n\n" + "\n\n".join(lines) +
            f"\n\nAll your open tasks are also on My work:\n{_url(base_url, '/my-work')}"
            "\n\nYou get this digest on mornings when tasks of yours are due. Switch it off under Email "
            f"notifications on your profile:\n{_url(base_url, '/profile')}" + SIGNATURE)
    return Mail(to, f"SCOPE: your SIU tasks, {summary}", body)


# --- One's claims ------------------------------------------------------------------------------

NOTE_SHOWN = 200  # a move's comment can be 1,000 characters; the claim page has it whole


def claim_url(base_url: str, number: str) -> str:
    return _url(base_url, f"/claims/{number}")


def my_work_url(base_url: str, *, overdue: bool = False) -> str:
    # My work opens with the filters in ?f= (pages.queues.initial_filters), as its own address keeps them.
    return _url(base_url, "/my-work", {"f": json.dumps({"overdue": True}, separators=(",", ":"))} if overdue else None)


def _claim_line(number: str, line: str, department: str | None, amount, currency: str) -> str:
    parts = [number, line or None, department, money(amount, currency) if amount is not None else None]
    return " · ".join(p for p in parts if p)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class AssignedClaim:
    claim_number: str
    line: str
    department: str | None
    amount: Decimal | float | None
    assigned_by: str
    at: dt.datetime
    reason: str | None  # the move's reason, as the board words it
    note: str | None


def _note(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return (text[:NOTE_SHOWN - 1].rstrip() + "…" if len(text) > NOTE_SHOWN else text) or None


def claims_assigned(to: str, name: str | None, claims: list[AssignedClaim], *, base_url: str,
                    currency: str) -> Mail:
    """One email for the claims others gave the person since the last one, newest first."""
    givers = {c.assigned_by for c in claims}
    count = _plural(len(claims), "claim")
    opening = (f"{next(iter(givers))} assigned {count} to you" if len(givers) == 1
               else f"{count} were assigned to you" if len(claims) > 1 else f"{count} was assigned to you")
    lines = []
    for claim in claims[:DIGEST_SHOWN]:
        why = " · ".join(p for p in (claim.reason, f"“{_note(claim.note)}”" if _note(claim.note) else None) if p)
        lines.append(f"{_claim_line(claim.claim_number, claim.line, claim.department, claim.amount, currency)}\n"
                     f"  assigned by {claim.assigned_by}, {_utc(claim.at)}" + (f"\n  {why}" if why else "") +
                     f"\n  {claim_url(base_url, claim.claim_number)}")
    more = len(claims) - DIGEST_SHOWN
    if more > 0:
        lines.append(f"…and {more:,} more, on My work:\n{my_work_url(base_url)}")
    first = claims[0].claim_number
    subject = (f"SCOPE: claim {first} assigned to you" if len(claims) == 1 else f"SCOPE: {count} assigned to you")
    body = (f"{_greeting(name)}\n\n{opening} in SCOPE Assistant.\n\n" + "\n\n".join(lines) +
            f"\n\nAll your open claims are on My work:\n{my_work_url(base_url)}"
            "\n\nYou get this email when someone else gives you claims (not for claims you take yourself). "
            f"Switch it off under Email notifications on your profile:\n{_url(base_url, '/profile')}" + SIGNATURE)
    return Mail(to, subject, body)


@dataclass(frozen=True)
class LateClaim:
    claim_number: str
    line: str
    department: str | None
    amount: Decimal | float | None
    reported: dt.date
    due: dt.date  # the last day within the service level; the claim is late from the day after
    sla_days: int


def overdue_digest(to: str, name: str | None, claims: list[LateClaim], total: int, *, today: dt.date,
                   base_url: str, currency: str) -> Mail:
    """``claims``: the oldest ``DIGEST_SHOWN`` of the person's ``total`` claims past the service level."""
    lines = []
    for claim in claims[:DIGEST_SHOWN]:
        days = (today - claim.due).days
        lines.append(f"{_claim_line(claim.claim_number, claim.line, claim.department, claim.amount, currency)}\n"
                     f"  reported {_day(claim.reported, today)}, past its {claim.sla_days}-day service level by "
                     f"{_plural(days, 'day')} (due {_day(claim.due, today)})\n"
                     f"  {claim_url(base_url, claim.claim_number)}")
    more = total - min(len(claims), DIGEST_SHOWN)
    if more > 0:
        lines.append(f"…and {more:,} more, on My work with the past-service-level filter:\n"
                     f"{my_work_url(base_url, overdue=True)}")
    counted = _plural(total, "open claim")
    past = "is past its" if total == 1 else "are past their"
    order = ", the oldest first" if total > 1 else ""
    body = (f"{_greeting(name)}\n\n{counted} of yours {past} department's service level "
            f"({_day(today, today)} {today.year}){order}:\n\n" + "\n\n".join(lines) +
            f"\n\nThe same list on My work (the red report dates):\n{my_work_url(base_url, overdue=True)}"
            "\n\nYou get this digest on mornings when claims of yours are past their service level. Switch it off "
            f"under Email notifications on your profile:\n{_url(base_url, '/profile')}" + SIGNATURE)
    return Mail(to, f"SCOPE: {counted} past the service level", body)


# --- The weekly summary ---------------------------------------------------------------------------

# The dashboard's cards (services.kpi_cards) give each figure its label, format and change, so the
# email reads as the cards do; "closed" has no card (the trend shows it), so it gets one here.
_CLOSED = cards.Card("closed", "Claims closed", "count", None, "Claims closed in the period (by closing date).")
_CARDS = {c.key: c for c in (*cards.CARDS, _CLOSED)}
KPI_FIGURES = ("received", "closed", "backlog", "cycle_median", "sla_breaches", "routing_accuracy",
               "reassignment_rate", "agreement_rate", "fraud_flagged", "paid")
_LABELS = {"backlog": "Open backlog at week end"}
# What the first line may pick as "what moved most": counts and days by their share of change.
_MOVERS = ("received", "closed", "backlog", "cycle_median", "sla_breaches", "fraud_flagged")
_RATES = ("routing_accuracy", "reassignment_rate", "agreement_rate")


@dataclass(frozen=True)
class Target:
    """An alert rule's threshold read as a target: "below" 0.95 is a target of at least 95%."""
    comparison: str  # "below" or "above", as the rule
    threshold: float

    def missed(self, value: float | None) -> bool:
        return alerts.breaches(self.comparison, value, self.threshold)

    def words(self, kind: str, currency: str) -> str:
        shown = alerts.format_value(self.threshold, kind, currency)
        return f"target {shown}" if self.comparison == "below" else f"target at most {shown}"


@dataclass(frozen=True)
class KpiWeek:
    start: dt.date  # a Monday
    end: dt.date  # its Sunday
    figures: dict  # services.aggregates.kpis_with_previous: {"current": ..., "previous": ...}
    targets: dict  # figure -> Target
    stale: str | None  # services.aggregates.staleness
    data_until: dt.date | None  # the rollups' last day when it is inside the week


def _week_words(start: dt.date, end: dt.date) -> str:
    """"23 – 29 Nov 2026", "30 Nov – 6 Dec 2026", "28 Dec 2026 – 3 Jan 2027"."""
    first = (f"{start.day}" if (start.year, start.month) == (end.year, end.month) else f"{start.day} {start:%b}"
             + ("" if start.year == end.year else f" {start.year}"))
    return f"{first} – {end.day} {end:%b} {end.year}"


def _lower(label: str) -> str:
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _mover(key: str, week: KpiWeek, currency: str) -> tuple[float, str] | None:
    """(how much it moved, "Open backlog up 12% to 1,904") for a figure whose card compares."""
    card = _CARDS[key]
    current, previous = week.figures["current"], week.figures["previous"]
    words, diff = cards.change_words(card, current, previous)
    if not diff or previous.get(key) in (None, 0):
        return None
    _, change = cards.change_text(current[key], previous[key], card.kind)
    size = abs(diff) if card.kind == "pct" else abs(diff / previous[key])
    label = _LABELS.get(key, card.label)
    # In a sentence "34 days", not the card's "34 d".
    shown = cards.fmt(current[key], card.kind, currency).replace(" d", " days")
    return size, f"{label} {'up' if diff > 0 else 'down'} {change.lstrip('+-')} to {shown}"


def kpi_headline(week: KpiWeek, currency: str) -> str:
    """The first line: the count or time that moved most, then a rate that missed its target
    (or, all on target, the rate that moved most)."""
    current = week.figures["current"]
    parts = []
    moved = [m for m in (_mover(k, week, currency) for k in _MOVERS) if m]
    if moved:
        parts.append(max(moved, key=lambda m: m[0])[1])
    # A rate on too few claims is no figure (the card greys it): it cannot miss a target.
    missed = [k for k in _RATES if k in week.targets and current.get(k) is not None
              and not cards.thin_now(_CARDS[k], current) and week.targets[k].missed(current[k])]
    if missed:
        k = missed[0]
        parts.append(f"{_lower(_CARDS[k].label)} {cards.fmt(current[k], 'pct')} "
                     f"({week.targets[k].words('pct', currency)})")
    else:
        rates = [m for m in (_mover(k, week, currency) for k in _RATES) if m]
        if rates:
            parts.append(_lower(max(rates, key=lambda m: m[0])[1]))
    if not parts:
        compared = any(cards.change_words(_CARDS[k], current, week.figures["previous"])[1] is not None
                       for k in _MOVERS + _RATES)
        if not compared:  # the first week of data: "little changed" would claim a comparison never made
            return (f"No figures for the week before to compare with; {current['received']:,} claims received, "
                    f"{current['backlog']:,} open at week end.")
        return "Little changed on the week before."
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def dashboard_url(base_url: str, start: dt.date, end: dt.date, *, report: bool = False) -> str:
    # /dashboard and /dashboard/report take the period as ?start=&end= (pages.dashboard).
    return _url(base_url, "/dashboard/report" if report else "/dashboard",
                {"start": start.isoformat(), "end": end.isoformat()})


def kpi_weekly(to: str, name: str | None, week: KpiWeek, *, base_url: str, currency: str) -> Mail:
    current, previous = week.figures["current"], week.figures["previous"]
    before_start, before_end = week.start - dt.timedelta(days=7), week.start - dt.timedelta(days=1)
    lines = []
    for key in KPI_FIGURES:
        card = _CARDS[key]
        words, _ = cards.change_words(card, current, previous)
        target = week.targets.get(key)
        shown = cards.fmt(current.get(key), card.kind, currency)
        note = f"; {target.words(card.kind, currency)}" if target is not None else ""
        lines.append(f"{_LABELS.get(key, card.label)}: {shown} ({words}{note})")
        second = cards.aside_text(card, current, currency)
        if second is not None:  # the card's second figure, worded as on the card
            lines.append(f"  {second[0]}")
    warnings = []
    if week.stale:
        warnings.append(f"Figures not up to date. {week.stale}")
    if week.data_until is not None:
        warnings.append(f"The figures hold claims up to {week.data_until.day} {week.data_until:%b} only: the "
                        "rollups end there.")
    headline = kpi_headline(week, currency)
    body = (f"{_greeting(name)}\n\n{headline}\n\n" + "".join(w + "\n\n" for w in warnings) +
            f"Last week ({_week_words(week.start, week.end)}) against the week before "
            f"({_week_words(before_start, before_end)}), as the dashboard's cards show them:\n\n" +
            "\n".join(lines) +
            f"\n\nThe week on the dashboard:\n{dashboard_url(base_url, week.start, week.end)}"
            f"\n\nThe printable report:\n{dashboard_url(base_url, week.start, week.end, report=True)}"
            "\n\nYou get this summary on Monday mornings. Switch it off under Email notifications on your "
            f"profile:\n{_url(base_url, '/profile')}" + SIGNATURE)
    subject = f"SCOPE weekly summary, {_week_words(week.start, week.end)}" + (
        " (figures not up to date)" if week.stale else "")
    return Mail(to, subject, body)
