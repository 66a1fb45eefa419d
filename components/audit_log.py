"""Admin audit page pieces: the entries table, the pager text and the chain status."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import html

DETAIL_CHARS = 160


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS - 1] + "…"


def _target(r: dict):
    name = r.get("target_name")
    if not name:
        return r["target"]
    if r.get("target_type") == "claim":
        shown = html.A(name, href="/claims/" + quote(name, safe=""), className="claim-link")
    else:
        shown = html.Span(name, className="text-muted")
    return html.Div([html.Div(r["target"]), html.Div(shown, className="audit-target-name")])


def entries_table(rows: list[dict]):
    if not rows:
        return html.P("No audit entries match these filters.", className="text-muted my-4 text-center")
    head = html.Thead(html.Tr([html.Th(h) for h in ("#", "Time (UTC)", "Actor", "Action", "Target", "Change", "IP")]))
    body = []
    for r in rows:
        change = " → ".join(x for x in (r["before"], r["after"]) if x)
        body.append(html.Tr([
            html.Td(r["seq"], className="text-muted small"),
            html.Td(r["at"], className="text-nowrap small"),
            html.Td(r["actor"], className="small"),
            html.Td(html.Code(r["action"]), className="text-nowrap"),
            html.Td(_target(r), className="small text-nowrap"),
            # Plain text children: Dash escapes them, so logged input never renders as HTML.
            html.Td(_short(change), className="small text-muted audit-change", title=change[:2000]),
            html.Td(r["ip"], className="small text-nowrap"),
        ]))
    return dbc.Table([head, html.Tbody(body)], hover=True, responsive=True, size="sm", className="mb-0 audit-table")


def pager_text(page: int, page_size: int, total: int) -> str:
    if total == 0:
        return "0 entries"
    first, last = page * page_size + 1, min(total, (page + 1) * page_size)
    return f"{first:,}–{last:,} of {total:,} entries"


def chain_status(last: dict | None):
    """The newest verification result, or a prompt to run one."""
    if last is None:
        return dbc.Alert("The hash chain has not been verified from this page yet.", color="secondary",
                         className="mb-0 py-2")
    at = last["at"].astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if last.get("at") else "?"
    if last.get("ok"):
        return dbc.Alert([html.Strong("Chain intact. "),
                          f"{last.get('count', 0):,} entries checked at {at} by {last.get('actor', '?')}."],
                         color="success", className="mb-0 py-2", id="audit-chain-ok")
    where = f"row id {last['broken_id']}" if last.get("broken_id") is not None else "the chain head"
    return dbc.Alert([html.Strong("Chain BROKEN. "),
                      f"First broken link at {where} (seq {last.get('broken_seq')}): {last.get('reason')}. "
                      f"Checked at {at} by {last.get('actor', '?')}."],
                     color="danger", className="mb-0 py-2", id="audit-chain-broken")
