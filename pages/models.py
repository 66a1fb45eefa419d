"""Router model versions with their holdout metrics; the champions in detail. Admins
(MANAGE_MODELS) also change a dataset's champion by hand here (callbacks/models.py)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header
from components.models import AUTO_PROMOTE_ASK, change_card, champions_section, versions_section
from db.flask_db import read_session
from services.models import auto_promote_states, department_styles, list_model_versions, version_choices

dash.register_page(__name__, path="/models", title="Models · SCOPE Assistant", name="Models")


def layout(**_query):
    user = page_user(Perm.VIEW_MODELS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    models = list_model_versions(session)
    header = page_header("Router models", "Every trained version, its time-ordered holdout metrics and status.")
    if not models:
        return html.Div([header, dbc.Alert("No model has been trained yet: run `scope train --dataset NAME`.",
                                           color="info")])
    can_manage = user.can(Perm.MANAGE_MODELS)
    choices = version_choices(session) if can_manage else None
    return html.Div([
        header,
        html.Div(versions_section(models, choices, can_manage=can_manage), id="models-versions"),
        change_card(choices) if can_manage else None,
        dcc.Store(id=AUTO_PROMOTE_ASK) if can_manage else None,
        html.Div(champions_section(models, department_styles(session), auto_promote_states(session), can_manage),
                 id="models-champions"),
    ])
