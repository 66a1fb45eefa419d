"""The filter panel above a queue grid: filters, and the user's saved filters."""
from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import dcc, html

from services import currency as money

STATUS_LABELS = {"new": "New", "assigned": "Assigned", "in_review": "In review", "awaiting_info": "Awaiting info",
                 "closed": "Closed"}


def line_label(code: str | None) -> str:
    """A line of business as people read it ("workers_comp" -> "Workers comp"); the grid's
    Line column formats the same way in the browser (LINE_FORMATTER)."""
    return code.replace("_", " ").capitalize() if code else "—"


# JavaScript twin of ``line_label`` for the grid (rows keep the code: sorting and the API use it).
LINE_FORMATTER = ("params.value == null ? '' : params.value.split('_').join(' ').charAt(0).toUpperCase()"
                  " + params.value.split('_').join(' ').slice(1).toLowerCase()")


# The panel's controls in the order the callbacks read and write them (callbacks/queues.py).
FORM_KEYS = ("search", "statuses", "lines", "confidence", "amount_min", "amount_max", "date_field", "date_from",
             "date_to", "overdue")
_FORM_DEFAULTS = {"date_field": "report_date", "overdue": False}


def form_values(f: dict | None) -> tuple:
    """The panel's control values for applied filters (QueueFilters.to_json())."""
    f = f or {}
    return tuple(f.get(k) or _FORM_DEFAULTS.get(k) for k in FORM_KEYS)


def _label(text: str, for_id: str) -> dbc.Label:
    return dbc.Label(text, html_for=for_id, className="form-label small text-muted mb-1")


def _field(text: str, control, for_id: str, **col) -> dbc.Col:
    return dbc.Col([_label(text, for_id), control], **col)


def filter_panel(*, currency: str, statuses: list[str], lines: list[str], bands: dict[str, str],
                 saved: list[tuple[int, str]], initial: dict | None = None) -> dbc.Card:
    """Controls keep their ids across pages, so one set of callbacks serves
    the department queues and "My work". ``initial``: the filters already applied
    (from the page's address), shown in the controls."""
    value = dict(zip(FORM_KEYS, form_values(initial)))

    def multi(id_, options, placeholder):
        return dcc.Dropdown(id=id_, options=options, multi=True, placeholder=placeholder,
                            className="qf-dropdown", value=value[id_.removeprefix("qf-")] or None)

    filters = dbc.Row([
        _field("Search", dbc.Input(id="qf-search", type="search", maxLength=100, debounce=True, value=value["search"],
                                   placeholder="Claim number or words in the description"),
               "qf-search", md=12, lg=4),
        _field("Status", multi("qf-statuses", [{"label": STATUS_LABELS.get(s, s), "value": s} for s in statuses],
                               "Any open status"), "qf-statuses", md=4, lg=3),
        _field("Line of business", multi("qf-lines", [{"label": line_label(x), "value": x} for x in lines],
                                         "Any line"), "qf-lines", md=4, lg=2),
        _field("Routing confidence", multi("qf-confidence", [{"label": v, "value": k} for k, v in bands.items()],
                                           "Any confidence"), "qf-confidence", md=4, lg=3),
        _field(f"Claimed amount ({money.symbol(currency)})", dbc.InputGroup([
            # No min or step: the browser would blank -50 or 99.5 and the filter would be dropped
            # without a word (and Clear could not empty the box); the server says what is wrong.
            dbc.Input(id="qf-amount-min", type="number", step="any", placeholder="min", value=value["amount_min"]),
            dbc.InputGroupText("–"),
            dbc.Input(id="qf-amount-max", type="number", step="any", placeholder="max", value=value["amount_max"]),
        ], size="sm"), "qf-amount-min", md=6, lg=4),
        _field("Dates", dbc.InputGroup([
            dbc.Select(id="qf-date-field", value=value["date_field"],
                       options=[{"label": "Reported", "value": "report_date"},
                                {"label": "Loss date", "value": "loss_date"}], style={"maxWidth": "8rem"}),
            dbc.Input(id="qf-date-from", type="date", value=value["date_from"]),
            dbc.InputGroupText("to"),
            dbc.Input(id="qf-date-to", type="date", value=value["date_to"]),
        ], size="sm"), "qf-date-field", md=6, lg=5),
        dbc.Col(html.Div([
            html.Div(dbc.Switch(id="qf-overdue", label="Past service level", value=bool(value["overdue"]),
                                className="mb-0 small"),
                     className="mb-1 me-3",
                     title="Only open claims reported longer ago than their department's service level"),
            dbc.Button("Apply", id="qf-apply", color="primary", size="sm", className="me-2"),
            dbc.Button("Clear", id="qf-clear", color="secondary", outline=True, size="sm"),
        ], className="d-flex align-items-end flex-wrap h-100"), md=12, lg=3),
    ], className="g-2")

    saved_row = dbc.Row([
        _field("Saved filters", dcc.Dropdown(id="qf-saved", options=saved_options(saved), clearable=True,
                                             placeholder="Pick one to apply it", className="qf-dropdown"),
               "qf-saved", md=5, lg=4),
        dbc.Col(html.Div(dbc.Button("Delete", id="qf-delete", color="danger", outline=True, size="sm"),
                         className="d-flex align-items-end h-100"), width="auto"),
        _field("Save current filters as", dbc.InputGroup([
            dbc.Input(id="qf-save-name", maxLength=80, placeholder="e.g. Big open auto claims"),
            dbc.Button("Save", id="qf-save", color="primary", outline=True),
        ], size="sm"), "qf-save-name", md=5, lg=4),
        dbc.Col(html.Div(id="qf-saved-message", className="small text-muted d-flex align-items-end h-100"),
                md=12, lg=True),
    ], className="g-2 mt-1 pt-2 border-top")

    return dbc.Card(dbc.CardBody([
        filters,
        html.Div(id="qf-message", className="small mt-2", role="status"),
        saved_row,
    ]), className="shadow-sm mb-3 queue-filters")


