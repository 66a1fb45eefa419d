"""Threshold alerts on the dashboard KPIs: rules, their evaluation and the history.

A rule names a KPI of ``services.aggregates.kpis`` (the very figures the dashboard
shows, read from the rollups), a comparison, a threshold in the KPI's own unit
(a fraction for rates), a period ending today and optionally one department.

``evaluate`` opens an event when a rule starts breaching, keeps it open (last and
worst value) while it breaches and resolves it when it stops. A KPI with no value
(a rate without a denominator, e.g. no feedback yet this week, or with fewer than
``MIN_RATE_SAMPLE`` claims behind it) changes nothing: an absence of data is
neither a breach nor a recovery. Running it twice on the
same rollups changes nothing the second time but the check times.

Editing the terms of a rule, disabling or deleting it resolves its open event
(so an event always describes one set of terms); the next evaluation reopens it
when the new terms are breached. Acknowledging records who saw it and when.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.models import ALERT_COMPARISONS, ALERT_PERIODS, ALERT_SEVERITIES, AlertEvent, AlertRule, AuditLog, Department
from services import aggregates, audit, operations
from services import currency as money


@dataclass(frozen=True)
class Metric:
    key: str  # a key of aggregates.kpis()
    label: str
    kind: str  # pct, count, days or money
    maximum: float  # the largest threshold accepted, in the unit people type


METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("reassignment_rate", "Manual reassignment rate", "pct", 100),
    Metric("backlog", "Open backlog", "count", 100_000_000),
    Metric("sla_breaches", "SLA breaches (closed after the department's service level)", "count", 100_000_000),
    Metric("routing_accuracy", "Routing accuracy", "pct", 100),
    Metric("agreement_rate", "Adjuster agreement", "pct", 100),
    Metric("auto_routed_share", "Routed automatically", "pct", 100),
    Metric("fraud_flagged", "Fraud flagged", "count", 100_000_000),
    Metric("cycle_median", "Median cycle time", "days", 3660),
    Metric("cycle_p90", "P90 cycle time", "days", 3660),
    Metric("received", "Claims received", "count", 100_000_000),
    Metric("closed", "Claims closed", "count", 100_000_000),
    Metric("reserve", "Total reserve", "money", 1e13),
    Metric("paid", "Total paid", "money", 1e13),
    Metric("open_past_sla", "Open claims past their service level (now)", "count", 100_000_000),
    Metric("open_past_sla_share", "Share of open claims past their service level (now)", "pct", 100),
)}
# Figures of the open claims as they are now (the open-claims rollup), not of a period:
# a rule's period does not change them.
NOW_METRICS = frozenset({"open_past_sla", "open_past_sla_share"})
# A rate of a handful of claims is noise: on a Monday morning 6 claims moved against the 1 routed
# so far read as a 600% reassignment rate and opened an alert. Below this many it is no figure.
MIN_RATE_SAMPLE = 20
RATE_DENOMINATORS = {"routing_accuracy": "closed_routed", "reassignment_rate": "routed",
                     "agreement_rate": "feedback_total", "auto_routed_share": "routed"}
PERIOD_LABELS = {"today": "today", "this_week": "this week", "last_7_days": "in the last 7 days",
                 "this_month": "this month"}
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
NAME_MAX = 120
HISTORY_LIMIT = 200
BANNER_LIMIT = 3
_INT_MAX = 2**31 - 1
_SEEDED = "alerts.defaults_seeded"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# (metric, comparison, threshold as typed, period, severity): the product targets.
# The product plan's targets (accuracy > 95%, < 5% manual reassignments, > 90% agreement)
# warn; a critical banner on every page is kept for accuracy falling well short (90%):
# a router running a few points under target is news, not an emergency.
DEFAULT_RULES = (
    ("reassignment_rate", "above", 5, "this_week", "warning"),
    ("routing_accuracy", "below", 95, "last_7_days", "warning"),
    ("routing_accuracy", "below", 90, "last_7_days", "critical"),
    ("agreement_rate", "below", 90, "last_7_days", "warning"),
    ("backlog", "above", 5000, "today", "warning"),
    ("open_past_sla_share", "above", 20, "today", "warning"),
)


class AlertError(ValueError):
    """Rule input or a filter that is not valid (the message is shown as is)."""


class NotFound(LookupError):
    """The rule or alert does not exist (any more)."""


# ---------------------------------------------------------------- units and words

def stored_threshold(metric: str, typed: float) -> float:
    return typed / 100 if METRICS[metric].kind == "pct" else typed


def typed_threshold(metric: str, stored: float) -> float:
    return round(stored * 100, 6) if METRICS[metric].kind == "pct" else stored


def breaches(comparison: str, value: float | None, threshold: float) -> bool:
    if value is None:
        return False
    return value > threshold if comparison == "above" else value < threshold


def period_bounds(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if period == "today":
        return today, today
    if period == "this_week":
        return today - dt.timedelta(days=today.weekday()), today
    if period == "last_7_days":
        return today - dt.timedelta(days=6), today
    if period == "this_month":
        return today.replace(day=1), today
    raise AlertError("Unknown period.")


def _format(value: float, kind: str, currency: str) -> str:
    if kind == "pct":
        return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"
    if kind == "days":
        return f"{value:,.1f}".rstrip("0").rstrip(".") + " days"
    if kind == "money":
        return money.money_short(value, currency)
    return f"{value:,.0f}"


def format_value(value: float, kind: str, currency: str = money.DEFAULT) -> str:
    """A value or threshold in its KPI's own unit, as rule names write it (the alert emails too)."""
    return _format(value, kind, currency)


