"""The notification emails' wording (services.notifications sends them). Plain text, like
the account emails: links are shown whole, so a person can see where they point."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from services import alerts
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
