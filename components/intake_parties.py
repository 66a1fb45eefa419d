"""The New claim form's people and businesses: a few fixed slots, each a role and
the identifiers that link claims (services.intake_parties validates them)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from services.intake_parties import FIELDS, ROLE_LABELS, ROLES

SLOTS = 3
KEYS = ("role", *(key for key, *_ in FIELDS))
# Widths on a wide screen: the first row who, the second how to find them again.
_WIDTH = {"role": 2, "name": 4, "phone": 3, "email": 3, "address": 4, "bank_account": 2, "plate": 2, "vin": 2,
          "provider_id": 2}
_PLACEHOLDER = {"name": "Full name or business name", "phone": "e.g. (555) 010-2030", "email": "name@example.com",
                "address": "Street, city, state, ZIP", "bank_account": "for payments", "plate": "e.g. 7ABC123",
                "vin": "17 characters", "provider_id": "e.g. NPI"}
_LONGEST = {key: longest for key, _label, longest, _ in FIELDS}


def input_id(slot: int, key: str) -> str:
    return f"intake-party-{slot}-{key}"


def input_ids() -> list[tuple[int, str]]:
    """Every (slot, key) of the form, in the order the submit callback reads them."""
    return [(slot, key) for slot in range(SLOTS) for key in KEYS]


def _control(slot: int, key: str):
    if key == "role":
        options = [{"label": ROLE_LABELS[r], "value": r} for r in ROLES]
        return dbc.Select(id=input_id(slot, key), options=options, value="claimant" if slot == 0 else None,
                          placeholder="Choose…")
    # type="text" for the email too: the browser would hand over nothing for an address it
    # finds malformed, and the server's message says what is wrong.
    return dbc.Input(id=input_id(slot, key), type="text", inputMode="email" if key == "email" else None,
                     maxLength=_LONGEST[key], placeholder=_PLACEHOLDER[key])


def _slot(slot: int) -> html.Div:
    labels = {"role": "Role", **{key: label for key, label, *_ in FIELDS}}
    cols = [dbc.Col([dbc.Label(labels[key], html_for=input_id(slot, key), className="small fw-semibold mb-1"),
                     _control(slot, key)], xs=12, md=6, lg=_WIDTH[key], className="mb-2") for key in KEYS]
    return html.Div([html.Div(f"Person or business {slot + 1}", className="small text-muted mb-1"),
                     dbc.Row(cols[:4]), dbc.Row(cols[4:])],
                    className="party-slot border-top pt-2 mt-2" if slot else "party-slot")


def parties_card() -> dbc.Card:
    more = html.Details([html.Summary("Add more people or businesses", className="small text-primary"),
                         *[_slot(s) for s in range(1, SLOTS)]], id="intake-parties-more", className="mt-2",
                        # its "open" follows the reader's toggling (assets/63-details-open.js), so an
                        # error in slot 2 or 3 opens it again after the reader closed it
                        **{"data-sync-open": "1"})
    return dbc.Card(dbc.CardBody([
        html.H5("People and businesses", className="card-title"),
        html.P("Who is involved and how to reach them. Phones, emails, addresses, bank accounts, plates, VINs and "
               "provider ids link this claim to earlier ones that share them (Linked claims, fraud rings). "
               "Optional; leave a slot empty to skip it.", className="small text-muted"),
        _slot(0), more,
        html.Div(id="intake-parties-feedback", className="text-danger small mt-2"),
    ]), className="shadow-sm mb-4")
