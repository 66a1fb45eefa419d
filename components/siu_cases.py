"""SIU cases: the list, one case's page, and the cards on the claim and ring pages.
Pure functions of services.siu_case_views values."""
from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.common import dept_badge, message, stat
from components.row_actions import ask_button
from components.timeline import timeline_items
from services.currency import money, money_short
from services.siu_cases import NOTE_MAX, OUTCOME_LABELS, TITLE_MAX

OUTCOME_COLORS = {"confirmed_fraud": "danger", "no_fraud": "success", "inconclusive": "secondary"}


def case_href(key: str, *, done: str | None = None) -> str:
    return "/siu-cases?" + urlencode({"case": key} | ({"done": done} if done else {}))


def cases_href(status: str = "open", *, mine: bool = False, page: int = 1) -> str:
    query = {"status": status} if status != "open" else {}
    if mine:
        query["mine"] = "1"
    if page > 1:
        query["page"] = str(page)
    return "/siu-cases" + ("?" + urlencode(query) if query else "")


def _claim_link(number: str) -> html.A:
    return html.A(number, href="/claims/" + quote(number, safe=""), className="claim-link text-nowrap")


def status_badge(status: str, outcome: str | None, **kw) -> dbc.Badge:
    if status == "open":
        return dbc.Badge("Open", color="primary", **kw)
    return dbc.Badge(OUTCOME_LABELS.get(outcome, "Closed"), color=OUTCOME_COLORS.get(outcome, "secondary"), **kw)


def _task_counts(c, className: str = "") -> html.Div | None:
    """An open case's open tasks, the overdue in red: "3 open tasks · 1 overdue"."""
    if c.status != "open" or not c.open_tasks:
        return None
    return html.Div([f"{c.open_tasks} open task{'s' if c.open_tasks != 1 else ''}",
                     html.Span(f" · {c.overdue_tasks} overdue", className="text-danger fw-semibold")
                     if c.overdue_tasks else None],
                    className=f"small text-muted siu-case-tasks-count {className}".strip())


def cases_table(cases: list, code: str, *, status: str) -> dbc.Table:
    last = "Opened" if status == "open" else "Closed"
    wide = " d-none d-md-table-cell"   # left out on a phone: case, title, claims, status (and saved) fit
    head = [("Case", ""), ("Title", wide.strip()), ("Lead", wide), ("Claims", ""), ("Claimed", "text-end" + wide),
            (last, wide), ("Days" if status == "open" else "Took", "text-end" + wide), ("Status", "")]
    head += [("Saved", "text-end")] if status == "closed" else []
    rows = []
    for c in cases:
        when = c.opened_at if status == "open" else (c.closed_at or c.updated_at)
        cells = [
            html.Td([html.A(c.key, href=case_href(c.key), className="claim-link text-nowrap fw-semibold"),
                     html.Div(c.title, className="small text-muted d-md-none"),   # a phone has no Title column
                     _task_counts(c, className="d-md-none")]),
            html.Td([html.Div(c.title, className="siu-case-title"),
                     html.Div(f"from possible ring {c.ring_key}", className="small text-muted")
                     if c.ring_key and c.ring_key not in c.title else None,
                     _task_counts(c)], className=wide.strip()),
            html.Td(c.lead or html.Span("No lead", className="text-muted"), className="text-nowrap" + wide),
            html.Td(f"{c.claims}" + (f" ({c.open_claims} open)" if status == "open" and c.open_claims != c.claims
                                     else ""), className="text-nowrap"),
            html.Td(money(c.claimed, code), className="text-end text-nowrap" + wide),
            html.Td(html.Span(f"{when:%Y-%m-%d}", title=f"{when:%Y-%m-%d %H:%M} UTC"),
                    className="small text-nowrap" + wide),
            html.Td(f"{c.days_open}", className="text-end" + wide),
            html.Td(status_badge(c.status, c.outcome)),
        ]
        if status == "closed":
            cells.append(html.Td(money(c.saved, code) if c.saved is not None else "—",
                                 className="text-end text-nowrap"))
        rows.append(html.Tr(cells, id=f"siu-case-row-{c.key}"))
    return dbc.Table([html.Thead(html.Tr([html.Th(h, className=k or None) for h, k in head])), html.Tbody(rows)],
                     hover=True, responsive=True, className="mb-0 align-middle", id="siu-cases-table")


def list_body(cases, total: int, code: str, *, status: str, mine: bool, page: int, per_page: int):
    if not cases and total and page > 1:
        return message("Past the last page", f"There are {total:,} cases here; the last page is "
                       f"{(total + per_page - 1) // per_page}.", color="info")
    if not cases:
        text = ("No open case" + (" that you lead." if mine else ". Open one from a claim in the Special "
                                  "Investigations queue, from a ring, or below.")) if status == "open" \
            else "No closed case" + (" that you led." if mine else " yet.")
        return message("Nothing here", text, color="info")
    first = (page - 1) * per_page + 1
    pages = html.Div([
        html.Span(f"Showing {first:,}–{first + len(cases) - 1:,} of {total:,}", className="me-3"),
        html.A("← Previous", href=cases_href(status, mine=mine, page=page - 1)) if page > 1 else None,
        html.A("Next →", href=cases_href(status, mine=mine, page=page + 1)) if first + len(cases) - 1 < total
        else None,
    ], className="small text-muted mt-2 d-flex gap-3") if total > len(cases) or page > 1 else None
    return dbc.Card(dbc.CardBody([cases_table(cases, code, status=status), pages]), className="shadow-sm")