# ``currency`` (here and below): the deployment's SCOPE_CURRENCY, which names money thresholds
# ("Total reserve above €5.00M this week"); other metrics do without it.
def default_name(metric: str, comparison: str, threshold: float, period: str, currency: str = money.DEFAULT) -> str:
    m = METRICS[metric]
    if metric in NOW_METRICS:  # the label already says "(now)"
        return f"{m.label.removesuffix(' (now)')} {comparison} {_format(threshold, m.kind, currency)} now"[:NAME_MAX]
    return f"{m.label} {comparison} {_format(threshold, m.kind, currency)} {PERIOD_LABELS[period]}"[:NAME_MAX]


def _named_from_terms(rule: AlertRule, currency: str) -> bool:
    """Was the rule's name written from its terms (nobody chose it)? Such a name must
    follow the terms: kept as it was, "… above 20% now" went on naming a 25% rule."""
    return rule.metric in METRICS and rule.period in PERIOD_LABELS and \
        rule.name == default_name(rule.metric, rule.comparison, rule.threshold, rule.period, currency)


# ---------------------------------------------------------------- validation

@dataclass(frozen=True)
class RuleInput:
    name: str
    metric: str
    comparison: str
    threshold: float  # stored unit
    period: str
    department_id: int | None
    severity: str
    enabled: bool

    def terms(self) -> tuple:
        return (self.metric, self.comparison, self.threshold, self.period, self.department_id)


