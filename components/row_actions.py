"""Buttons in a part of a page that callbacks redraw: what they do is in data attributes,
read by assets/62-row-actions.js, which puts it in the page's store (``store``); the
store's callback is the one that calls the server. A Dash callback on the buttons' own
pattern-matching ids would be called again, with every button, at each redraw.

One request per store at a time: from a click until the store's callback (and what its answer
set off) has run, the script holds the store's other buttons, so a callback never sees a second
ask built on what the page showed before the first one's answer. Stores given the same ``group``
hold each other's buttons too (a rule's Edit and Delete open two different dialogs)."""
from __future__ import annotations

import json

from dash import html


def ask_button(label, store: str, value: dict, *, color: str = "primary", outline: bool = False, size: str = "sm",
               confirm: str | None = None, group: str | None = None, className: str = "", **kw) -> html.Button:
    """A Bootstrap-looking button that asks through ``store`` (``value`` plus the click's time);
    ``confirm``: a question answered first, as dcc.ConfirmDialogProvider asks it; ``group``: while
    any store of the group has a request running, every button of the group is held."""
    look = f"btn btn-{'outline-' if outline else ''}{color}" + (f" btn-{size}" if size else "")
    attrs = {"data-ask": store, "data-ask-value": json.dumps(value, separators=(",", ":"))}
    if confirm:
        attrs["data-ask-confirm"] = confirm
    if group:
        attrs["data-ask-group"] = group
    return html.Button(label, type="button", className=f"{look} {className}".strip(), **attrs, **kw)


def asked(data, field: str, kind: type = str):
    """``data[field]`` from the store when the page's script put it there (a dict with the time
    of the click and a value of ``kind``); None for anything else, a tampered request."""
    if not isinstance(data, dict) or not isinstance(data.get("at"), (int, float)) or isinstance(data.get("at"), bool):
        return None
    value = data.get(field)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        return None
    if isinstance(value, str) and not 0 < len(value) <= 200:
        return None
    return value