def awaiting_list(claims: list, total: int, code: str) -> html.Details | None:
    """The referred claims no case holds yet (the oldest first), folded: each opens its page,
    where "Open a case" and "Add to case" are."""
    if not claims:
        return None
    rows = [html.Li([_claim_link(c.claim_number),
                     html.Span(f" reported {c.report_date:%Y-%m-%d}" if c.report_date else "", className="text-muted"),
                     html.Span(f" · {money(c.claimed, code)}" if c.claimed is not None else "", className="text-muted"),
                     html.Span(f" · {c.adjuster}" if c.adjuster else " · unassigned", className="text-muted")])
            for c in claims]
    more = total - len(claims)
    return html.Details([
        html.Summary(f"{total:,} referred claim{'s' if total != 1 else ''} in no case yet", className="small"),
        html.Ul(rows, className="small mb-1 mt-2 siu-awaiting"),
        html.Div((f"The oldest {len(claims)} of {total:,}. " if more > 0 else "")
                 + "Open a claim to open a case on it or add it to one, or list several with \u201cOpen a case\u201d.",
                 className="small text-muted"),
    ], className="mb-3", id="siu-awaiting")


def open_form() -> html.Details:
    """Open a case from claim numbers (the list page), folded until asked for."""
    return html.Details([html.Summary("Open a case…", className="btn btn-primary btn-sm", id="siu-open-toggle"),
                         dbc.Card(dbc.CardBody([
        html.P("Claims in the Special Investigations queue that are in no case. You lead the case if you belong "
               "to Special Investigations.", className="small text-muted"),
        dbc.Label("Claim numbers", html_for="siu-open-claims", className="small fw-semibold mb-1"),
        dbc.Textarea(id="siu-open-claims", rows=3, maxLength=4000,
                     placeholder="One or more, separated by commas, spaces or lines"),
        dbc.Label("Title (optional)", html_for="siu-open-title", className="small fw-semibold mb-1 mt-2"),
        dbc.Input(id="siu-open-title", maxLength=TITLE_MAX, placeholder="What is being investigated"),
        html.Button("Open case", id="siu-open-submit", className="btn btn-primary btn-sm mt-2"),
        html.Div(id="siu-open-msg", className="mt-2"),
    ]), className="shadow-sm mb-3", id="siu-open-card")], className="siu-open")


# --- One case ----------------------------------------------------------------


def _where_now(c) -> html.Div | None:
    """Under a claim that left the SIU queue: where it went and when (sent back by SIU, or moved
    by someone), then, for a reader who works that department, where it is now if it moved on."""
    if c.in_siu:
        return None
    parts = []
    if c.left_at is not None:
        parts += ["Sent back to " if c.sent_back else "Moved to ", dept_badge(c.left_to, c.left_to_color),
                  f" on {c.left_at:%Y-%m-%d}"]
    if c.department and (c.left_at is None or (c.may_open and c.department != c.left_to)):
        parts += ([" · " ] if parts else []) + ["now in ", dept_badge(c.department, c.department_color)]
    return html.Div(parts, className="small mt-1 siu-claim-left") if parts else None


def claims_table(view, code: str, *, can_edit: bool) -> dbc.Table:
    # No "finding" per claim: the demo's and an import's fraud_label on an open claim is ground
    # truth nobody has found yet; the case's outcome, once closed, is the finding.
    # The Remove buttons have no Dash id: a pattern-matching callback is called again every
    # time this table is drawn (Dash calls a callback whose inputs appear in a new layout
    # part unless all its outputs are inside that part), so assets/60-siu-cases.js opens the
    # page's confirmation with the claim's number and only "Remove from case" calls the server.
    phone_hidden = "d-none d-md-table-cell"
    head = [html.Th("Claim"), html.Th("Status"), html.Th("Adjuster", className=phone_hidden),
            html.Th("Reported", className=phone_hidden), html.Th("Claimed", className="text-end")]
    head += [html.Th("")] if can_edit else []
    rows = []
    hidden = html.Span("—", className="text-muted", title="In a department you do not work")
    for c in view.claims:
        cells = [
            html.Td([_claim_link(c.claim_number) if c.may_open else
                     html.Span(c.claim_number, className="text-nowrap", title="In a department you do not work"),
                     _where_now(c)]),
            html.Td(c.status.replace("_", " ").capitalize() if c.status else hidden, className="small"),
            html.Td(c.adjuster or (html.Span("Unassigned", className="text-muted") if c.status else hidden),
                    className="small " + phone_hidden),
            html.Td(f"{c.report_date:%Y-%m-%d}" if c.report_date else "—",
                    className="small text-nowrap " + phone_hidden),
            html.Td(money(c.claimed, code) if c.claimed is not None else "—", className="text-end text-nowrap"),
        ]
        if can_edit:
            cells.append(html.Td(html.Button("Remove", type="button", title="Take this claim out of the case",
                                             className="btn btn-link btn-sm text-secondary p-0",
                                             **{"data-siu-remove": c.claim_number})
                                 if len(view.claims) > 1 else None, className="text-end"))
        rows.append(html.Tr(cells, className=None if c.in_siu else "siu-claim-away"))
    return dbc.Table([html.Thead(html.Tr(head)), html.Tbody(rows)], hover=True,
                     responsive=True, size="sm", className="mb-0 align-middle", id="siu-case-claims")


