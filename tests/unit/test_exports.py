"""CSV and Excel files from tables: values, types and formats as a spreadsheet reads them."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

from services.exports import Table, to_csv, to_xlsx

COLUMNS = [("claim", "Claim", "text"), ("reported", "Reported", "date"), ("reserve", "Reserve ($)", "money"),
           ("share", "Share", "pct"), ("n", "Claims", "int")]
ROWS = [{"claim": "C-1", "reported": dt.date(2026, 10, 31), "reserve": 1234.5, "share": 0.25, "n": 3},
        {"claim": 'He said "hi", then left', "reported": None, "reserve": None, "share": None, "n": 0},
        {"claim": "C-3", "reported": dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc), "reserve": 0.0,
         "share": 1.0, "n": 7}]


def _cells(data: bytes, sheet: int) -> dict[str, str]:
    """Cell reference -> raw value (shared strings resolved) of one worksheet."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        strings = re.findall(r"<t[^>]*>([^<]*)</t>", z.read("xl/sharedStrings.xml").decode())
        xml = z.read(f"xl/worksheets/sheet{sheet}.xml").decode()
    out = {}
    for ref, attrs, value in re.findall(r'<c r="([A-Z]+\d+)"([^>]*)><v>([^<]*)</v></c>', xml):
        out[ref] = strings[int(value)] if 't="s"' in attrs else value
    return out


def test_csv_keeps_every_row_quotes_text_and_formats_numbers():
    text = to_csv([Table("Claims", COLUMNS, ROWS)], currency="USD")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Claim", "Reported", "Reserve ($)", "Share", "Claims"]
    assert rows[1] == ["C-1", "2026-10-31", "1234.50", "0.2500", "3"]
    assert rows[2] == ['He said "hi", then left', "", "", "", "0"]
    assert len(rows) == 4


def test_csv_of_several_tables_names_each_rows_table():
    rows = list(csv.reader(io.StringIO(to_csv([Table("A", COLUMNS, ROWS[:1]), Table("B", COLUMNS, ROWS[2:])], currency="USD"))))
    assert rows[0][0] == "table" and [r[0] for r in rows[1:]] == ["A", "B"]


def test_excel_cells_hold_typed_values_and_dates_as_excel_serials():
    data = to_xlsx([Table("Claims", COLUMNS, ROWS)], [("Period", "2026-01-01 to 2026-10-31")], "Test export",
                   currency="USD")
    about, sheet = _cells(data, 1), _cells(data, 2)
    assert about["A1"] == "Test export" and about["B3"] == "2026-01-01 to 2026-10-31"
    assert about["A4"] == "Currency" and about["B4"] == "USD" and about["A7"] == "Sheets" and about["A8"] == "Claims"
    assert [sheet[f"{c}1"] for c in "ABCDE"] == ["Claim", "Reported", "Reserve ($)", "Share", "Claims"]
    assert sheet["A2"] == "C-1"
    assert float(sheet["B2"]) == 46326  # 2026-10-31 in Excel's 1900 date system
    assert float(sheet["B4"]) == 46082.5  # an aware datetime loses its zone, keeps its time
    assert float(sheet["C2"]) == 1234.5 and float(sheet["D2"]) == 0.25 and sheet["E3"] == "0"
    assert "B3" not in sheet and "C3" not in sheet  # missing values stay empty, not 0
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        styles = z.read("xl/styles.xml").decode()
        xml = z.read("xl/worksheets/sheet2.xml").decode()
    assert all(f'formatCode="{f}"' in styles for f in ("yyyy-mm-dd", "#,##0.00", "0.0%"))
    assert '<autoFilter ref="A1:E4"/>' in xml and 'ySplit="1"' in xml


def test_money_keeps_the_currencys_decimals():
    columns = [("reserve", "Reserve (¥)", "money")]
    rows = list(csv.reader(io.StringIO(to_csv([Table("Claims", columns, ROWS)], currency="JPY"))))
    assert rows[1] == ["1234"] and rows[3] == ["0"]  # 1234.5 to the even yen, as Python rounds
    with zipfile.ZipFile(io.BytesIO(to_xlsx([Table("Claims", columns, ROWS)], [], "t", currency="JPY"))) as z:
        formats = re.findall(r'formatCode="([^"]+)"', z.read("xl/styles.xml").decode())
    assert "#,##0" in formats and "#,##0.00" not in formats
    rows = list(csv.reader(io.StringIO(to_csv([Table("Claims", columns, ROWS)], currency="BHD"))))
    assert rows[1] == ["1234.500"]