def _choice(raw: dict, key: str, allowed, message: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or value not in allowed:
        raise AlertError(message)
    return value


def _number(value, metric: Metric) -> float:
    if isinstance(value, bool) or value is None or value == "":
        raise AlertError("Enter a threshold.")
    if isinstance(value, str):
        if len(value) > 40:
            raise AlertError("The threshold must be a number.")
        try:
            value = float(value.strip().rstrip("%").replace(",", ""))
        except ValueError:
            raise AlertError("The threshold must be a number.") from None
    if not isinstance(value, (int, float)):
        raise AlertError("The threshold must be a number.")
    try:
        value = float(value)
    except OverflowError:
        raise AlertError("The threshold is too large.") from None
    if not math.isfinite(value):
        raise AlertError("The threshold must be a finite number.")
    if value < 0:
        raise AlertError("The threshold must not be negative.")
    if value > metric.maximum:
        unit = "a percentage between 0 and 100" if metric.kind == "pct" else f"at most {metric.maximum:,.0f}"
        raise AlertError(f"The threshold for {metric.label.lower()} must be {unit}.")
    return value


def rule_id(value) -> int:
    """A rule or event id from the browser: a positive integer, else NotFound."""
    if isinstance(value, bool):
        raise NotFound("That rule no longer exists.")
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        value = int(value)
    if not isinstance(value, int) or not 0 < value <= _INT_MAX:
        raise NotFound("That rule no longer exists.")
    return value


def parse_rule(session: Session, raw, *, currency: str = money.DEFAULT) -> RuleInput:
    """Validate a rule as the browser sent it (thresholds as typed: 5 means 5%)."""
    if not isinstance(raw, dict):
        raise AlertError("The rule must be a set of named values.")
    metric_key = _choice(raw, "metric", METRICS, "Choose a metric from the list.")
    metric = METRICS[metric_key]
    comparison = _choice(raw, "comparison", ALERT_COMPARISONS, "Choose above or below.")
    typed = _number(raw.get("threshold"), metric)
    period = _choice(raw, "period", ALERT_PERIODS, "Choose a period from the list.")
    if metric_key in NOW_METRICS:
        period = "today"  # the open claims now: any other period would only mislabel the rule
    severity = _choice(raw, "severity", ALERT_SEVERITIES, "Choose a severity: info, warning or critical.")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise AlertError("Enabled must be on or off.")
    department_id = None
    code = raw.get("department")
    if code not in (None, ""):
        if not isinstance(code, str) or len(code) > 40:
            raise AlertError("Unknown department.")
        department_id = session.scalar(select(Department.id).where(Department.code == code,
                                                                   Department.active.is_(True)))
        if department_id is None:
            raise AlertError("Unknown department.")
    threshold = stored_threshold(metric_key, typed)
    name = raw.get("name")
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise AlertError("The name must be text.")
    name = " ".join(name.split())
    if _CONTROL.search(name):
        raise AlertError("The name contains characters that are not allowed.")
    if len(name) > NAME_MAX:
        raise AlertError(f"The name must be at most {NAME_MAX} characters.")
    return RuleInput(name or default_name(metric_key, comparison, threshold, period, currency), metric_key, comparison,
                     threshold, period, department_id, severity, enabled)


# ---------------------------------------------------------------- rules

def _snapshot(rule: AlertRule) -> dict:
    return {"name": rule.name, "metric": rule.metric, "comparison": rule.comparison, "threshold": rule.threshold,
            "period": rule.period, "department_id": rule.department_id, "severity": rule.severity,
            "enabled": rule.enabled}


def _get_rule(session: Session, raw_id, *, lock: bool = False) -> AlertRule:
    query = select(AlertRule).where(AlertRule.id == rule_id(raw_id))
    rule = session.scalar(query.with_for_update() if lock else query)
    if rule is None:
        raise NotFound("That rule no longer exists.")
    return rule


def _duplicate(session: Session, data: RuleInput, exclude: int | None) -> None:
    query = select(AlertRule.id).where(
        AlertRule.metric == data.metric, AlertRule.comparison == data.comparison,
        AlertRule.threshold == data.threshold, AlertRule.period == data.period,
        AlertRule.department_id.is_(None) if data.department_id is None
        else AlertRule.department_id == data.department_id)
    if exclude is not None:
        query = query.where(AlertRule.id != exclude)
    if session.scalar(query.limit(1)) is not None:
        raise AlertError("A rule with exactly these terms exists already.")


def _resolve_open(session: Session, rule_id_: int, reason: str, now: dt.datetime) -> bool:
    event = session.scalar(select(AlertEvent).where(AlertEvent.rule_id == rule_id_,
                                                    AlertEvent.resolved_at.is_(None)).with_for_update())
    if event is None:
        return False
    event.resolved_at, event.resolution = now, reason
    return True


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def create_rule(session: Session, raw, *, actor: str, actor_id: int | None = None, evaluate_now: bool = True,
                now: dt.datetime | None = None, currency: str = money.DEFAULT) -> AlertRule:
    data = parse_rule(session, raw, currency=currency)
    _duplicate(session, data, None)
    rule = AlertRule(name=data.name, metric=data.metric, comparison=data.comparison, threshold=data.threshold,
                     period=data.period, department_id=data.department_id, severity=data.severity,
                     enabled=data.enabled, created_by=actor[:254])
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, actor_id=actor_id, action="alert_rule.create", target_type="alert_rule",
                 target_id=rule.id, after=_snapshot(rule))
    if evaluate_now and rule.enabled:
        evaluate(session, rule_ids=[rule.id], now=now)
    return rule


