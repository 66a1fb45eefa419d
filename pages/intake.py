"""First notice of loss: a new claim is stored, scored and routed on submit."""
from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header
from components.intake_parties import parties_card
from services.intake import FIELDS, Field

dash.register_page(__name__, path="/intake", title="New claim · SCOPE Assistant", name="New claim")

BOOLEAN_CHOICES = [{"label": "—", "value": ""}, {"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
# Which card each field sits in; order within a card follows FIELDS.
SECTIONS = (
    ("The loss", ("line_of_business", "loss_date", "report_date", "claimed_amount", "description")),
    ("Policy and place", ("policy_number", "state", "postcode", "loss_location", "weather", "catastrophe_code")),
    ("Circumstances", ("reported_via", "injury_reported", "police_report", "attorney_involved", "vehicle_count",
                       "witness_count", "policy_tenure_days", "prior_claims_3y")),
)
WIDE = {"description"}


def field_id(name: str) -> str:
    return f"intake-{name}"


def _label(value: str) -> str:
    return value if len(value) == 2 and value.isupper() else value.replace("_", " ").capitalize()


def _control(f: Field):
    fid = field_id(f.name)
    if f.kind == "enum":
        options = ([] if f.required else [{"label": "—", "value": ""}]) + [
            {"label": _label(c), "value": c} for c in f.choices]
        return dbc.Select(id=fid, options=options, value=None, placeholder="Choose…")
    if f.kind == "boolean":
        # dbc.Select always renders a hidden placeholder option with value "": starting
        # at "" selected that (a blank box), so start unset like the optional enums.
        return dbc.Select(id=fid, options=BOOLEAN_CHOICES, value=None, placeholder="Choose…")
    if f.kind == "date":
        return dbc.Input(id=fid, type="date", max=dt.date.today().isoformat(),
                         value=dt.date.today().isoformat() if f.name == "report_date" else None)
    if f.kind == "money":
        # No min, max or step: the browser blanks a value that breaks one (1234.567 with a step of
        # 0.01), and the server could then only say "required"; its own message says what is wrong
        # ("at most 2 decimals": the currency's smallest unit, at most the cent the claims table keeps).
        return dbc.Input(id=fid, type="number", step="any", placeholder="e.g. 4200")
    if f.kind == "integer":
        return dbc.Input(id=fid, type="number", step="any", placeholder=f"{f.minimum}–{f.maximum:,}")
    if f.name == "description":
        return dbc.Textarea(id=fid, rows=5, maxLength=f.max_len,
                            placeholder="What happened, where, who and what was damaged or hurt?")
    return dbc.Input(id=fid, type="text", maxLength=f.max_len, placeholder=f.hint or None)


def _group(f: Field, lg: int | None = None) -> dbc.Col:
    text = f"{f.label} ({current_app.config['SCOPE_SETTINGS'].currency})" if f.kind == "money" else f.label
    label = [text, html.Span(" *", className="text-danger") if f.required else None]
    return dbc.Col(html.Div([
        dbc.Label(label, html_for=field_id(f.name), className="small fw-semibold mb-1"),
        _control(f),
        dbc.FormFeedback(id=field_id(f.name) + "-feedback", type="invalid"),
    ], className="mb-3"), md=12 if f.name in WIDE else 6, lg=lg)


def _section(title: str, names: tuple[str, ...], lg: int | None = None) -> dbc.Card:
    by_name = {f.name: f for f in FIELDS}
    return dbc.Card(dbc.CardBody([html.H5(title, className="card-title"),
                                  dbc.Row([_group(by_name[n], lg) for n in names])]), className="shadow-sm mb-4")


def layout(**_query):
    user = page_user(Perm.CREATE_CLAIMS, __name__)
    if user is None:
        return not_allowed()
    tokens = html.Span(["Sending claims from another system? Use the REST API (",
                        html.A("OpenAPI", href="/api/v1/openapi.json", target="_blank"), ") with a token from ",
                        dcc.Link("API tokens", href="/tokens", id="intake-tokens-link"), "."],
                       className="small text-muted")
    return html.Div([
        page_header("New claim", "First notice of loss: stored, scored and routed as soon as you submit.",
                    right=tokens),
        dbc.Row([
            dbc.Col(_section(*SECTIONS[0]), lg=6),
            dbc.Col(_section(*SECTIONS[1]), lg=6),
        ]),
        _section(*SECTIONS[2], lg=3),
        parties_card(),
        html.Div([
            dbc.Button("Submit and route", id="intake-submit", color="primary", n_clicks=0, className="me-3"),
            html.Span("Fields marked * are required. The router's decision and its reasons appear below.",
                      className="small text-muted"),
        ], className="mb-4"),
        # Full width: the decision panel's two charts need the room.
        dcc.Loading(html.Div(id="intake-result")),
    ])
