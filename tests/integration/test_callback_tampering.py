"""Every registered Dash callback, posted with tampered inputs and state by a role
allowed to call it: the client controls every value, so nonsense gets a clear
message or no update, never a server error, never a stack trace, and changes
nothing.

The callbacks are read from the app (``callback_map``), so one registered later is
covered the moment it exists. Values are varied one input at a time (the others
empty, buttons clicked so the action behind them runs), from a fixed list: the
run is the same every time and stays well under a minute and a half.
"""
from __future__ import annotations

import inspect
import json
import re
from collections import Counter

import pytest
from sqlalchemy import select, text

from auth.guard import SIGNED_IN, callback_permission
from auth.permissions import ROLE_PERMISSIONS
from tests.conftest import login
from tests.integration.test_security_matrix import _output
from tests.webutil import render_page

HUGE = "x" * 100_000
TAMPERED = [None, "", HUGE, "a\x00b", -1, 2**63, 12.5, True, "not-a-number", ["a", 1], {"x": {"y": [1, None]}},
            [[{"id": None}]]]
# What a pattern-matching id's wildcard keys are replaced with: no component has such an index.
GARBAGE_INDEXES = ["no-such-index", -1, 2**63, None, {"a": 1}, ["x"], "x" * 5000, "\x00"]
CLICKS = ("n_clicks", "n_submit", "n_clicks_timestamp")
# A browser's location always has both: the router's other input is varied against a real one.
PLAUSIBLE = {"pathname": "/", "search": ""}
# Values a query string can carry into a page's layout (Dash's router passes them on as text).
QUERY_VALUES = ["%00", "x" * 100_000, "-1", "99999999999999999999", "2024-02-30", "%7B%22a%22%3A1%7D"]
LEAKS = re.compile(r"Traceback|File \"|\b[A-Z]\w*(?:Error|Exception|Warning)\b|sqlalchemy|psycopg")
# Written by signing in, reading pages and the audit of what was read: not data a tampered payload may change.
# job_requests: Verify now on the audit page asks the scheduler for a check (one click, nothing to tamper with).
VOLATILE_TABLES = {"audit_log", "audit_chain_head", "user_sessions", "usage_events", "usage_clicks", "user_mfa",
                   "idempotency_keys", "job_requests"}
# What counts as a change where reading writes too: the Overview asks for the weekly rating
# (a row) when due, and "Check now" on Alerts (one click, nothing to tamper with) evaluates
# the rules, opening and resolving events. Answers, rule definitions and acknowledgements count.
WHAT_COUNTS = {"usage_ratings": ("r", "r.answered_at IS NOT NULL"),
               # Who may do what; not the sign-in bookkeeping (last login, failed attempts, lockout)
               # nor the name, which the profile's save-name callback takes from any printable text.
               "users": ("(r.id, r.email, r.role, r.is_active, r.password_hash, r.capacity, r.skills, "
                         "r.licensed_states, r.email_verified_at)", "true"),
               "alert_rules": ("(r.id, r.name, r.metric, r.comparison, r.threshold, r.period, r.department_id, "
                               "r.severity, r.enabled)", "true"),
               "alert_events": ("(r.id, r.acknowledged_at, r.acknowledged_by_id)", "r.acknowledged_at IS NOT NULL")}


def _compact(ident) -> str:
    return ident if isinstance(ident, str) else json.dumps(ident, separators=(",", ":"), sort_keys=True)


def _is_multi(dep: dict) -> bool:
    return dep["id"].startswith("{") and any(v in (["ALL"], ["ALLSMALLER"]) for v in json.loads(dep["id"]).values())


def _concrete_id(dep: dict, index="tampered"):
    """The id of one component the dependency names: wildcards replaced by ``index``."""
    if not dep["id"].startswith("{"):
        return dep["id"]
    return {k: (index if isinstance(v, list) else v) for k, v in json.loads(dep["id"]).items()}


def _item(dep: dict, value, index="tampered"):
    item = {"id": _concrete_id(dep, index), "property": dep["property"], "value": value}
    return [item] if _is_multi(dep) else item