def remove_dialog() -> html.Div:
    """The confirmation of "Remove" (drawn once with the page, never redrawn: see claims_table)."""
    return html.Div([
        dcc.Store(id="siu-remove-claim"),
        _confirm_modal("siu-remove", "Take a claim out of the case", [
            html.P(["Take ", html.Strong(id="siu-remove-number"), " out of this case?"], className="mb-2"),
            html.P("It keeps its queue and its finding, and is then in no case; the "
                   "case's activity and the claim's history record the removal. You can add it back with "
                   "Add claims.", className="small text-muted mb-0"),
        ], "Remove from case", "btn-danger"),
    ])


def _confirm_modal(prefix: str, title: str, body, confirm: str, confirm_class: str) -> dbc.Modal:
    """A question drawn once with the page: ids <prefix>-modal, -cancel and -confirm."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(title)),
        dbc.ModalBody(body),
        dbc.ModalFooter([
            html.Button("Cancel", id=f"{prefix}-cancel", type="button", className="btn btn-outline-secondary btn-sm"),
            html.Button(confirm, id=f"{prefix}-confirm", type="button", className=f"btn {confirm_class} btn-sm"),
        ]),
    ], id=f"{prefix}-modal", is_open=False, centered=True)


def activity(view) -> html.Ul | html.P:
    return timeline_items([{"at": e.at, "kind": f"siu-{e.kind}", "title": e.title, "detail": e.detail,
                            "actor": e.actor, "note": e.note} for e in view.events])


def _lead_form(view, choices: list[tuple[int, str]]) -> html.Div:
    options = [{"label": "No lead", "value": 0}] + [{"label": name, "value": uid} for uid, name in choices]
    return html.Div([
        dbc.Label("Lead investigator", html_for="siu-lead", className="small fw-semibold mb-1"),
        html.Div([
            dcc.Dropdown(id="siu-lead", options=options, value=view.lead_id or 0, clearable=False,
                         className="flex-grow-1"),
            html.Button("Set lead", id="siu-lead-submit", className="btn btn-outline-primary btn-sm"),
        ], className="d-flex gap-2 align-items-center"),
    ], className="mb-3")


def _close_form() -> html.Div:
    return html.Div([
        html.H6("Close the case", className="mt-2"),
        dbc.RadioItems(id="siu-outcome", options=[{"label": label, "value": key}
                                                 for key, label in OUTCOME_LABELS.items()],
                       className="small mb-2"),
        dbc.Textarea(id="siu-findings", rows=3, maxLength=NOTE_MAX,
                     placeholder="Findings: what the investigation established, and the evidence (required)"),
        dbc.Label("Saved (optional)", html_for="siu-saved", className="small fw-semibold mb-1 mt-2"),
        dbc.Input(id="siu-saved", inputMode="decimal", maxLength=20, placeholder="Denied, reduced or recovered"),
        dbc.Checklist(id="siu-send-back", options=[{
            "label": "No fraud or inconclusive: send its open claims back to the departments they came from",
            "value": "back"}], value=["back"], className="small mt-2"),
        html.P("Confirmed fraud records every claim of the case as found fraudulent (once closed, such a claim "
               "raises alerts on claims that share its people) and keeps its claims here to be denied; no fraud "
               "records them as not; inconclusive leaves them as they are.", className="small text-muted mt-2 mb-2"),
        html.Button("Close case…", id="siu-close-submit", className="btn btn-primary btn-sm"),
        # Closing records a finding on every claim and may move them out of SIU's sight: it asks first.
        _confirm_modal("siu-close", "Close the case", html.Div(id="siu-close-text"), "Close the case", "btn-primary"),
    ])


def _open_claims_note(view) -> html.Div | None:
    """What is left of a closed case's claims, and whose step it is: those still in SIU are
    closed here from the claim's page; those that left the queue are their departments' work,
    said as they left (where to and when), not as they are now."""
    here = sum(1 for c in view.claims if c.in_siu and c.status != "closed")
    away = [c for c in view.claims if not c.in_siu]
    parts = []
    if here:
        parts.append(f"{here} of its claims {'are' if here != 1 else 'is'} still open in Special Investigations: "
                     f"close {'them' if here != 1 else 'it'} from the claim's page.")
    if away:
        where = ", ".join(dict.fromkeys(c.left_to or c.department or "another department" for c in away))
        days = sorted({f"{c.left_at:%Y-%m-%d}" for c in away if c.left_at is not None})
        sent = all(c.sent_back for c in away)
        n = len(away)
        parts.append(f"{n} {'was' if n == 1 else 'were'} {'sent back' if sent else 'moved'} to {where}"
                     + (f" on {days[0]}" if len(days) == 1 else "")
                     + f"; {'their departments decide them' if n != 1 else 'its department decides it'}.")
    return html.Div(" ".join(parts), className="small text-muted mt-2", id="siu-open-claims-note") if parts else None


def _closed_summary(view, code: str, *, can_reopen: bool) -> html.Div:
    s = view.summary
    return html.Div([
        html.Div([status_badge(s.status, s.outcome, className="me-2"),
                  html.Span(f"by {view.closed_by or 'someone'} on {s.closed_at:%Y-%m-%d}" if s.closed_at else "",
                            className="small text-muted")], className="mb-2"),
        html.Div(view.findings, className="small mb-2", style={"whiteSpace": "pre-wrap"}, id="siu-findings-text"),
        html.Div(f"Saved: {money(s.saved, code)}", className="small fw-semibold") if s.saved is not None else None,
        # The finding does not close the claims: denying or paying each is its adjuster's step.
        _open_claims_note(view),
        html.Div([
            dbc.Textarea(id="siu-reopen-note", rows=2, maxLength=NOTE_MAX,
                         placeholder="Why reopen (new evidence; required)", className="mt-3"),
            html.Button("Reopen case", id="siu-reopen-submit", className="btn btn-outline-secondary btn-sm mt-2"),
        ]) if can_reopen else None,
    ])


def decision_card(view, code: str, choices, *, can_edit: bool, can_reopen: bool) -> dbc.Card:
    s = view.summary
    if s.status == "open":
        body = [_lead_form(view, choices), _close_form()] if can_edit else [html.P("Open.", className="small")]
    else:
        body = [_closed_summary(view, code, can_reopen=can_reopen)]
    return dbc.Card(dbc.CardBody([html.H5("Decision", className="card-title"), *body]), className="shadow-sm mb-4",
                    id="siu-decision-card")


def add_claims_form() -> html.Div:
    return html.Div([
        dbc.Label("Add claims", html_for="siu-add-claims", className="small fw-semibold mb-1"),
        html.Div([
            dbc.Input(id="siu-add-claims", maxLength=4000, placeholder="Claim numbers in the SIU queue"),
            html.Button("Add", id="siu-add-submit", className="btn btn-outline-primary btn-sm"),
        ], className="d-flex gap-2"),
    ], className="mt-3")


def note_form() -> html.Div:
    return html.Div([
        dbc.Textarea(id="siu-note", rows=2, maxLength=NOTE_MAX,
                     placeholder="Interview, document check, finding so far…"),
        html.Button("Add note", id="siu-note-submit", className="btn btn-outline-primary btn-sm mt-2"),
    ], className="mb-3")


def case_summary(view, code: str) -> list:
    s = view.summary
    away = [c for c in view.claims if not c.in_siu]
    sent = sum(c.sent_back for c in away)
    detail = ([f"{s.open_claims} open in SIU"] if s.open_claims or not away else []) \
        + ([f"{sent} sent back"] if sent else []) + ([f"{len(away) - sent} moved out"] if len(away) > sent else [])
    return [
        html.Div([
            stat("Claims", f"{s.claims}", " · ".join(detail)),
            stat("Claimed", money(s.claimed, code)),  # to the cent, as the claims table below
            stat("Days open" if s.status == "open" else "Took", f"{s.days_open}",
                 "days" if s.status == "closed" else None),
        ], className="d-flex flex-wrap gap-4 mb-3", id="siu-case-stats"),
        html.Div([status_badge(s.status, s.outcome, className="me-2", id="siu-case-status"),
                  html.Span(f"Opened {s.opened_at:%Y-%m-%d} by {view.opened_by or 'someone'}"
                            + (f" from possible ring {s.ring_key}" if s.ring_key else "")
                            + f" · lead: {s.lead or 'nobody yet'}", className="small text-muted", id="siu-case-line")],
                 className="mb-3"),
    ]


def case_claims(view, code: str, *, can_edit: bool) -> list:
    away = sum(1 for c in view.claims if not c.in_siu)
    return [html.H5(f"Claims ({view.summary.claims})", className="card-title"),
            html.P(f"{away} of them {'has' if away == 1 else 'have'} left the Special Investigations queue (where "
                   f"to and when is under each); {'it stays' if away == 1 else 'they stay'} listed as the record "
                   "of what was investigated.",
                   className="small text-muted mb-2", id="siu-claims-away-note")
            if away and view.summary.status == "closed" else None,
            claims_table(view, code, can_edit=can_edit and view.summary.status == "open")]


def case_body(view, code: str, choices, *, can_edit: bool, can_reopen: bool, tasks=None,
              documents=None) -> html.Div:
    """Everything of a case under its header. After a change only the data parts are
    redrawn (summary, claims, activity), never the forms: a person typing findings
    while a colleague's note lands keeps what they typed. Closing and reopening change
    which forms exist, so they render the page again. ``tasks``: the Tasks card (tasks_card);
    ``documents``: the case's documents card (components.claim_documents)."""
    open_ = view.summary.status == "open"
    return html.Div([
        html.Div(case_summary(view, code), id="siu-case-summary"),
        dbc.Row([
            dbc.Col([
                dbc.Card(dbc.CardBody([
                    html.Div(case_claims(view, code, can_edit=can_edit), id="siu-case-claims-part"),
                    add_claims_form() if can_edit and open_ else None,
                ]), className="shadow-sm mb-4"),
                tasks,
                documents,
                dbc.Card(dbc.CardBody([
                    html.H5("Activity", className="card-title"),
                    note_form() if can_edit else None,
                    html.Div(activity(view), id="siu-case-activity"),
                ]), className="shadow-sm mb-4"),
            ], lg=8, className="order-2 order-lg-1"),
            # A closed case's outcome comes first on a phone, before its claims and activity.
            dbc.Col(decision_card(view, code, choices, can_edit=can_edit, can_reopen=can_reopen), lg=4,
                    className=("order-1" if not open_ else "order-3") + " order-lg-2"),
        ]),
        remove_dialog() if can_edit and open_ else None,
    ])