def saved_options(saved: list[tuple[int, str]]) -> list[dict]:
    return [{"label": name, "value": filter_id} for filter_id, name in saved]


def describe_filters(filters: dict, bands: dict[str, str], *, currency: str) -> str:
    """A one-line summary of applied filters (for the status line), amounts in the deployment's currency."""
    parts = []
    if filters.get("search"):
        parts.append(f"search \u201c{filters['search']}\u201d")
    if filters.get("overdue"):
        parts.append("past service level")
    if filters.get("statuses"):
        parts.append("status " + ", ".join(STATUS_LABELS.get(s, s) for s in filters["statuses"]))
    if filters.get("lines"):
        parts.append("line " + ", ".join(line_label(x) for x in filters["lines"]))
    if filters.get("confidence"):
        parts.append("confidence " + ", ".join(bands.get(b, b).split(" (")[0].lower() for b in filters["confidence"]))
    lo, hi = filters.get("amount_min"), filters.get("amount_max")
    if lo is not None and hi is not None:
        parts.append(f"amount {money.money_short(lo, currency)}–{money.money_short(hi, currency)}")
    elif lo is not None:
        parts.append(f"amount ≥ {money.money_short(lo, currency)}")
    elif hi is not None:
        parts.append(f"amount ≤ {money.money_short(hi, currency)}")
    if filters.get("date_from") or filters.get("date_to"):
        which = "loss date" if filters.get("date_field") == "loss_date" else "reported"
        parts.append(f"{which} {filters.get('date_from') or '…'} to {filters.get('date_to') or '…'}")
    return "; ".join(parts)


# The grid asks the server for rows (infinite row model). Applied panel
# filters travel as the filter of this hidden column: setting a new filter
# model makes AG Grid drop its row cache, go back to the first page and ask
# again, and every row request then carries the filters it was made for.
PANEL_COLUMN = "_panel_filters"