def update_rule(session: Session, raw_id, raw, *, actor: str, actor_id: int | None = None,
                evaluate_now: bool = True, now: dt.datetime | None = None, currency: str = money.DEFAULT) -> AlertRule:
    rule = _get_rule(session, raw_id, lock=True)
    data = parse_rule(session, raw, currency=currency)
    _duplicate(session, data, rule.id)
    before = _snapshot(rule)
    old_terms = (rule.metric, rule.comparison, rule.threshold, rule.period, rule.department_id)
    if data.name == rule.name and _named_from_terms(rule, currency):
        # the written name came back unchanged (an editor or API client that sends every field)
        data = replace(data, name=default_name(data.metric, data.comparison, data.threshold, data.period, currency))
    now = _now(now)
    if old_terms != data.terms():
        _resolve_open(session, rule.id, "rule changed", now)
        rule.last_value = rule.last_checked_at = None
    elif not data.enabled:
        _resolve_open(session, rule.id, "rule disabled", now)
    (rule.name, rule.metric, rule.comparison, rule.threshold, rule.period, rule.department_id, rule.severity,
     rule.enabled) = (data.name, data.metric, data.comparison, data.threshold, data.period, data.department_id,
                      data.severity, data.enabled)
    session.flush()
    open_event = session.scalar(select(AlertEvent).where(AlertEvent.rule_id == rule.id,
                                                         AlertEvent.resolved_at.is_(None)))
    if open_event is not None:  # same terms: a new name or severity shows on the open alert too
        open_event.rule_name, open_event.severity = rule.name, rule.severity
    audit.record(session, actor=actor, actor_id=actor_id, action="alert_rule.update", target_type="alert_rule",
                 target_id=rule.id, before=before, after=_snapshot(rule))
    if evaluate_now and rule.enabled:
        evaluate(session, rule_ids=[rule.id], now=now)
    return rule


def set_enabled(session: Session, raw_id, enabled, *, actor: str, actor_id: int | None = None,
                now: dt.datetime | None = None) -> AlertRule:
    if not isinstance(enabled, bool):
        raise AlertError("Enabled must be on or off.")
    rule = _get_rule(session, raw_id, lock=True)
    if rule.enabled == enabled:
        return rule
    before = _snapshot(rule)
    rule.enabled = enabled
    now = _now(now)
    if not enabled:
        _resolve_open(session, rule.id, "rule disabled", now)
    session.flush()
    audit.record(session, actor=actor, actor_id=actor_id,
                 action="alert_rule.enable" if enabled else "alert_rule.disable", target_type="alert_rule",
                 target_id=rule.id, before=before, after=_snapshot(rule))
    if enabled:
        evaluate(session, rule_ids=[rule.id], now=now)
    return rule


def delete_rule(session: Session, raw_id, *, actor: str, actor_id: int | None = None,
                now: dt.datetime | None = None) -> None:
    """Delete a rule; its history stays (events keep a copy of the terms)."""
    rule = _get_rule(session, raw_id, lock=True)
    _resolve_open(session, rule.id, "rule deleted", _now(now))
    before, deleted_id = _snapshot(rule), rule.id
    session.flush()
    session.delete(rule)
    session.flush()
    audit.record(session, actor=actor, actor_id=actor_id, action="alert_rule.delete", target_type="alert_rule",
                 target_id=deleted_id, before=before)