# --- Cards on other pages ----------------------------------------------------


def _send_back_form() -> html.Div:
    return html.Div([
        html.Hr(className="my-3"),
        html.Div("Not for Special Investigations?", className="small fw-semibold mb-1"),
        dbc.Textarea(id="siu-claim-back-note", rows=2, maxLength=NOTE_MAX,
                     placeholder="Why it goes back (its next adjuster reads this; required)"),
        html.Button("Send back to its department", id="siu-claim-back",
                    className="btn btn-outline-secondary btn-sm mt-2"),
    ])


def _add_to_case(cases) -> html.Div:
    """A searchable list of the open cases (key and title, most recent first): typing filters it by
    either, so a case number need not be typed whole. Older open cases than the list holds take the
    claim on their own page (Add claims)."""
    if not cases:
        return html.P("No open case to add it to.", className="small text-muted mt-2 mb-0", id="siu-claim-no-cases")
    return html.Div([
        dcc.Dropdown(id="siu-claim-case", options=[{"label": f"{key} · {title}", "value": key} for key, title in cases],
                     placeholder="Add to an open case…", searchable=True, clearable=True, className="flex-grow-1",
                     style={"minWidth": 0}),
        html.Button("Add to case", id="siu-claim-add", className="btn btn-outline-primary btn-sm text-nowrap"),
    ], className="d-flex gap-2 mt-2 align-items-center")


