"""What the executive dashboard's exports hold besides its breakdowns: the headline
figures (the KPI cards, with the period and filters) and the drill-down's claims in
the words the screen uses ("Auto", "New"; the stored codes are "auto", "new")."""
from __future__ import annotations

from components.kpis import CARDS, _delta, aside, thin_base
from services.aggregates import CYCLE_CAP
from services.exports import Table

HEADLINE_TITLE = "Headline figures"
_KINDS = {"count": "int", "days": "int", "pct": "pct", "money": "money"}  # a card's kind -> services.exports'


def line_name(code: str | None) -> str:
    """A line of business as the drill-down shows it: 'Workers Comp' for 'workers_comp'."""
    return (code or "").replace("_", " ").title()


def status_name(code: str | None) -> str:
    """A status as the drill-down shows it: 'In progress' for 'in_progress'."""
    return (code or "").replace("_", " ").capitalize()


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    children = children if isinstance(children, list) else [children]
    return "".join(_text(c) for c in children)


def _unit(card, current: dict, currency: str) -> str:
    if card.kind == "money":
        return currency
    if card.kind == "days":
        value = current.get(card.key)
        return f"days (at least: counted up to {CYCLE_CAP:,})" if value is not None and value >= CYCLE_CAP else "days"
    if card.kind == "pct":
        n = current.get(card.base[0]) if card.base else None
        return f"share (0-1) of {n:,} {card.base[1]}" if n is not None else "share (0-1)"
    return "claims"


def headline_table(current: dict, previous: dict, filters: list[tuple[str, str]], compared: str,
                   currency: str) -> Table:
    """The KPI cards as rows (figure, value, previous period, change as the card words it,
    unit, definition), after the period and filters they are for. Where a card shows no
    change against the previous period (a rate on too few claims, money still being paid)
    the previous figure is left out too. ``filters``: services.dashboard.describe_filters;
    ``compared``: the previous period's dates."""
    columns = [("figure", "Figure", "text"), ("value", "Value", "row"), ("previous", "Previous period", "row"),
               ("change", "Change", "text"), ("unit", "Unit", "text"), ("definition", "Definition", "text")]
    rows = [{"figure": name, "value": value, "kind": "text"} for name, value in filters]
    rows.append({"figure": "Compared with", "value": compared, "kind": "text"})
    for card in CARDS:
        now, before = current.get(card.key), previous.get(card.key)
        instead = thin_base(card, current, previous)  # too few claims, or periods not alike: the card compares not
        change = instead or _delta(now, before, card.kind, card.better, currency)
        rows.append({"figure": card.label, "value": now, "previous": None if instead is not None else before,
                     "kind": _KINDS.get(card.kind, "int"),
                     "change": _text(change).removesuffix("vs prev.").strip(),
                     "unit": _unit(card, current, currency), "definition": card.help})
        second = aside(card, current, currency)
        if second is not None:  # the card's second figure, as the card words it
            key, count, words = card.aside
            rows.append({"figure": f"{card.label} without {words}", "value": current.get(key), "previous": None,
                         "kind": _KINDS.get(card.kind, "int"), "change": "",
                         "unit": f"share (0-1); {current.get(count):,} {words} left out",
                         "definition": second.title})
    return Table(HEADLINE_TITLE, columns, rows)


def drill_export_rows(rows: list[dict]) -> list[dict]:
    """The drill-down's claims for a file, with the line and status named as on the screen."""
    return [{**r, "line_of_business": line_name(r.get("line_of_business")), "status": status_name(r.get("status"))}
            for r in rows]
