"""Helpers that talk to the Dash server exactly as the browser does."""
from __future__ import annotations

import json


def render_page(client, pathname: str, search: str = "") -> tuple[int, str]:
    response = client.post("/_dash-update-component", json={
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "state": [], "changedPropIds": ["_pages_location.pathname"],
    })
    return response.status_code, response.get_data(as_text=True)


def call_callback(web_app, client, output: str, outputs, inputs, state=(), changed: str | None = None):
    """Post one callback the way the browser does. ``output``: a piece of its key that
    names it (e.g. "fraud-list.children"); ``outputs``, ``inputs``, ``state``: (id,
    property[, value]) tuples in the callback's order; ``changed``: the input id that
    changed (default: the first)."""
    keys = [k for k in web_app.callback_map if output in k]
    assert len(keys) == 1, keys
    return client.post("/_dash-update-component", json={
        "output": keys[0],
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [next(f"{i}.{p}" for i, p, _ in inputs if i == (changed or inputs[0][0]))],
    })


def outputs_of(key: str) -> list[dict]:
    """The outputs a browser posts for the callback whose map key is ``key``."""
    return [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in key.strip(".").split("...")]


def queue_rows(client, department, request: dict):
    """Call the queue grid callback; return (status, rowResponse, status text)."""
    response = client.post("/_dash-update-component", json={
        "output": "..queue-grid.getRowsResponse...queue-status.children..",
        "outputs": [{"id": "queue-grid", "property": "getRowsResponse"},
                    {"id": "queue-status", "property": "children"}],
        "inputs": [{"id": "queue-grid", "property": "getRowsRequest", "value": request}],
        "state": [{"id": "queue-department", "property": "data", "value": department}],
        "changedPropIds": ["queue-grid.getRowsRequest"],
    })
    if response.status_code != 200:
        return response.status_code, None, None
    body = json.loads(response.get_data(as_text=True))["response"]
    return 200, body.get("queue-grid", {}).get("getRowsResponse"), body.get("queue-status", {}).get("children")


def component_texts(component) -> list[str]:
    """Every string in a Dash component tree (components, not their JSON)."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    return [t for c in (children if isinstance(children, list) else [children]) for t in component_texts(c)]