def claim_case_card(case, *, can_start: bool, notice=None, can_send_back: bool = False,
                    cases: list[tuple[str, str]] = ()) -> dbc.Card | None:
    """The claim page's "SIU case" card: the claim's case, or opening one / adding it to
    one of ``cases`` (services.siu_case_views.open_cases_to_add), or (an open claim)
    declining the referral: back to a line department."""
    if case is not None:
        body = [html.Div([html.A(case.key, href=case_href(case.key), className="claim-link fw-semibold me-2",
                                 id="siu-claim-case-link"),
                          status_badge(case.status, case.outcome)]),
                html.Div(case.title, className="small"),
                html.Div(f"Lead: {case.lead or 'nobody yet'}", className="small text-muted")]
    elif can_start:
        body = [html.P("This claim is in no case yet.", className="small text-muted mb-2"),
                html.Button("Open a case", id="siu-claim-open", className="btn btn-primary btn-sm"),
                _add_to_case(cases),
                _send_back_form() if can_send_back else None,
                html.Div(id="siu-claim-msg", className="mt-2")]
    elif notice is not None:
        body = []
    else:
        return None
    return dbc.Card(dbc.CardBody([html.H6("SIU case", className="card-title"), notice, *body]),
                    className="shadow-sm mb-4", id="siu-claim-card")


def claim_sent_back(claim_number: str, department: str, *, still_visible: bool) -> html.Div:
    """What the claim page shows once SIU has sent its claim back: the claim has left the
    Special Investigations queue, and (for SIU's adjusters) their sight, so none of its
    actions is offered any more."""
    href = "/claims/" + quote(claim_number, safe="")
    if still_visible:
        text = (f"{claim_number} went back to {department}, unassigned; the reason is in its history. "
                "It has left the Special Investigations queue.")
        links = [html.A(f"Open {claim_number} again", href=href, className="btn btn-primary btn-sm"),
                 html.A("SIU cases", href=cases_href(), className="btn btn-outline-secondary btn-sm")]
    else:
        text = (f"{claim_number} went back to {department} and has left your queue: it is that department's "
                "work now, and the reason you gave is in its history for its next adjuster.")
        links = [html.A("Back to SIU cases", href=cases_href(), className="btn btn-primary btn-sm")]
    return html.Div(dbc.Alert([
        html.H4("Sent back", className="alert-heading"),
        html.P(text, className="mb-3"),
        html.Div(links, className="d-flex gap-2"),
    ], color="success", className="mb-4"), id="claim-sent-back", role="status")


