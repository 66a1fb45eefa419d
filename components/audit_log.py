"""Admin audit page pieces: the entries table, the pager text, the chain status and a check in progress."""
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
        return dbc.Alert("The hash chain has not been verified yet.", color="secondary",
                         className="mb-0 py-2")
    at = last["at"].astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if last.get("at") else "?"
    by = last.get("actor", "?")
    last = {**last, "actor": "the nightly check" if by == "scheduler" else by}
    if last.get("ok"):
        return dbc.Alert([html.Strong("Chain intact. "),
                          f"{last.get('count', 0):,} entries checked at {at} by {last.get('actor', '?')}."],
                         color="success", className="mb-0 py-2", id="audit-chain-ok")
    where = f"row id {last['broken_id']}" if last.get("broken_id") is not None else "the chain head"
    return dbc.Alert([html.Strong("Chain BROKEN. "),
                      f"First broken link at {where} (seq {last.get('broken_seq')}): {last.get('reason')}. "
                      f"Checked at {at} by {last.get('actor', '?')}."],
                     color="danger", className="mb-0 py-2", id="audit-chain-broken")


VERIFY_JOB = "verify_audit_chain"


def _hm(at) -> str:
    return at.astimezone(dt.UTC).strftime("%H:%M UTC") if at else "?"


def _progress(progress: dict | None):
    if not progress or not progress.get("total"):
        return None
    done, total = int(progress.get("done") or 0), int(progress["total"])
    pct = max(0, min(100, round(100 * done / total)))
    return html.Div([
        dbc.Progress(value=pct, className="my-2", style={"height": "0.6rem"}, id="audit-verify-progress"),
        html.Div(f"{done:,} of {total:,} entries checked ({pct}%)", className="small"),
    ])


def verify_activity(state: dict):
    """A check asked for or under way, or one that never started; None when there is none."""
    kind = state.get("state")
    by = state.get("by") or "?"
    if kind == "running":
        return dbc.Alert([html.Div([dbc.Spinner(size="sm", spinner_class_name="me-2"), html.Strong("Verifying…"),
                                    f" started {_hm(state.get('at'))} "
                                    + ("as the nightly check." if by == "scheduler" else f"by {by}.")]),
                          _progress(state.get("progress"))],
                         color="info", className="mb-2 py-2", id="audit-verify-running")
    if kind == "waiting":
        return dbc.Alert([dbc.Spinner(size="sm", spinner_class_name="me-2"),
                          f"Verification asked for at {_hm(state.get('at'))} by {by}; waiting for the scheduler "
                          "to start it…"], color="info", className="mb-2 py-2", id="audit-verify-waiting")
    if kind == "late":
        return dbc.Alert([html.Strong("Not started. "),
                          f"Verification asked for at {_hm(state.get('at'))} by {by}, but no scheduler has picked "
                          f"it up in {state.get('waited_s', 0):,} s: the scheduler process (",
                          html.Code("scope scheduler"), ") does not seem to be running. If it starts within 15 "
                          "minutes of the request, so does the check; ", html.Code("scope audit verify"),
                          " on the server checks the chain without it."],
                         color="warning", className="mb-2 py-2", id="audit-verify-late")
    if kind == "lapsed":
        return dbc.Alert(f"The verification asked for at {_hm(state.get('at'))} by {by} never started: no "
                         "scheduler picked it up within 15 minutes.", color="warning", className="mb-2 py-2",
                         id="audit-verify-lapsed")
    ended = state.get("ended")
    if ended and ended.get("status") not in ("succeeded", "skipped") and ended.get("error") and \
            not ended["error"].startswith("BROKEN"):
        return dbc.Alert(f"The verification asked for by {ended.get('by', '?')} (started {_hm(ended.get('at'))}) "
                         f"did not finish: {ended['error'][:300]}", color="danger", className="mb-2 py-2",
                         id="audit-verify-failed")
    return None


def verify_busy(state: dict) -> bool:
    """Whether the page should keep looking (a check waiting or running)."""
    return state.get("state") in ("running", "waiting", "late")


def chain_panel(state: dict, last: dict | None):
    return html.Div([verify_activity(state), chain_status(last)])
