"""Tables to CSV and Excel files (bytes in memory; no session, no Flask).

A table is a title, columns ``(key, header, kind)`` and rows (dicts). Kinds:
text, int, money, pct (a 0..1 share), date, or "row": each row names its own
kind in its "kind" key (a table of headline figures holds counts, days, rates
and money in one column). Money keeps the decimals of the deployment's
currency (none for JPY); its symbol is in the column's header. Excel gets a
bold frozen header row, number and date formats, column widths that fit the
values, an autofilter and a sheet naming the filters and the currency (first,
or last with ``about_last``), so a file shared later still says what it holds.

CSV text that a spreadsheet would run as a formula (a leading =, +, -, @, tab
or carriage return) gets a leading apostrophe; numbers are written as numbers.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

import xlsxwriter

from services import currency as money

KINDS = ("text", "int", "money", "pct", "date", "row")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    title: str
    columns: list[tuple[str, str, str]]
    rows: list[dict]


def _kind(kind: str, row: dict) -> str:
    return (row.get("kind") or "text") if kind == "row" else kind


def _csv_value(value, kind: str, decimals: int):
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    if kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    if kind == "pct":
        return f"{value:.4f}"
    if kind == "money":
        return f"{value:.{decimals}f}"
    return value


def to_csv(tables: list[Table], *, currency: str) -> str:
    """One table as plain CSV; several get a leading "table" column naming each row's table,
    and a header row of their own wherever their columns differ from the table's before."""
    out = io.StringIO()
    writer = csv.writer(out)
    several = len(tables) > 1
    decimals = money.decimals(currency)
    if not tables:
        return ""
    header = None
    for table in tables:
        if table.columns != header:
            header = table.columns
            writer.writerow((["table"] if several else []) + [_csv_value(h, "text", decimals) for _, h, _ in header])
        for row in table.rows:
            writer.writerow(([_csv_value(table.title, "text", decimals)] if several else [])
                            + [_csv_value(row.get(key), _kind(kind, row), decimals)
                               for key, _, kind in table.columns])
    return out.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Sheet"
    base, n = name, 2
    while name.lower() in used:
        name = f"{base[:28]} {n}"
        n += 1
    used.add(name.lower())
    return name


def _display_width(value, kind: str) -> int:
    if value is None:
        return 0
    if kind == "money":
        return len(f"{value:,.2f}") + 1  # two decimals even for yen: a column a little wide is harmless
    if kind == "pct":
        return 7
    if kind == "date":
        return 10
    return len(str(value))


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def _excel_serial(value) -> float:
    """A date or naive/aware datetime as Excel's day number (1900 system)."""
    if type(value) is dt.date:
        return float((value - _EXCEL_EPOCH.date()).days)
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    delta = value - _EXCEL_EPOCH
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000


def _writer(sheet, kind: str, fmt):
    if kind == "date":  # Excel's serials before March 1900 carry its leap-year bug: let xlsxwriter do those
        return lambda r, c, v: (sheet.write_number(r, c, _excel_serial(v), fmt) if v.year > 1900
                                else sheet.write_datetime(r, c, v if isinstance(v, dt.datetime)
                                                          else dt.datetime.combine(v, dt.time()), fmt))
    if kind in ("int", "money", "pct"):
        return lambda r, c, v: sheet.write_number(r, c, v, fmt)
    return lambda r, c, v: sheet.write_string(r, c, str(v))


def to_xlsx(tables: list[Table], filters: list[tuple[str, str]], title: str, *, currency: str,
            about_last: bool = False) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    bold = book.add_format({"bold": True})
    header = book.add_format({"bold": True, "bg_color": "#E9ECEF", "bottom": 1, "text_wrap": True,
                              "valign": "top"})
    places = money.decimals(currency)
    formats = {"int": book.add_format({"num_format": "#,##0"}),
               "money": book.add_format({"num_format": "#,##0" + ("." + "0" * places if places else "")}),
               "pct": book.add_format({"num_format": "0.0%"}),
               "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "text": None}
    used: set[str] = set()
    if about_last:  # the tables' sheets first (a "Headline figures" sheet is what a reader opens first)
        for table in tables:
            _table_sheet(book, table, used, header, formats)
    _about_sheet(book, tables, filters, title, currency, used, bold)
    if not about_last:
        for table in tables:
            _table_sheet(book, table, used, header, formats)
    book.close()
    return buffer.getvalue()


def _about_sheet(book, tables: list[Table], filters, title: str, currency: str, used: set[str], bold) -> None:
    about = book.add_worksheet(_sheet_name("Filters", used))
    about.write(0, 0, title, book.add_format({"bold": True, "font_size": 14}))
    facts = filters + [("Currency", currency),
                       ("Exported (UTC)", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"))]
    for i, (name, value) in enumerate(facts, start=2):
        about.write_string(i, 0, name, bold)
        about.write_string(i, 1, value)  # write() would take a department named "=..." for a formula
    about.write(len(facts) + 3, 0, "Sheets", bold)
    for i, table in enumerate(tables):
        about.write_string(len(facts) + 4 + i, 0, table.title)
        about.write(len(facts) + 4 + i, 1, f"{len(table.rows):,} rows")
    about.set_column(0, 0, 22)
    about.set_column(1, 1, 48)


def _table_sheet(book, table: Table, used: set[str], header, formats: dict) -> None:
    sheet = book.add_worksheet(_sheet_name(table.title, used))
    widths = [len(h) for _, h, _ in table.columns]
    for c, (_, h, _) in enumerate(table.columns):
        sheet.write_string(0, c, h, header)
    # One writer per column, chosen once: the per-cell type dispatch of
    # worksheet.write() is most of the cost of a large sheet. A "row" column picks per cell.
    by_kind = {kind: _writer(sheet, kind, formats[kind]) for kind in formats}
    writers = [(c, key, kind, by_kind.get(kind)) for c, (key, _, kind) in enumerate(table.columns)]
    for r, row in enumerate(table.rows, start=1):
        for c, key, kind, write in writers:
            value = row.get(key)
            if value is None:
                continue
            if write is None:  # kind "row"
                kind = _kind(kind, row)
                write = by_kind.get(kind, by_kind["text"])
            write(r, c, value)
            if r <= 2000:  # widths from a sample: measuring 100,000 rows costs more than it helps
                widths[c] = max(widths[c], _display_width(value, kind))
    for c, width in enumerate(widths):
        sheet.set_column(c, c, min(max(width + 2, 8), 60))
    sheet.freeze_panes(1, 0)
    if table.rows:
        sheet.autofilter(0, 0, len(table.rows), len(table.columns) - 1)