def ring_case_card(key: str, n: int, existing: str | None = None) -> dbc.Card:
    """Investigate a ring: its claims in the SIU queue and in no case open one case, or join the
    open case that already investigates it (a second case would split the ring)."""
    claims = f"{n} claim{'s' if n != 1 else ''}"
    if existing:
        text = [f"{claims} of this ring {'are' if n != 1 else 'is'} in the Special Investigations queue and in no "
                "case, while ", html.A(existing, href=case_href(existing), className="claim-link"),
                f" investigates the ring: add {'them' if n != 1 else 'it'} to that case."]
        label = f"Add {claims} to {existing}"
    else:
        text = [f"{claims} of this ring {'are' if n != 1 else 'is'} in the Special Investigations queue and in no "
                f"case. Open one case for {'them' if n != 1 else 'it'}: the ring is worked as a whole."]
        label = f"Open a case for {claims}"
    return dbc.Card(dbc.CardBody([
        dcc.Store(id="ring-case-key", data=key),
        html.H5("Investigate the ring", className="card-title"),
        html.P(text, className="small text-muted"),
        html.Button(label, id="ring-case-submit", className="btn btn-primary btn-sm"),
        html.Div(id="ring-case-msg", className="mt-2"),
    ]), className="shadow-sm mb-4", id="ring-case")


def period_strip(now: dict, before: dict, code: str, *, department_note: bool) -> dbc.Card:
    """The dashboard's Special Investigations figures for its period, with the previous period's."""
    share = now["confirmed_share"]

    def was(value) -> str:
        return f"previous period: {value}"

    return dbc.Card(dbc.CardBody([
        html.Div([html.H6("Special Investigations in this period", className="mb-0"),
                  html.A("SIU cases →", href="/siu-cases", className="small")],
                 className="d-flex justify-content-between align-items-baseline mb-2"),
        html.Div([
            stat("Moved to SIU by hand", f"{now['referred']:,}", was(f"{before['referred']:,}")),
            stat("Cases opened", f"{now['opened']:,}", was(f"{before['opened']:,}")),
            stat("Cases closed", f"{now['closed']:,}", (f"{share:.0%} confirmed fraud" if share is not None
                                                         else "none closed")),
            stat("Saved", money_short(now["saved"], code), was(money_short(before["saved"], code))),
        ], className="d-flex flex-wrap gap-4"),
        # "5 referred" beside "19 cases opened" read as a mistake.
        html.Div("Cases also open on claims the router sent straight to Special Investigations, so they can "
                 "outnumber the claims moved there by hand.", className="small text-muted mt-2"),
        html.Div("All departments: a case's claims sit in the Special Investigations queue, whatever the "
                 "department filter says.", className="small text-muted") if department_note else None,
    ]), className="shadow-sm mb-4", id="dashboard-siu-card")


def close_question(view, outcome: str, send_back: bool) -> list:
    """What closing will do, said before it is done (the confirmation's text)."""
    claims = view.claims
    n = len(claims)
    back = [c for c in claims if c.in_siu and c.status not in (None, "closed")] \
        if send_back and outcome != "confirmed_fraud" else []
    # A claim outside the queue may be in a department the reader does not work (status unknown).
    brought = [c for c in claims if not c.in_siu and c.status != "closed"] if outcome == "confirmed_fraud" else []
    them = "its claim" if n == 1 else f"its {n} claims"
    recorded = {"confirmed_fraud": f"The finding is recorded on {them}: found fraudulent.",
                "no_fraud": f"The finding is recorded on {them}: not fraudulent.",
                "inconclusive": "Nothing is recorded on its claims."}[outcome]
    lines = [html.P(["Close ", html.Strong(view.summary.key), " as ", html.Strong(OUTCOME_LABELS[outcome]), "?"]),
             html.P(recorded, className="small mb-2")]
    if back:
        lines.append(html.P(f"{len(back)} open claim{'s go' if len(back) != 1 else ' goes'} back to "
                            f"{'their departments' if len(back) != 1 else 'its department'}, unassigned: "
                            "Special Investigations' adjusters no longer see "
                            f"{'them' if len(back) != 1 else 'it'}, and reopening the case does not bring "
                            f"{'them' if len(back) != 1 else 'it'} back.", className="small mb-2",
                            id="siu-close-back"))
    if brought:
        lines.append(html.P("Its claims outside the Special Investigations queue that are still open come back "
                            "into it, to be denied here.", className="small mb-2"))
    lines.append(html.P("Only a manager can reopen a closed case.", className="small text-muted mb-0"))
    return lines


# --- Tasks on a case -----------------------------------------------------------

TASK_ASK = "siu-task-ask"   # the store the rows' buttons ask through (assets/62-row-actions.js)


def _day(day, today) -> str:
    """3 Dec (this year), 3 Dec 2025 (another)."""
    return f"{day.day} {day:%b}" + (f" {day.year}" if day.year != today.year else "")


DETAILS_SHOWN = 240      # characters of a task's details shown before "Show all"
DETAILS_LINES = 3


