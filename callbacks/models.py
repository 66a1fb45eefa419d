"""Models page: make another version its dataset's champion (MANAGE_MODELS).
The version, the reason and the champion the page showed come from the browser,
so services.models.promote checks them all."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.models import AUTO_PROMOTE_ASK, champions_section, choice_options, versions_section
from components.row_actions import asked
from db.flask_db import WriteConflict, WriteFailed, read_session, unit_of_work
from services import models
from services.access import AccessDenied

SAVE_FAILED = ("Nothing was changed: the database refused the change (another change of champion at the same "
               "moment?). Reload the page and try again.")
NO_CHOICE = "Choose a version from the list; nothing was changed."


def _alert(text: str, color: str):
    return dbc.Alert(text, color=color, className="py-2 px-3 mb-0 small", id="models-promote-result")


def _refusal(text: str):
    return _alert(text, "danger"), no_update, no_update, no_update, no_update, no_update


def _redrawn(status):
    """``status`` above the versions and champions as they are now (after a change, or
    after a refusal because the page was stale, so that a retry compares against them)."""
    session = read_session()
    rows = models.list_model_versions(session)
    choices = models.version_choices(session)
    return (status, versions_section(rows, choices, can_manage=True),
            champions_section(rows, models.department_styles(session), models.auto_promote_states(session),
                              can_manage=True),
            choice_options(choices), None, no_update)


@secure_callback(
    Perm.MANAGE_MODELS,
    Output("models-promote-status", "children"),
    Output("models-versions", "children"),
    Output("models-champions", "children"),
    Output("models-promote-version", "options"),
    Output("models-promote-version", "value"),
    Output("models-promote-reason", "value"),
    Input("models-promote-confirm", "submit_n_clicks"),
    State("models-promote-version", "value"),
    State("models-promote-reason", "value"),
    State("models-expected-champions", "data"),
    prevent_initial_call=True,
)
def promote(submitted, version_id, reason, expected):
    if not isinstance(submitted, int) or isinstance(submitted, bool) or submitted < 1:
        return (no_update,) * 6
    # The page kept, per offered version, its dataset's champion: a version it did not offer is not a choice.
    key = str(version_id) if isinstance(version_id, int) and not isinstance(version_id, bool) else None
    if not isinstance(expected, dict) or key not in expected:
        return _refusal(NO_CHOICE)
    user = user_or_none()
    try:
        with unit_of_work() as session:
            done = models.promote(session, user, version_id, expected_champion_id=expected[key], reason=reason)
    except models.ChampionChanged as exc:
        return _redrawn(_alert(str(exc), "danger"))
    except (models.ModelError, AccessDenied) as exc:
        return _refusal(str(exc))
    except (WriteConflict, WriteFailed):
        return _refusal(SAVE_FAILED)
    status, versions, champions, options, value, _ = _redrawn(_alert(done["message"], "success"))
    return status, versions, champions, options, value, ""


@secure_callback(
    Perm.MANAGE_MODELS,
    Output("models-promote-status", "children", allow_duplicate=True),
    Output("models-champions", "children", allow_duplicate=True),
    Input(AUTO_PROMOTE_ASK, "data"),   # the button under a champion (assets/62-row-actions.js)
    prevent_initial_call=True,
)
def toggle_auto_promote(ask):
    dataset, enable = asked(ask, "dataset"), asked(ask, "enable", bool)
    if dataset is None or enable is None:
        raise PreventUpdate
    # The button says what it does ("enable"): a page drawn before another admin's change
    # is refused ("already ..."), not flipped back.
    try:
        with unit_of_work() as session:
            message = models.set_auto_promote(session, user_or_none(), dataset, enable)
    except (models.ModelError, AccessDenied) as exc:
        return _alert(str(exc), "danger"), no_update
    except (WriteConflict, WriteFailed):
        return _alert(SAVE_FAILED, "danger"), no_update
    status, _versions, champions, *_ = _redrawn(_alert(message, "success"))
    return status, champions