def panel_filter_model(revision: int, filters: dict) -> dict:
    payload = json.dumps({"rev": int(revision), "filters": filters}, separators=(",", ":"), sort_keys=True)
    return {PANEL_COLUMN: {"filterType": "text", "type": "equals", "filter": payload}}


def queue_columns(*, currency: str, with_department: bool = False) -> list[dict]:
    # Widths fit a 1280 px screen with the description still readable (it had about
    # four characters there): fixed columns just wide enough for their values with the
    # grid's narrower cell padding (.queue-grid in 10-scope.css); the description takes
    # the rest and scrolls sideways rather than shrinking below its minimum.
    cols = [
        {"field": "claim_number", "headerName": "Claim", "cellRenderer": "ClaimLink", "pinned": "left", "width": 160},
        # Red when an open claim is past its department's service level; the tooltip says since when.
        {"field": "report_date", "headerName": "Reported", "width": 106, "sort": "desc", "tooltipField": "sla_note",
         "cellClassRules": {"sla-overdue": "params.data && params.data.overdue"}},
        {"field": "loss_date", "headerName": "Loss date", "width": 100},
        {"field": "line_of_business", "headerName": "Line", "width": 118,
         "valueFormatter": {"function": LINE_FORMATTER}},
        {"field": "status", "headerName": "Status", "width": 112, "cellRenderer": "StatusBadge"},
        {"field": "claimed_amount", "headerName": "Claimed", "type": "rightAligned", "width": 96,
         "valueFormatter": {"function": money.grid_formatter(currency)}},
        {"field": "confidence", "headerName": "Confidence", "width": 112, "type": "rightAligned",
         "cellRenderer": "ConfidenceBar"},
        {"field": "state", "headerName": "State", "width": 66},
        {"field": "adjuster", "headerName": "Adjuster", "sortable": False, "width": 126, "tooltipField": "adjuster",
         "valueFormatter": {"function": "params.data ? (params.value || 'Unassigned') : ''"}},
        {"field": "description", "headerName": "Description", "sortable": False, "flex": 1, "minWidth": 220,
         "tooltipField": "description"},
        {"field": PANEL_COLUMN, "hide": True, "filter": "agTextColumnFilter", "sortable": False,
         "suppressColumnsToolPanel": True},
    ]
    if with_department:
        # "My work": claims span departments, and the adjuster is always the viewer.
        cols.insert(1, {"field": "department_name", "headerName": "Department", "width": 150, "sortable": False,
                        "tooltipField": "department_name"})
        cols = [c for c in cols if c["field"] != "adjuster"]
        # One person's worklist: oldest first, so claims past their service level lead page 1
        # (newest first, 24 overdue claims sat on later pages).
        next(c for c in cols if c["field"] == "report_date")["sort"] = "asc"
    return cols


def queue_grid(*, currency: str, with_department: bool = False, initial_filters: dict | None = None):
    """``initial_filters``: panel filters applied from the first row request (a link
    such as Workload's "past it" opens the queue already filtered)."""
    import dash_ag_grid as dag

    extra = {"filterModel": panel_filter_model(0, initial_filters)} if initial_filters else {}
    return dag.AgGrid(
        id="queue-grid",
        **extra,
        columnDefs=queue_columns(currency=currency, with_department=with_department),
        defaultColDef={"sortable": True, "resizable": True},
        rowModelType="infinite",
        dashGridOptions={"rowBuffer": 0, "cacheBlockSize": 100, "maxBlocksInCache": 20, "pagination": True,
                         "paginationPageSize": 25, "paginationPageSizeSelector": [25, 50, 100],
                         "animateRows": False, "suppressCellFocus": True, "tooltipShowDelay": 400,
                         # Until the first rows arrive the grid does not know the count: "1 to … of …",
                         # not its default "1 to ? of more", which read as a broken count.
                         "localeText": {"noRowsToShow": "No claims match these filters.",
                                        "pageLastRowUnknown": "…", "more": "…"}},
        style={"height": "680px"},
        className="ag-theme-quartz queue-grid",
    )
