"""Fraud alerts: the list, the decision dialog and the claim page's card.
Pure functions of services.fraud_alerts values."""
from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.common import dept_badge, message, stat
from components.siu_cases import case_href
from services.currency import money, money_short
from services.fraud_alerts import STATUS_LABELS
from services.siu_cases import OUTCOME_LABELS

SIGNAL_COLORS = {"ring": "danger", "linked_fraud": "danger", "model": "warning", "flagged": "info"}
NOTE_MAX = 1000
EMPTY = {"open": "No open alerts on the claims you can open.", "referred": "No claims referred to SIU from an alert.",
         "dismissed": "No dismissed alerts.", "withdrawn": "No withdrawn alerts (their signals went away, or the "
         "claim closed or reached SIU another way)."}


def claim_href(number: str) -> str:
    return "/claims/" + quote(number, safe="")


def alerts_href(status: str = "open", claim: str | None = None, page: int = 1) -> str:
    query = {"status": status} if status != "open" else {}
    if claim:
        query["claim"] = claim
    if page > 1:
        query["page"] = str(page)
    return "/fraud-alerts" + ("?" + urlencode(query) if query else "")


def fraud_tabs(active: str, *, cases: bool = False) -> dbc.Nav:
    """Fraud alerts, Rings and (for those who read them) SIU cases: one "Fraud" entry in the navigation bar."""
    tabs = [("alerts", "Alerts", "/fraud-alerts"), ("rings", "Rings", "/rings")]
    tabs += [("cases", "Cases", "/siu-cases")] if cases else []
    return dbc.Nav([dbc.NavItem(dbc.NavLink(label, href=href, active=key == active, id=f"fraud-nav-{key}"))
                    for key, label, href in tabs], className="nav-underline mb-3", id="fraud-nav")


def status_tabs(status: str, tallies: dict | None, claim: str | None) -> dbc.Nav:
    return dbc.Nav([dbc.NavItem(dbc.NavLink(
        [label, dbc.Badge(f"{tallies[s]:,}", color="light", text_color="dark", className="ms-2")
         if tallies else None],
        href=alerts_href(s, claim), active=s == status, id=f"fraud-tab-{s}"))
        for s, label in STATUS_LABELS.items()], pills=True, className="mb-3 gap-1")


def summary(status: str, tallies: dict | None, claim: str | None, alerts: list, total: int, code: str,
            totals: tuple[float, int] | None = None) -> list:
    """The status tabs with their counts and, on the open tab, the figures of the whole
    list (``totals``: claimed, alerts with two or more kinds of signal): redrawn with the
    list after each decision, so the two never disagree."""
    if status != "open" or not alerts or claim is not None:
        return [status_tabs(status, tallies, claim)]
    claimed, multi = totals if totals is not None else (sum(a.claimed or 0 for a in alerts),
                                                        sum(a.kinds > 1 for a in alerts))
    stats = html.Div([
        stat("Open alerts", f"{total:,}"),
        stat("Claimed on them", money_short(claimed, code)),
        stat("With two or more kinds of signal", f"{multi:,}"),
    ], className="d-flex flex-wrap gap-4 mb-3", id="fraud-stats")
    return [status_tabs(status, tallies, claim), stats]


def signal_lines(signals) -> html.Ul:
    items = []
    for s in signals:
        text = html.A(s.text, href=s.href, className="claim-link") if s.href else html.Span(s.text)
        named = [html.A(number, href=href, className="claim-link ms-1 text-nowrap") for number, href in s.claims]
        if s.more:
            named.append(html.Span(f" and {s.more} more", className="text-muted"))
        items.append(html.Li([dbc.Badge(s.label, color=SIGNAL_COLORS.get(s.kind, "secondary"),
                                        className="me-2 fraud-signal-badge"), text, *named],
                             className="mb-1"))
    return html.Ul(items, className="list-unstyled mb-0 small fraud-signals")


def _probability(p) -> str:
    return "—" if p is None else f"{p:.0%}"


def _case_line(case) -> html.Div:
    """What SIU made of a referral: its case and, once closed, the outcome."""
    key, status, outcome = case
    state = "open" if status == "open" else OUTCOME_LABELS.get(outcome, "closed").lower()
    return html.Div(["Case ", html.A(key, href=case_href(key), className="claim-link"), f": {state}"],
                    className="fraud-case-line mt-1")


def _decided(a) -> html.Div:
    return html.Div([html.Div(a.decided_by, className="fw-semibold") if a.decided_by else None,
                     html.Div(f"{(a.decided_at or a.raised_at):%Y-%m-%d %H:%M} UTC", className="text-nowrap"),
                     html.Div(a.decision_note, className="text-muted fraud-decision-note") if a.decision_note
                     else None,
                     _case_line(a.case) if a.case else None], className="small")