def ensure_default_rules(session: Session) -> int:
    """Create the default rules once per database (an audit entry remembers it,
    so rules a manager deleted are not brought back); returns how many."""
    if session.scalar(select(AuditLog.id).where(AuditLog.action == _SEEDED).limit(1)) is not None:
        return 0
    if session.scalar(select(AlertRule.id).limit(1)) is not None:
        return 0
    created = []
    for metric, comparison, typed, period, severity in DEFAULT_RULES:
        threshold = stored_threshold(metric, typed)
        rule = AlertRule(name=default_name(metric, comparison, threshold, period), metric=metric,
                         comparison=comparison, threshold=threshold, period=period, severity=severity,
                         enabled=True, created_by="system")
        session.add(rule)
        created.append(rule)
    session.flush()
    audit.record(session, actor="system", action=_SEEDED, target_type="alert_rule",
                 after={"rules": [r.id for r in created]})
    return len(created)


@dataclass
class RuleView:
    id: int
    name: str
    metric: str
    metric_label: str
    kind: str
    comparison: str
    threshold: float
    threshold_typed: float
    period: str
    department_code: str | None
    department_name: str | None
    department_color: str | None
    severity: str
    enabled: bool
    last_value: float | None
    last_checked_at: dt.datetime | None
    breaching: bool


def _departments(session: Session) -> dict[int, Department]:
    return {d.id: d for d in session.scalars(select(Department))}


def list_rules(session: Session) -> list[RuleView]:
    departments = _departments(session)
    open_rules = set(session.scalars(select(AlertEvent.rule_id).where(AlertEvent.resolved_at.is_(None))))
    out = []
    for r in session.scalars(select(AlertRule).order_by(AlertRule.enabled.desc(), AlertRule.name, AlertRule.id)):
        m = METRICS.get(r.metric)
        d = departments.get(r.department_id) if r.department_id else None
        out.append(RuleView(r.id, r.name, r.metric, m.label if m else r.metric, m.kind if m else "count",
                            r.comparison, r.threshold, typed_threshold(r.metric, r.threshold) if m else r.threshold,
                            r.period, d.code if d else None, d.name if d else None, d.color if d else None,
                            r.severity, r.enabled, r.last_value, r.last_checked_at, r.id in open_rules))
    return out


def rule_form_values(session: Session, raw_id, *, currency: str = money.DEFAULT) -> dict:
    """What the editor shows for a rule (thresholds as typed)."""
    rule = _get_rule(session, raw_id)
    code = session.scalar(select(Department.code).where(Department.id == rule.department_id)) \
        if rule.department_id else None
    # A name written from the terms shows as empty ("Written from the condition when empty"),
    # so a changed threshold renames the rule instead of keeping the old figure in its name.
    return {"id": rule.id, "name": "" if _named_from_terms(rule, currency) else rule.name, "metric": rule.metric,
            "comparison": rule.comparison,
            "threshold": typed_threshold(rule.metric, rule.threshold), "period": rule.period,
            "department": code, "severity": rule.severity, "enabled": rule.enabled}


def rule_name(session: Session, raw_id) -> str:
    """The rule's name as the rules table shows it (the editor leaves a name written from the
    terms empty: a question naming the rule takes this one)."""
    return _get_rule(session, raw_id).name


def department_options(session: Session) -> list[dict]:
    return [{"code": d.code, "name": d.name, "color": d.color}
            for d in session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.name))]


# ---------------------------------------------------------------- evaluation

def rule_value(session: Session, metric: str, period: str, department_id: int | None, today: dt.date,
               cache: dict | None = None) -> tuple[float | None, dt.date, dt.date]:
    """The KPI as the dashboard computes it for that period and department (for
    ``NOW_METRICS``, the open claims now, as Operations counts them)."""
    if metric in NOW_METRICS:
        open_claims, past = operations.open_past_sla(session, today=today, department_id=department_id)
        if metric == "open_past_sla":
            return float(past), today, today
        return (past / open_claims if open_claims else None), today, today
    start, end = period_bounds(period, today)
    key = (start, end, department_id)
    if cache is None or key not in cache:
        figures = aggregates.kpis(session, aggregates.Filters(start, end, department_id))
        if cache is not None:
            cache[key] = figures
    else:
        figures = cache[key]
    value = figures[metric]
    if metric in RATE_DENOMINATORS and figures[RATE_DENOMINATORS[metric]] < MIN_RATE_SAMPLE:
        value = None
    return (None if value is None else float(value)), start, end


