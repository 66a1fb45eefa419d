"""SIU cases: Special Investigations' investigations (services.siu_cases).
The list (?status=closed, ?mine=1, ?page=…) and one case (?case=C-000012)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.claim_actions import flash
from components.common import message, not_allowed, page_header, stat
from components.fraud_alerts import fraud_tabs
from components.claim_documents import case_documents_card
from components.siu_cases import awaiting_list, case_body, cases_href, list_body, open_form, tasks_card
from db.flask_db import read_session
from services.claim_documents import documents_of_claims
from services.privacy import sees_personal_data
from services.currency import money_short
from services.siu_case_views import (STATUS_LABELS, claims_awaiting_case, claims_awaiting_case_list, get_case,
                                     list_cases, totals)
from services.siu_case_tasks import assignee_choices, tasks_of_case, today_utc
from services.siu_cases import lead_choices, may_work, sees_cases_tab

dash.register_page(__name__, path="/siu-cases", title="SIU cases · SCOPE Assistant", name="SIU cases")

PER_PAGE = 50
ABOUT = ("A case is Special Investigations' investigation of claims referred to it: a ring is worked as one case. "
         "It has a lead investigator, notes, and closes with a finding that is recorded on its claims. "
         "Investigation files are read by Special Investigations and managers only.")


def _page_number(value) -> int:
    ok = isinstance(value, str) and 0 < len(value) < 6 and value.isascii() and value.isdigit()
    return max(1, int(value)) if ok else 1


def _stats(session, code: str, *, awaiting: bool) -> html.Div:
    t = totals(session)
    share = t["confirmed_share"]
    return html.Div([
        stat("Open cases", f"{t['open_cases']:,}", f"{t['open_claims']:,} claims, "
             f"{money_short(t['open_claimed'], code)} claimed"),
        stat("Referred claims in no case", f"{claims_awaiting_case(session):,}",
             "open claims in the SIU queue") if awaiting else None,
        stat(f"Closed in {t['days']} days", f"{t['closed']:,}",
             f"since {t['since']:%Y-%m-%d}" + (f" · median {t['median_days']:.0f} days open"
                                                if t["median_days"] is not None else "")),
        stat("Confirmed fraud", f"{share:.0%}" if share is not None else "—",
             f"{t['by_outcome']['confirmed_fraud']:,} of the cases closed in {t['days']} days"),
        stat(f"Saved in {t['days']} days", money_short(t["saved"], code), "as the closers stated it"),
    ], className="d-flex flex-wrap gap-4 mb-3", id="siu-stats")


def _tabs(status: str, mine: bool) -> html.Div:
    tabs = dbc.Nav([dbc.NavItem(dbc.NavLink(label, href=cases_href(s, mine=mine), active=s == status,
                                            id=f"siu-tab-{s}")) for s, label in STATUS_LABELS.items()],
                   pills=True, className="gap-1")
    toggle = html.A("All cases" if mine else "Cases I lead", href=cases_href(status, mine=not mine),
                    className="small", id="siu-mine")
    return html.Div([tabs, toggle], className="d-flex align-items-center gap-3 mb-3")


def layout(status: str | None = None, case: str | None = None, page: str | None = None, mine: str | None = None,
           done: str | None = None, **_query):
    user = page_user(Perm.VIEW_CLAIMS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    code = current_app.config["SCOPE_SETTINGS"].currency
    works = may_work(session, user)
    if not works and not sees_cases_tab(session, user):
        return not_allowed("SIU cases are open to Special Investigations and managers.")
    if case is not None:
        return _one(session, user, case, code, works, done)
    header = [fraud_tabs("cases", cases=True),
              page_header("SIU cases", ABOUT if works else "Special Investigations' results. " + ABOUT)]
    if not works:
        return html.Div([*header, _stats(session, code, awaiting=False)])
    status = status if isinstance(status, str) and status in STATUS_LABELS else "open"
    mine = mine == "1"
    number = _page_number(page)
    cases, total = list_cases(session, user, status=status, mine=mine, limit=PER_PAGE,
                              offset=(number - 1) * PER_PAGE)
    return html.Div([
        *header,
        _stats(session, code, awaiting=True),
        html.Div([_tabs(status, mine), html.Div([dcc.Location(id="siu-open-go", refresh=True), open_form()],
                                                 className="siu-open-area")],
                 className="d-flex flex-wrap justify-content-between align-items-start gap-2"),
        awaiting_list(claims_awaiting_case_list(session), claims_awaiting_case(session), code)
        if status == "open" and not mine else None,
        list_body(cases, total, code, status=status, mine=mine, page=number, per_page=PER_PAGE),
    ])


# Closing and reopening render the page again (?done=…) so its forms match the case.
DONE = {"closed": "Case closed; the finding is recorded on its claims.", "reopened": "Case reopened."}
DONE_STATUS = {"closed": "closed", "reopened": "open"}


def _one(session, user, key, code, works: bool, done):
    back = html.A("← All cases", href="/siu-cases", className="btn btn-outline-secondary btn-sm", id="siu-case-back")
    view = get_case(session, user, key) if works else None
    if view is None:
        # Unknown, or not this user's to read: the same answer.
        return html.Div([back, message("Case not found", f"There is no SIU case {key!s:.20} that you can open.")])
    s = view.summary
    return html.Div([
        fraud_tabs("cases", cases=True),
        page_header(f"Case {s.key}", s.title, right=back),
        dcc.Store(id="siu-case-key", data={"key": s.key, "version": view.version}),
        dcc.Location(id="siu-case-nav", refresh="callback-nav"),
        # Only while it is still true: a reload after someone else reopened it says nothing.
        html.Div(flash(DONE[done]) if isinstance(done, str) and DONE_STATUS.get(done) == s.status else None,
                 id="siu-case-msg"),
        html.Div(case_body(view, code, lead_choices(session), can_edit=True,
                           can_reopen=user.can(Perm.DECIDE_FRAUD), tasks=_tasks(session, user, view),
                           documents=case_documents_card(
                               documents_of_claims(session, user, [c.claim_number for c in view.claims
                                                                   if c.may_open]),
                               may_download=sees_personal_data(user))),
                 id="siu-case-body"),
    ])


def _tasks(session, user, view):
    return tasks_card(view, tasks_of_case(session, user, view.summary.id), today_utc(),
                      assignee_choices(session, user, view.lead_id), me=user.id, can_edit=True)