def _actions(a) -> html.Div:
    # No Dash ids: Dash calls a callback whose inputs appear in a redrawn part of the page (the
    # list, after each decision), so a pattern-matching callback on these buttons posted every
    # button of the page at each redraw. assets/61-fraud-alerts.js puts the clicked alert in the
    # page's "fraud-ask" store, which opens the dialog (callbacks/fraud_alerts.open_dialog).
    key = {"data-alert": str(a.id), "data-version": str(a.version), "data-claim": a.claim_number}
    return html.Div([
        html.Button("Refer to SIU", type="button", className="btn btn-primary btn-sm text-nowrap",
                    **{"data-fraud-decide": "refer", **key}),
        html.Button("Dismiss", type="button", className="btn btn-outline-secondary btn-sm",
                    **{"data-fraud-decide": "dismiss", **key}),
    ], className="d-flex flex-column gap-1")


def alerts_table(alerts: list, code: str, *, status: str, can_decide: bool) -> dbc.Table:
    deciding = can_decide and status == "open"
    last = "Raised" if status == "open" else "Decided" if status in ("referred", "dismissed") else "Withdrawn"
    head = ["Claim", "Department", "Reported", "Claimed", "Signals", "SIU %", last] + ([""] if deciding else [])
    rows = []
    for a in alerts:
        values = [
            ([html.A(a.claim_number, href=claim_href(a.claim_number), className="claim-link text-nowrap"),
              html.Div(a.claim_status.replace("_", " ").capitalize(), className="small text-muted")], None),
            (dept_badge(a.department, a.department_color) if a.department else "—", None),
            (f"{a.report_date:%Y-%m-%d}" if a.report_date else "—", "small text-nowrap"),
            (money(a.claimed, code) if a.claimed is not None else "—", "text-end text-nowrap"),
            (signal_lines(a.signals), "fraud-signals-cell"),
            (_probability(a.siu_probability), "text-end"),
            (html.Span(f"{a.raised_at:%Y-%m-%d}", title=f"{a.raised_at:%Y-%m-%d %H:%M} UTC")
             if status == "open" else _decided(a), "small text-nowrap" if status == "open" else ""),
        ] + ([(_actions(a), None)] if deciding else [])
        # data-label: on a phone each row is a block of labelled lines (assets/10-scope.css), not
        # a table whose signals and buttons sat off the screen's right edge.
        rows.append(html.Tr([html.Td(v, className=c, **{"data-label": h}) for (v, c), h in zip(values, head)],
                            id=f"fraud-alert-{a.id}"))
    heads = [html.Th(h, title=SIU_HELP if h == "SIU %" else None) for h in head]
    return dbc.Table([html.Thead(html.Tr(heads)), html.Tbody(rows)], hover=True, responsive=True,
                     className="mb-0 align-middle stack-on-phone", id="fraud-alerts-table")


SIU_HELP = "The router's probability that the claim belongs with Special Investigations"


def _pages(shown: int, total: int, *, status: str, page: int, per_page: int) -> html.Div | None:
    if total <= shown and page == 1:
        return None
    first = (page - 1) * per_page + 1
    links = [html.A("← Previous", href=alerts_href(status, page=page - 1), id="fraud-page-prev")
             if page > 1 else None,
             html.A("Next →", href=alerts_href(status, page=page + 1), id="fraud-page-next")
             if first + shown - 1 < total else None]
    return html.Div([html.Span(f"Showing {first:,}–{first + shown - 1:,} of {total:,}", className="me-3"), *links],
                    className="small text-muted mt-2 d-flex gap-3", id="fraud-pages")


SIU_ONLY_EMPTY = ("Alerts are raised on claims outside Special Investigations, and you work only its queue, so "
                  "no open alert is yours to read. The claims referred to Special Investigations are worked on "
                  "the Cases tab; the Referred to SIU tab lists the referrals that reached your queue.")


def list_body(alerts, total: int, code: str, *, status: str, can_decide: bool, page: int = 1, per_page: int = 50,
              siu_only: bool = False):
    """The list part of the page, also redrawn after a decision. ``siu_only``: the reader works
    only the SIU queue, where no alert is ever open (alerts are on claims outside it)."""
    if not alerts and total and page > 1:
        return message("Past the last page", f"There are {total:,} alerts here; the last page is "
                       f"{(total + per_page - 1) // per_page}.", color="info")
    if not alerts:
        if siu_only and status == "open":
            return html.Div([message("Nothing here", SIU_ONLY_EMPTY, color="info"),
                             html.A("Go to the SIU cases →", href="/siu-cases", className="btn btn-primary btn-sm",
                                    id="fraud-go-cases")])
        return message("Nothing here", EMPTY[status], color="info")
    return dbc.Card(dbc.CardBody([
        alerts_table(alerts, code, status=status, can_decide=can_decide),
        _pages(len(alerts), total, status=status, page=page, per_page=per_page),
    ]), className="shadow-sm")


