"""The weekly rating on the Overview: asked at most once a week per person,
only after some use that day; the answer is optional."""
from __future__ import annotations

import logging

from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from auth.current import user_or_none
from auth.guard import SIGNED_IN, secure_callback
from components.usage import rating_card, thanks
from db.flask_db import WriteFailed, read_session, unit_of_work
from services import usage

log = logging.getLogger(__name__)


@secure_callback(
    SIGNED_IN,
    Output("usage-rating-slot", "children"),
    Input("_pages_location", "pathname"),
)
def offer_rating(pathname):
    if pathname != "/":
        return None
    user = user_or_none()
    try:
        if not usage.rating_due(read_session(), user.id):
            return None
        with unit_of_work() as session:
            row = usage.ask_rating(session, user.id, user.role)
        return rating_card(row.id)
    except Exception:  # the question is optional; never let it disturb the page
        log.warning("rating question not offered", exc_info=True)
        return None


@secure_callback(
    SIGNED_IN,
    Output("usage-rating-msg", "children"),
    Input("usage-rating-send", "n_clicks"),
    State("usage-rating-value", "value"), State("usage-rating-comment", "value"), State("usage-rating-id", "data"),
    prevent_initial_call=True,
)
def send_rating(clicks, value, comment, rating_id):
    if not clicks:
        raise PreventUpdate
    user = user_or_none()
    try:
        with unit_of_work() as session:
            usage.answer_rating(session, user.id, rating_id, value, comment)
    except usage.UsageError as exc:
        return html_error(str(exc))
    except WriteFailed:
        return html_error("Not saved; please try again.")
    return thanks()


def html_error(text: str) -> html.Span:
    return html.Span(text, className="text-danger")