def _details_preview(text: str) -> str | None:
    """The start of long details (None when they are short enough to show whole): a few lines,
    cut at a word, so a page-long note does not push the rest of the list out of sight."""
    lines = text.split("\n")
    if len(text) <= DETAILS_SHOWN and len(lines) <= DETAILS_LINES:
        return None
    head = "\n".join(lines[:DETAILS_LINES])[:DETAILS_SHOWN]
    if len(head) == DETAILS_SHOWN and " " in head[DETAILS_SHOWN // 2:]:
        head = head[:head.rindex(" ")]
    return head.rstrip() + "\u2026"


def _task_details(text: str | None):
    if not text:
        return None
    preview = _details_preview(text)
    if preview is None:
        return html.Div(text, className="small text-muted siu-task-details")
    # Native <details>: opens without a request, and a redraw of the list closes it again.
    return html.Details([
        html.Summary([html.Span(preview, className="siu-task-details-preview"),
                      html.Span("Show all", className="siu-task-details-more"),
                      html.Span("Show less", className="siu-task-details-less")]),
        html.Div(text, className="siu-task-details-full"),
    ], className="small text-muted siu-task-details")


def _task_row(t, today, *, can_edit: bool, closed: bool = False) -> html.Li:
    done = t.status == "done"
    if closed and not done:
        # Nobody works a closed case's tasks: "overdue" would ask for work that is not wanted.
        when = html.Span("Not done when the case closed" + (f" (due {_day(t.due, today)})" if t.due else ""))
    elif done:
        when = html.Span(f"Done by {t.done_by or 'someone'} on {_day(t.done_at.date(), today)}",
                         title=f"{t.done_at:%Y-%m-%d %H:%M} UTC")
    else:
        when = _when_due(t, today)
    whose = None if done and t.done_by == t.assignee else html.Span(
        (" · for " if done else " · ") + t.assignee, className="siu-task-assignee text-nowrap")
    meta = html.Div([when, whose], className="small text-muted")
    buttons = None
    if can_edit:
        ask = {"id": t.id, "v": t.version}
        buttons = html.Div([
            ask_button("Edit", TASK_ASK, {"op": "edit", **ask}, color="link", className="text-secondary p-0 px-1",
                       title="Change the task, whose it is or when it is due") if not done else None,
            ask_button("Remove", TASK_ASK, {"op": "remove", **ask}, color="link", className="text-danger p-0 px-1",
                       title="Take the task off the case",
                       confirm=f"Remove the task \u201c{t.title}\u201d from the case? The case's activity will "
                               "say that you removed it.") if not done else None,
            ask_button("Reopen", TASK_ASK, {"op": "reopen", **ask}, color="secondary", outline=True,
                       title="Back to the open tasks") if done else
            ask_button("Done", TASK_ASK, {"op": "done", **ask}, color="success", outline=True,
                       title="Mark the task done"),
        ], className="d-flex gap-2 align-items-center flex-shrink-0 siu-task-buttons")
    return html.Li([
        html.Div([html.Div(t.title, className="siu-task-title" + (" siu-task-done text-muted" if done else "")),
                  _task_details(t.details),
                  meta], className="flex-grow-1", style={"minWidth": 0}),
        buttons,
    ], className="list-group-item d-flex gap-2 align-items-start px-0 siu-task-row"
       + (" siu-task-late" if t.overdue else ""),
        id=f"siu-task-{t.id}")


def task_list(tasks: list, today, *, can_edit: bool, closed: bool = False) -> list:
    """The redrawn part of the Tasks card: its heading with the counts, then the open tasks
    (overdue first) and the done ones. ``closed``: the case's; its open tasks were left undone."""
    open_ = [t for t in tasks if t.status == "open"]
    late = 0 if closed else sum(t.overdue for t in open_)
    done = len(tasks) - len(open_)
    counts = " · ".join([f"{len(open_)} {'not done' if closed else 'open'}"] + ([f"{late} overdue"] if late else [])
                        + ([f"{done} done"] if done else [])) if tasks else None
    head = html.Div([html.H5("Tasks", className="card-title mb-0"),
                     html.Span(counts, className="small text-muted", id="siu-task-counts") if counts else None],
                    className="d-flex align-items-baseline gap-2 mb-2")
    if not tasks:
        body = html.P("No tasks yet: list the investigation's next steps (what to request, whom to interview) and "
                      "who does each." if can_edit else "No tasks.", className="small text-muted mb-2",
                      id="siu-tasks-empty")
    else:
        body = html.Ul([_task_row(t, today, can_edit=can_edit, closed=closed) for t in tasks],
                       className="list-group list-group-flush mb-2 siu-tasks", id="siu-task-list")
    return [head, body]


def _assignee_options(choices, me: int | None) -> list[dict]:
    return [{"label": f"{name} (me)" if uid == me else name, "value": str(uid)} for uid, name in choices]


def _task_add_form(choices, me: int | None) -> html.Div:
    return html.Div([
        dbc.Label("Add a task", html_for="siu-task-title", className="small fw-semibold mb-1"),
        html.Div([
            dbc.Input(id="siu-task-title", maxLength=TITLE_MAX, placeholder="e.g. Request the claimant's bank "
                      "statements", className="siu-task-title-input"),
            html.Label("Details (optional)", htmlFor="siu-task-details", className="visually-hidden"),
            dbc.Textarea(id="siu-task-details", rows=2, maxLength=NOTE_MAX, className="siu-task-details-input",
                         placeholder="Details (optional): which months, whom to ask, what to look for"),
            html.Label("Who does it", htmlFor="siu-task-assignee", className="visually-hidden"),
            dbc.Select(id="siu-task-assignee", options=_assignee_options(choices, me),
                       value=str(me) if me is not None else None, className="siu-task-assignee-input"),
            html.Label("Due (optional)", htmlFor="siu-task-due", className="visually-hidden"),
            dbc.Input(id="siu-task-due", type="date", className="siu-task-due-input"),
            html.Button("Add", id="siu-task-add", className="btn btn-outline-primary btn-sm"),
        ], className="d-flex flex-wrap gap-2 align-items-center siu-task-form"),
    ], className="mt-2")


def _task_edit_modal(choices, me: int | None) -> dbc.Modal:
    """The Edit of a task's row fills this (drawn once with the page, like every form here)."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Change the task")),
        dbc.ModalBody([
            dcc.Store(id="siu-task-edit-id"),
            dbc.Label("Task", html_for="siu-task-edit-title", className="small fw-semibold mb-1"),
            dbc.Input(id="siu-task-edit-title", maxLength=TITLE_MAX),
            dbc.Label("Details (optional)", html_for="siu-task-edit-details", className="small fw-semibold mb-1 mt-2"),
            dbc.Textarea(id="siu-task-edit-details", rows=4, maxLength=NOTE_MAX),
            dbc.Label("Who does it", html_for="siu-task-edit-assignee", className="small fw-semibold mb-1 mt-2"),
            dbc.Select(id="siu-task-edit-assignee", options=_assignee_options(choices, me)),
            dbc.Label("Due (optional)", html_for="siu-task-edit-due", className="small fw-semibold mb-1 mt-2"),
            dbc.Input(id="siu-task-edit-due", type="date"),
            html.Div(id="siu-task-edit-msg", className="mt-2"),
        ]),
        dbc.ModalFooter([
            html.Button("Cancel", id="siu-task-edit-cancel", type="button",
                        className="btn btn-outline-secondary btn-sm"),
            html.Button("Save", id="siu-task-edit-save", type="button", className="btn btn-primary btn-sm"),
        ]),
    ], id="siu-task-edit-modal", is_open=False, centered=True)


def tasks_card(view, tasks: list, today, choices, *, me: int | None, can_edit: bool) -> dbc.Card:
    """The case's to-do list. The rows are redrawn after each change (theirs and others'), so
    their buttons ask through the TASK_ASK store; the add form is not redrawn (what is typed stays)."""
    open_ = view.summary.status == "open"
    edits = can_edit and open_
    return dbc.Card(dbc.CardBody([
        dcc.Store(id=TASK_ASK),
        html.Div(task_list(tasks, today, can_edit=edits, closed=not open_), id="siu-case-tasks"),
        html.P("The case is closed, so its tasks are read-only; a manager can reopen it.",
               className="small text-muted mb-0", id="siu-tasks-closed") if not open_ else None,
        _task_add_form(choices, me) if edits else None,
        html.Div(id="siu-task-msg", className="mt-2"),
        _task_edit_modal(choices, me) if edits else None,
    ]), className="shadow-sm mb-4", id="siu-tasks-card")


def _when_due(t, today) -> html.Span:
    if t.overdue:
        return html.Span(f"Overdue since {_day(t.due, today)}", className="badge text-bg-danger siu-task-overdue")
    if t.due is None:
        return html.Span("No due date", className="text-muted")
    return html.Span("Due today" if t.due == today else f"Due {_day(t.due, today)}",
                     className="fw-semibold" if t.due == today else "text-muted")


def my_tasks_card(tasks: list, total: int, overdue: int, today) -> dbc.Card | None:
    """"My work"'s SIU tasks: the signed-in person's open tasks on open cases, the overdue and
    soonest due first, each a link to its case (where it is done)."""
    if not tasks:
        return None
    rows = [html.Li([
        html.Div([html.A(t.title, href=case_href(t.case_key), className="siu-task-title"),
                  html.Div([_when_due(t, today), html.Span(" · "), html.Span(t.case_key, className="text-nowrap"),
                            html.Span(" · "),
                            # "Possible ring R-\n000011" read badly: a short title is kept whole.
                            html.Span(t.case_title, className="text-nowrap" if len(t.case_title or "") <= 40
                                      else None)], className="small text-muted")]),
    ], className="list-group-item px-0 py-2") for t in tasks]
    more = total - len(tasks)
    return dbc.Card(dbc.CardBody([
        html.Div([html.H6("My SIU tasks", className="mb-0"),
                  html.Span(f"{total} open" + (f" · {overdue} overdue" if overdue else ""),
                            className="small text-muted")], className="d-flex align-items-baseline gap-2 mb-1"),
        html.Ul(rows, className="list-group list-group-flush mb-0 siu-tasks"),
        html.Div(f"and {more} more on your cases", className="small text-muted mt-1") if more > 0 else None,
    ]), className="shadow-sm mb-3", id="my-work-siu-tasks")