def _neutral(dep: dict):
    """A value a browser might send: buttons clicked (so the action behind them runs), the rest empty."""
    if dep["property"] in CLICKS:
        return [] if _is_multi(dep) else _item(dep, 1)
    return [] if _is_multi(dep) else _item(dep, PLAUSIBLE.get(dep["property"]))


def _body(key: str, entry: dict, inputs: list, state: list, changed: list | None = None) -> dict:
    many = isinstance(entry["output"], list)
    outputs = [_output(o) for o in (entry["output"] if many else [entry["output"]])]
    if changed is None:
        first = inputs[0][0] if isinstance(inputs[0], list) and inputs[0] else inputs[0]
        changed = [f"{_compact(first['id'])}.{first['property']}"] if isinstance(first, dict) else []
    return {"output": key, "outputs": outputs if many else outputs[0], "inputs": inputs, "state": state,
            "changedPropIds": changed}


def _variants(key: str, entry: dict):
    """(label, body) pairs: each input and state in turn given each tampered value."""
    deps = [("input", i, d) for i, d in enumerate(entry["inputs"])] + \
           [("state", i, d) for i, d in enumerate(entry["state"])]
    base = {"input": [_neutral(d) for d in entry["inputs"]], "state": [_neutral(d) for d in entry["state"]]}
    if not entry["inputs"]:
        return
    yield "all empty", _body(key, entry, [[] if _is_multi(d) else _item(d, None) for d in entry["inputs"]],
                             [[] if _is_multi(d) else _item(d, None) for d in entry["state"]])
    for kind, i, dep in deps:
        for value in TAMPERED:
            inputs, state = list(base["input"]), list(base["state"])
            target = inputs if kind == "input" else state
            target[i] = _item(dep, value)
            changed = None
            if kind == "input" and isinstance(target[i], dict):
                changed = [f"{_compact(target[i]['id'])}.{dep['property']}"]
            yield f"{kind} {dep['id']}.{dep['property']}={value!r:.40}", _body(key, entry, inputs, state, changed)
        if dep["id"].startswith("{"):
            for index in GARBAGE_INDEXES:
                inputs, state = list(base["input"]), list(base["state"])
                target = inputs if kind == "input" else state
                target[i] = _item(dep, 1 if dep["property"] in CLICKS else "x", index)
                changed = None
                if kind == "input":
                    changed = [f"{_compact(_concrete_id(dep, index))}.{dep['property']}"]
                yield f"{kind} {dep['id']} index={index!r:.40}", _body(key, entry, inputs, state, changed)
    for label, broken in (("without its property", {"id": _concrete_id(entry["inputs"][0])}),
                          ("with a number for an id", {"id": 17, "property": "value", "value": 1}),
                          ("as a list holding junk", ["junk", 1])):
        yield f"first input {label}", _body(key, entry, [broken] + base["input"][1:], base["state"], [])
    for changed in (["{not json.n_clicks"], [17], "a string", [None], ["no-such-component.value"], [{"id": 1}]):
        yield f"changedPropIds={changed!r}", _body(key, entry, base["input"], base["state"], changed)


def _callbacks(web_app) -> list[str]:
    keys = [k for k in web_app.callback_map if callback_permission(web_app, k) is not None]
    assert len(keys) >= 40, "the app registered fewer callbacks than it has: is it wired?"
    return sorted(keys)


def _allowed(role: str, perm) -> bool:
    return perm == SIGNED_IN or perm in ROLE_PERMISSIONS[role]


@pytest.fixture(scope="module")
def signed_in(web_app):
    """One client per role for the whole module (the admin answers MFA once)."""
    from jobs.bootstrap import DEMO_LOGINS

    clients, emails = {}, []
    names = app_names(web_app)
    for role in ("admin", "adjuster"):
        creds = next(d for d in DEMO_LOGINS if d.role == role)
        client = web_app.server.test_client()
        response = login(client, creds.email, creds.password)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        clients[role], emails = client, emails + [creds.email]
    yield clients
    # A wrong current password sent to the profile callbacks counts towards the sign-in lockout
    # (by design: a stolen session must not guess the password behind it); the demo users
    # are shared with every later test of the session.
    from db.flask_db import unit_of_work
    from db.models import User
    from services import lockout

    with web_app.server.app_context(), unit_of_work() as session:
        for user in session.scalars(select(User).where(User.email.in_(emails))):
            lockout.register_success(user)
            # "not-a-number" is a name the profile accepts; later tests expect the demo names.
            user.name = names[user.email]