def _worse(comparison: str, a: float, b: float) -> float:
    return max(a, b) if comparison == "above" else min(a, b)


def evaluate(session: Session, *, now: dt.datetime | None = None, rule_ids: list[int] | None = None) -> dict:
    """Check enabled rules against the rollups; returns counts of what changed."""
    now = _now(now)
    today = now.astimezone(dt.UTC).date()
    query = select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id)
    if rule_ids is not None:
        query = query.where(AlertRule.id.in_(rule_ids))
    # Row locks: a rule edited while it is evaluated waits, so an event never
    # mixes old and new terms.
    rules = session.scalars(query.with_for_update()).all()
    events = {e.rule_id: e for e in session.scalars(
        select(AlertEvent).where(AlertEvent.resolved_at.is_(None),
                                 AlertEvent.rule_id.in_([r.id for r in rules])).with_for_update())}
    counts = {"rules": len(rules), "opened": 0, "kept": 0, "resolved": 0, "no_data": 0}
    cache: dict = {}
    for rule in rules:
        if rule.metric not in METRICS:
            counts["no_data"] += 1
            continue
        value, start, end = rule_value(session, rule.metric, rule.period, rule.department_id, today, cache)
        rule.last_value, rule.last_checked_at = value, now
        event = events.get(rule.id)
        if value is None:
            counts["no_data"] += 1
            if event is not None:
                event.last_checked_at = now
                # No figure is no recovery, but an event must not outlive what it measured: last
                # week's breach read as "this week" all week, and a rate now too thin to measure
                # (the 600% of 6 moves over 1 claim) stayed "Breaching" for good.
                ended = event.period_start is not None and event.period_start != start
                if ended or rule.metric in RATE_DENOMINATORS:
                    event.resolved_at = now
                    event.resolution = "period ended" if ended else "too little to measure"
                    counts["resolved"] += 1
            continue
        if breaches(rule.comparison, value, rule.threshold):
            if event is None:
                session.add(AlertEvent(
                    rule_id=rule.id, rule_name=rule.name, metric=rule.metric, comparison=rule.comparison,
                    threshold=rule.threshold, period=rule.period, department_id=rule.department_id,
                    severity=rule.severity, opened_at=now, opened_value=value, last_value=value,
                    worst_value=value, last_checked_at=now, period_start=start, period_end=end))
                counts["opened"] += 1
            else:
                event.last_value, event.last_checked_at = value, now
                event.worst_value = _worse(rule.comparison, event.worst_value, value)
                event.period_start, event.period_end = start, end
                counts["kept"] += 1
        elif event is not None:
            event.last_value, event.last_checked_at = value, now
            event.period_start, event.period_end = start, end
            event.resolved_at, event.resolution = now, "recovered"
            counts["resolved"] += 1
    # Open events whose rule went away or was switched off outside this module.
    if rule_ids is None:
        for event in session.scalars(select(AlertEvent).join(AlertRule, AlertRule.id == AlertEvent.rule_id,
                                                             isouter=True)
                                     .where(AlertEvent.resolved_at.is_(None),
                                            (AlertRule.id.is_(None)) | (AlertRule.enabled.is_(False)))
                                     .with_for_update(of=AlertEvent)):
            event.resolved_at = now
            event.resolution = "rule deleted" if event.rule_id is None else "rule disabled"
            counts["resolved"] += 1
    session.flush()
    return counts


# ---------------------------------------------------------------- alerts

@dataclass
class EventView:
    id: int
    rule_id: int | None
    rule_name: str
    metric: str
    metric_label: str
    kind: str
    comparison: str
    threshold: float
    period: str
    department_name: str | None
    department_color: str | None
    severity: str
    opened_at: dt.datetime
    opened_value: float
    last_value: float
    worst_value: float
    last_checked_at: dt.datetime
    period_start: dt.date
    period_end: dt.date
    resolved_at: dt.datetime | None
    resolution: str | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None


