"""A claim's people and businesses as the claim page lists them, in the words the New
claim form uses (services.intake_parties)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from services.intake_parties import LABELS, ROLE_LABELS

SHOWN = ("phone", "email", "address", "bank_account", "plate", "vin", "provider_id")  # as the form asks


def phone_text(value: str) -> str:
    """A stored phone (digits only) as people read it: (407) 711-7945 for ten digits."""
    if len(value) == 10 and value.isdigit():
        return f"({value[:3]}) {value[3:6]}-{value[6:]}"
    return value


def parties_card(parties: list[dict]) -> dbc.Card | None:
    """``parties``: services.privacy.party_view dicts (personal fields already masked for viewers)."""
    if not parties:
        return None
    items = []
    for p in parties:
        ids = [f"{LABELS[f]}: {phone_text(p[f]) if f == 'phone' else p[f]}" for f in SHOWN if p.get(f)]
        role = ROLE_LABELS.get(p["role"], p["role"].replace("_", " ").capitalize())
        items.append(html.Li([html.Span(role, className="fw-semibold me-2"),
                              html.Span(p.get("name") or "", className="party-name"),
                              html.Div(" · ".join(ids), className="small text-muted")], className="mb-2"))
    return dbc.Card(dbc.CardBody([html.H5("People and businesses", className="card-title"),
                                  html.Ul(items, className="list-unstyled mb-0")]),
                    className="shadow-sm mb-4", id="claim-parties")