def app_names(web_app) -> dict[str, str]:
    from db.flask_db import read_session
    from db.models import User

    with web_app.server.app_context():
        return dict(read_session().execute(select(User.email, User.name)).all())


def _fingerprint(web_app) -> dict[str, str]:
    """A digest of every table a callback could change (not the ones reading writes)."""
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        tables = session.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                      "AND tablename <> 'alembic_version' ORDER BY tablename")).all()
        digests = {}
        for t in tables:
            if t in VOLATILE_TABLES:
                continue
            row, where = WHAT_COUNTS.get(t, ("r", "true"))
            digests[t] = session.scalar(text(  # nosec B608: table names from pg_tables, the rest constants
                f"SELECT md5(coalesce(string_agg({row}::text, '|' ORDER BY {row}::text), '')) FROM \"{t}\" r "
                f"WHERE {where}"))
        return digests


def _problem(response) -> str | None:
    body = response.get_data(as_text=True)
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {body[:300]}"
    leak = LEAKS.search(body)
    if leak:
        return f"HTTP {response.status_code} shows {leak.group(0)!r}: ...{body[max(0, leak.start() - 150):leak.end() + 150]}"
    if response.status_code == 200:
        try:
            json.loads(body)
        except ValueError:
            return f"HTTP 200 that is not JSON: {body[:200]}"
    return None


@pytest.mark.parametrize("role", ["admin", "adjuster"])
def test_every_callback_survives_tampered_payloads(web_app, signed_in, role):
    client = signed_in[role]
    before = _fingerprint(web_app)
    problems, statuses, covered = [], Counter(), 0
    for key in _callbacks(web_app):
        if not _allowed(role, callback_permission(web_app, key)):
            continue
        covered += 1
        for label, body in _variants(key, web_app.callback_map[key]):
            response = client.post("/_dash-update-component", json=body)
            statuses[response.status_code] += 1
            problem = _problem(response)
            if problem:
                problems.append(f"{key} | {label} | {problem}")
    print(f"{role}: {covered} callbacks, {sum(statuses.values())} requests, by status {dict(statuses)}")
    assert problems == [], "\n".join(problems[:400]) + f"\n({len(problems)} problems)"
    after = _fingerprint(web_app)
    assert {t for t in before if before[t] != after.get(t)} == set()


def _query_names(layout) -> list[str]:
    """The query parameters a page's layout reads: named arguments, and the keys it looks up in ``**query``."""
    names = [n for n, p in inspect.signature(layout).parameters.items() if p.kind is not p.VAR_KEYWORD]
    source = inspect.getsource(layout)
    names += re.findall(r'query\.get\("(\w+)"', source)
    for keys in re.findall(r"for k in \(([^)]*)\)", source):
        names += re.findall(r'"(\w+)"', keys)
    return sorted(set(names))


def test_every_page_survives_tampered_query_strings(web_app, signed_in):
    """Dash's router hands the query string to the page's layout: every parameter a layout
    reads, and every path variable, gets values no link of SCOPE's carries."""
    import dash

    client = signed_in["admin"]
    problems, sent = [], 0
    for page in dash.page_registry.values():
        if not callable(page.get("layout")):
            continue
        template = page.get("path_template")
        names = _query_names(page["layout"])
        for value in QUERY_VALUES:
            requests = [(page["path"], f"?{name}={value}") for name in names]
            requests += [(page["path"], f"?{name}=a&{name}={value}") for name in names]  # a list, not text
            if template:
                requests += [(re.sub(r"<\w+>", value, template), "")]
            for pathname, search in requests:
                status, body = render_page(client, pathname, search)
                sent += 1
                leak = LEAKS.search(body)
                if status >= 500 or leak:
                    problems.append(f"{pathname}{search[:60]} | HTTP {status} | {leak.group(0) if leak else body[:200]}")
    print(f"pages: {sent} requests")
    assert sent >= 50
    assert problems == [], "\n".join(problems)