def _views(session: Session, events) -> list[EventView]:
    events = list(events)
    departments = _departments(session) if any(e.department_id for e in events) else {}
    out = []
    for e in events:
        m = METRICS.get(e.metric)
        d = departments.get(e.department_id) if e.department_id else None
        out.append(EventView(e.id, e.rule_id, e.rule_name, e.metric, m.label if m else e.metric,
                             m.kind if m else "count", e.comparison, e.threshold, e.period, d.name if d else None,
                             d.color if d else None, e.severity, e.opened_at, e.opened_value, e.last_value,
                             e.worst_value, e.last_checked_at, e.period_start, e.period_end, e.resolved_at,
                             e.resolution, e.acknowledged_at, e.acknowledged_by))
    return out


_SEVERITY_ORDER = case({"critical": 0, "warning": 1}, value=AlertEvent.severity, else_=2)


def open_alerts(session: Session) -> list[EventView]:
    return _views(session, session.scalars(select(AlertEvent).where(AlertEvent.resolved_at.is_(None))
                                           .order_by(_SEVERITY_ORDER, AlertEvent.opened_at.desc())))


def banner_alerts(session: Session, limit: int = BANNER_LIMIT) -> tuple[list[EventView], int]:
    """Unacknowledged open alerts, worst first, and how many there are in all.
    Reads only open events (a partial index), never the rollups."""
    where = (AlertEvent.resolved_at.is_(None), AlertEvent.acknowledged_at.is_(None))
    rows = session.scalars(select(AlertEvent).where(*where).order_by(_SEVERITY_ORDER, AlertEvent.opened_at.desc())
                           .limit(limit)).all()
    total = len(rows) if len(rows) < limit else session.scalar(select(func.count(AlertEvent.id)).where(*where))
    return _views(session, rows), int(total)


def acknowledge(session: Session, raw_id, *, actor: str, actor_id: int | None = None,
                now: dt.datetime | None = None) -> AlertEvent:
    try:
        event_id = rule_id(raw_id)
    except NotFound:
        raise NotFound("That alert no longer exists.") from None
    event = session.scalar(select(AlertEvent).where(AlertEvent.id == event_id).with_for_update())
    if event is None:
        raise NotFound("That alert no longer exists.")
    if event.resolved_at is not None:
        raise AlertError("That alert is resolved already.")
    if event.acknowledged_at is not None:
        return event
    event.acknowledged_at, event.acknowledged_by, event.acknowledged_by_id = _now(now), actor[:254], actor_id
    session.flush()
    audit.record(session, actor=actor, actor_id=actor_id, action="alert.acknowledge", target_type="alert_event",
                 target_id=event.id, after={"rule_id": event.rule_id, "rule": event.rule_name,
                                            "value": event.last_value})
    return event


HISTORY_STATUSES = ("all", "open", "resolved")


def history(session: Session, *, status="all", severity=None, metric=None, limit: int = HISTORY_LIMIT
            ) -> list[EventView]:
    """Alert events, newest first, filtered (values from the browser are checked)."""
    if status in (None, ""):
        status = "all"
    if not isinstance(status, str) or status not in HISTORY_STATUSES:
        raise AlertError("Unknown status filter.")
    query = select(AlertEvent)
    if status == "open":
        query = query.where(AlertEvent.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(AlertEvent.resolved_at.is_not(None))
    if severity not in (None, ""):
        if not isinstance(severity, str) or severity not in ALERT_SEVERITIES:
            raise AlertError("Unknown severity filter.")
        query = query.where(AlertEvent.severity == severity)
    if metric not in (None, ""):
        if not isinstance(metric, str) or metric not in METRICS:
            raise AlertError("Unknown metric filter.")
        query = query.where(AlertEvent.metric == metric)
    limit = max(1, min(int(limit), HISTORY_LIMIT))
    return _views(session, session.scalars(query.order_by(AlertEvent.opened_at.desc(), AlertEvent.id.desc())
                                           .limit(limit)))