def test_excel_dates_before_march_1900_follow_excels_leap_year_rule():
    data = to_xlsx([Table("Old", [("d", "Date", "date")], [{"d": dt.date(1900, 2, 28)}, {"d": dt.date(1900, 3, 1)}])],
                   [], "Old dates", currency="USD")
    sheet = _cells(data, 2)
    assert float(sheet["A2"]) == 59 and float(sheet["A3"]) == 61  # Excel's phantom 1900-02-29 is 60


def test_excel_sheet_names_are_cleaned_and_unique():
    data = to_xlsx([Table("By region: [all]", COLUMNS, []), Table("By region: [all]", COLUMNS, [])], [], "t",
                   currency="USD")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = re.findall(r'<sheet name="([^"]+)"', z.read("xl/workbook.xml").decode())
    assert names == ["Filters", "By region   all", "By region   all 2"]


def test_csv_text_that_a_spreadsheet_would_run_is_quoted_numbers_stay_numbers():
    columns = [("name", "Name", "text"), ("n", "Claims", "int"), ("paid", "Paid ($)", "money")]
    rows = [{"name": "=HYPERLINK(\"http://x\")", "n": -3, "paid": -12.5}, {"name": "+1", "n": 0, "paid": 0.0},
            {"name": "-2", "n": 1, "paid": 1.0}, {"name": "@SUM(A1)", "n": 1, "paid": 1.0},
            {"name": "▲ +3%", "n": 1, "paid": 1.0}]
    text = to_csv([Table("=evil", columns, rows), Table("B", columns, [])], currency="USD")
    out = list(csv.reader(io.StringIO(text)))
    assert [r[1] for r in out[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "▲ +3%"]
    assert out[1][0] == "'=evil" and out[1][2:] == ["-3", "-12.50"]  # a negative figure is not text


def test_tables_with_their_own_columns_get_their_own_header_and_rows_their_own_kind():
    head = Table("Headline figures", [("figure", "Figure", "text"), ("value", "Value", "row")],
                 [{"figure": "Period", "value": "2026-01-01 to 2026-03-31", "kind": "text"},
                  {"figure": "Claims received", "value": 1200, "kind": "int"},
                  {"figure": "Routing accuracy", "value": 0.9123, "kind": "pct"},
                  {"figure": "Total paid", "value": 1234.5, "kind": "money"}])
    text = to_csv([head, Table("Claims", COLUMNS, ROWS[:1])], currency="USD")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["table", "Figure", "Value"]
    assert [r[2] for r in rows[1:5]] == ["2026-01-01 to 2026-03-31", "1200", "0.9123", "1234.50"]
    assert rows[5] == ["table", "Claim", "Reported", "Reserve ($)", "Share", "Claims"] and rows[6][:2] == ["Claims", "C-1"]

    data = to_xlsx([head], [("Period", "=1+1")], "t", currency="USD", about_last=True)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = re.findall(r'<sheet name="([^"]+)"', z.read("xl/workbook.xml").decode())
        xml = z.read("xl/worksheets/sheet1.xml").decode()
        about = z.read("xl/worksheets/sheet2.xml").decode()
    assert names == ["Headline figures", "Filters"]
    sheet = _cells(data, 1)
    assert sheet["B2"] == "2026-01-01 to 2026-03-31" and float(sheet["B3"]) == 1200
    assert float(sheet["B4"]) == 0.9123 and float(sheet["B5"]) == 1234.5
    styles = re.findall(r'<c r="B[345]" s="(\d+)"', xml)
    assert len(styles) == len(set(styles)) == 3  # count, share and money each in their own number format
    assert "<f>" not in about and _cells(data, 2)["B3"] == "=1+1"  # a filter value is text, never a formula