def ring_referral(key: str, n: int) -> dbc.Card:
    """A manager's "refer the whole ring" form on a ring's page."""
    return dbc.Card(dbc.CardBody([
        dcc.Store(id="ring-refer-key", data=key),
        html.H5("Refer the ring to SIU", className="card-title"),
        html.P(f"{n} open claim{'s' if n != 1 else ''} of this ring outside Special Investigations move to its "
               "queue, unassigned, in one move; their open fraud alerts become referred. A ring is a lead: "
               "refer it when its links hold up.", className="small text-muted"),
        dbc.Textarea(id="ring-refer-note", maxLength=NOTE_MAX, rows=2,
                     placeholder="Note for the investigators (optional)"),
        html.Button(f"Refer {n} claim{'s' if n != 1 else ''} to SIU", id="ring-refer-submit",
                    className="btn btn-primary btn-sm mt-2"),
        html.Div(id="ring-refer-msg", className="mt-2"),
    ]), className="shadow-sm mb-4", id="ring-refer")


def decision_modal() -> html.Div:
    return html.Div([
        dcc.Store(id="fraud-ask"),       # the row's button just clicked (assets/61-fraud-alerts.js)
        dcc.Store(id="fraud-pending"),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle(id="fraud-modal-title")),
            dbc.ModalBody([
                html.P(id="fraud-modal-text", className="small"),
                dbc.Label("Note", html_for="fraud-modal-note", id="fraud-modal-note-label"),
                dbc.Textarea(id="fraud-modal-note", maxLength=NOTE_MAX, rows=3,
                             placeholder="What you checked, and why"),
                html.Div(id="fraud-modal-msg", className="mt-2"),
            ]),
            dbc.ModalFooter([
                html.Button("Cancel", id="fraud-modal-cancel", className="btn btn-outline-secondary"),
                html.Button("Confirm", id="fraud-modal-confirm", className="btn btn-primary"),
            ]),
        ], id="fraud-modal", is_open=False),
    ])


def modal_text(action: str, claim: str) -> tuple[str, str, str]:
    """Title, explanation and note label of the dialog for one action."""
    if action == "refer":
        return (f"Refer {claim} to Special Investigations",
                "The claim moves to the Special Investigations queue, unassigned, as a referral from a fraud "
                "alert with your note. It shows in the claim's history and teaches the router, like any move.",
                "Note for the investigators (optional)")
    return (f"Dismiss the alert on {claim}",
            "The claim stays where it is. The same kinds of signal will not raise it again; a new kind, or "
            "someone flagging it, will.", "Why you dismiss it (required)")


def alert_card(alert, *, can_decide: bool, can_flag: bool, claim_number: str, notice=None) -> dbc.Card | None:
    """The claim page's card: the claim's alert as the user may read it, and the flag form."""
    body = []
    if alert is not None:
        color = {"open": "danger", "referred": "primary"}.get(alert.status, "secondary")
        body += [html.Div([dbc.Badge(alert.status_label, color=color, className="me-2", id="fraud-card-status"),
                           html.Span(f"raised {alert.raised_at:%Y-%m-%d %H:%M} UTC", className="small text-muted")],
                          className="mb-2"),
                 signal_lines(alert.signals)]
        if alert.status in ("referred", "dismissed") and alert.decided_by:
            body.append(html.Div(f"{alert.status_label} by {alert.decided_by}"
                                 + (f": “{alert.decision_note}”" if alert.decision_note else ""),
                                 className="small text-muted mt-2"))
    deciding = can_decide and alert is not None and alert.status == "open"
    if deciding:
        # Decided here as on the Fraud alerts page (same service, same checks).
        body.append(html.Div([
            dcc.Store(id="fraud-claim-alert", data={"alert": alert.id, "version": alert.version}),
            dbc.Label("Your decision", html_for="fraud-claim-note", className="small fw-semibold mb-1"),
            dbc.Textarea(id="fraud-claim-note", maxLength=NOTE_MAX, rows=2,
                         placeholder="Why (needed to dismiss; for the investigators when you refer)"),
            html.Div([
                html.Button("Refer to SIU", id="fraud-claim-refer", className="btn btn-primary btn-sm"),
                html.Button("Dismiss", id="fraud-claim-dismiss", className="btn btn-outline-secondary btn-sm"),
            ], className="d-flex gap-2 mt-2"),
            html.Div(id="fraud-claim-msg", className="mt-2"),
        ], className="mt-3"))
    if can_flag and not deciding:
        body.append(html.Div([
            dbc.Label("Ask for an SIU review" if alert is None or alert.status != "open" else "Add your concern",
                      html_for="fraud-flag-note", className="small fw-semibold mb-1"),
            dbc.Textarea(id="fraud-flag-note", maxLength=NOTE_MAX, rows=2,
                         placeholder="What looks wrong (e.g. story changed, documents altered)"),
            html.Button("Flag for SIU review", id="fraud-flag-submit", className="btn btn-outline-danger btn-sm mt-2"),
            html.Div(id="fraud-flag-msg", className="mt-2"),
        ], className="mt-3" if body else ""))
    if not body:
        return None
    return dbc.Card(dbc.CardBody([html.H6("Fraud alert", className="card-title"), notice, *body]),
                    className="shadow-sm mb-4", id="fraud-card")
