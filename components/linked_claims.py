"""The claim page's "Linked claims" card, from services.linked_claims.Links."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.common import dept_badge
from components.rings import ring_href
from services.linked_claims import BUSINESS_HUB_LIMIT, HUB_LIMIT

STATUS_WORDS = {"new": "new", "assigned": "assigned", "in_review": "in review",
                "awaiting_info": "awaiting information", "closed": "closed"}
LISTED = 12  # a ring larger than this is a case for the investigators, not a list on a claim page


def _shared(items) -> html.Div:
    # Field names only: the values are in the Parties card above, and a ring's claims
    # would repeat the same long bank account and address on every line.
    return html.Div("Shares " + ", ".join(dict.fromkeys(s.field for s in items)), className="small",
                    title="; ".join(f"{s.label} {s.value}" for s in items))


def _claim(c) -> html.Li:
    return html.Li([
        html.Div([
            html.A(c.claim_number, href=f"/claims/{c.claim_number}", className="claim-link me-2"),
            dept_badge(c.department, c.color) if c.department else None,
            dbc.Badge("found fraudulent", color="danger", className="ms-2") if c.fraud_label else None,
        ]),
        html.Div(STATUS_WORDS.get(c.status, c.status).capitalize()
                 + (f" · reported {c.report_date:%Y-%m-%d}" if c.report_date else ""), className="small text-muted"),
        _shared(c.shared),
    ], className="mb-2")


def _and(words) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _ring(ring) -> dbc.Alert:
    return dbc.Alert([
        html.Span("Part of a possible fraud ring: ", className="fw-semibold"),
        html.A(f"ring {ring.key} ({ring.size} claims) →", href=ring_href(ring.key), className="alert-link"),
    ], color="warning", className="small py-2 mb-2", id="claim-ring")


def _elsewhere(links) -> html.Div | None:
    n, fraudulent = links.elsewhere, links.elsewhere_fraudulent
    if not n:
        return None
    more = "more " if links.claims else ""
    where = "departments you do not work" if n != 1 else "a department you do not work"
    found = (f" ({fraudulent} of them found fraudulent)" if n > 1 else " (found fraudulent)") if fraudulent else ""
    text = f"Not listed: {n} {more}linked claim{'s' if n != 1 else ''} in {where}{found}."
    return html.Div(text, className="small mt-2 " + ("text-danger" if fraudulent else "text-muted"),
                    id="linked-claims-elsewhere")


def linked_claims_card(links, ring=None) -> dbc.Card:
    parts = [_ring(ring)] if ring is not None else []
    hubs = (f"the {_and(h.who + chr(39) + 's' for h in links.hubs)} {_and(h.field for h in links.hubs)}"
            if links.hubs else "")
    hub_title = ("; ".join(f"{h.label} {h.value}" for h in links.hubs) + f" (more than {BUSINESS_HUB_LIMIT} other "
                 f"claims for a shop's or provider's identifier, more than {HUB_LIMIT} for a person's)")
    if links.claims:
        n, more = len(links.claims), len(links.claims) - LISTED
        parts += [
            html.P(f"{n} other claim{'s share' if n != 1 else ' shares'} an identifier with this claim's parties.",
                   className="small text-muted mb-2"),
            html.Ul([_claim(c) for c in links.claims[:LISTED]], className="list-unstyled mb-1",
                    id="linked-claims-list"),
            html.Div(f"and {more} more", className="small text-muted mb-1") if more > 0 else None,
        ]
        if hubs:
            # One line: a busy shop's four identifiers are one fact, not four.
            parts.append(html.Div(f"Not listed: claims linked only through {hubs}, which are on many claims, "
                                  "as a busy shop's or clinic's are.", className="small text-muted mt-2",
                                  id="linked-claims-hubs", title=hub_title))
    elif hubs:
        parts.append(html.P(f"Only {hubs} link this claim to others, and they are on many claims, as a busy "
                            "shop's or clinic's are, so those claims are not listed.",
                            className="small text-muted mb-0", id="linked-claims-hubs", title=hub_title))
    elif not links.elsewhere:
        parts.append(html.P("No other claim you can open shares a phone, email, address, bank account, plate, "
                            "VIN or provider with this claim's parties.", className="small text-muted mb-0"))
    parts.append(_elsewhere(links))
    return dbc.Card(dbc.CardBody([html.H5("Linked claims", className="card-title"), *parts]),
                    className="shadow-sm mb-4", id="claim-linked")
