"""Import a user's legacy claims CSV through a mapping (the "data migration").

Every row is validated; rows with problems go to a reject report (one line per
problem, never dropped silently) and valid rows are stored as closed claims in
all-or-nothing batches. Re-importing a file adds nothing: each row has a
deterministic ``source_key`` and inserts skip keys the dataset already holds.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.bulk import copy_rows
from db.models import Claim, ImportBatch, Party
from services import audit
from services.cleaning import (
    CleaningError, ColumnCleaner, date_from_parts, month_number, parse_bool, parse_int, squash,
    weekday_number,
)
from services.datasets import DatasetNameError, check_dataset_name, ensure_dataset, features_of, get_dataset
from services.departments import department_ids, ensure_departments
from services.intake_parties import LABELS as PARTY_LABELS, ROLE_LABELS, WORDS as PARTY_WORDS, check_field
from services.mappings import (
    AMOUNT_COLUMNS, CLAIM_COLUMNS, DATE_COLUMNS, ColumnRule, Mapping, MappingError, load_mapping,
)

REPORT_FIELDS = ("row", "column", "value", "reason")
_MAX_AMOUNT = Decimal("1e12")  # claims amounts are NUMERIC(14, 2)
_SOURCE_KEY_LEN = 80
PARTY_COLUMNS = ("claim_id", "role", *PARTY_LABELS)


class ImportFailed(Exception):
    """The input cannot be imported at all (nothing was written)."""


@dataclass(frozen=True)
class Reject:
    row: int
    column: str
    value: str
    reason: str


@dataclass
class _Parsed:
    """What reading and validating a file produced."""

    records: list[dict]
    rejects: list[Reject]
    n_rows: int
    sha256: str
    blank_lines: int = 0
    header: list[str] = field(default_factory=list)


# -- reading ------------------------------------------------------------------

def _decode(data: bytes, name: str) -> str:
    # Spreadsheet exports are often Windows-1252 rather than UTF-8; accept both.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFailed(f"{name}: not readable as UTF-8 or Windows-1252 text")


@dataclass
class _Record:
    line: int  # the line the record starts on (the header is line 1)
    fields: list[str]
    problem: Reject | None = None  # the record cannot be trusted as read (quoting)


class _Source:
    """The header and the records of a CSV file, with what reading them found."""

    def __init__(self, path: Path):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImportFailed(f"{path}: file not found") from None
        except IsADirectoryError:
            raise ImportFailed(f"{path}: is a directory, not a CSV file") from None
        except OSError as exc:
            raise ImportFailed(f"{path}: cannot read ({exc.strerror or exc})") from None
        self.name = path.name
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.blank_lines = 0
        self._raw: list[str] = []  # the physical lines of the record being read
        self._reader = csv.reader(self._lines(io.StringIO(_decode(data, path.name), newline="")))
        try:
            self.header = [h.strip() for h in next(self._reader)]
        except StopIteration:
            raise ImportFailed(f"{path.name}: the file is empty (no header line)") from None
        except csv.Error as exc:
            raise ImportFailed(f"{path.name}: header is not valid CSV ({exc})") from None
        dupes = sorted({h for h in self.header if self.header.count(h) > 1})
        if dupes:
            raise ImportFailed(f"{path.name}: column(s) {dupes} appear more than once in the header")
        self.multiline_columns: set[str] = set()

    def _lines(self, stream: io.StringIO) -> Iterator[str]:
        for line in stream:
            self._raw.append(line)
            yield line

    def records(self) -> Iterator[_Record]:
        """Every record; an all-empty line is only counted (``blank_lines``)."""
        start = self._reader.line_num + 1
        while True:
            self._raw.clear()
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFailed(f"{self.name}: line {start}: not valid CSV ({exc})") from None
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                self.blank_lines += 1
            else:
                yield _Record(start, fields, self._quoting_problem(start, fields))
            start = self._reader.line_num + 1

    def _quoting_problem(self, start: int, fields: list[str]) -> Reject | None:
        """A record read over several lines is usually an unclosed quote that swallowed the
        rows after it: the csv module reads on to the next quote or the end of the file."""
        if len(self._raw) < 2:
            return None
        end = start + len(self._raw) - 1
        span = f"lines {start}-{end}"
        try:
            list(csv.reader(list(self._raw), strict=True))
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                return Reject(start, "", _shown("".join(self._raw)),
                              f"unclosed quote: {span} (to the end of the file) were read as one row")
        for i, value in enumerate(fields):
            if "\n" not in value and "\r" not in value:
                continue
            column = self.header[i] if i < len(self.header) else f"field {i + 1}"
            if column not in self.multiline_columns:
                return Reject(start, column, _shown(value),
                              f"line break inside a value ({span}): an unclosed quote?")
            # Free text may hold line breaks, but not what looks like whole rows of this file: as
            # many fields, the first shaped like this row's own ("3635" after "3634"). A description
            # line of commas ("Damage: bumper, tail light, boot lid") is not a row.
            for part in value.splitlines()[1:]:
                cells = next(csv.reader([part]), [])
                if (len(cells) >= len(self.header) and fields and cells[0].strip()
                        and _shape(cells[0]) == _shape(fields[0])):
                    return Reject(start, column, _shown(value),
                                  f"{span} read into one value look like rows of their own: an unclosed quote?")
        return None


def _shape(text: str) -> str:
    """Digits as 9 and letters as a, runs folded: "3635" and "12" -> "9", "A-17" -> "a-9"."""
    marks = "".join("9" if c.isdigit() else "a" if c.isalpha() else c for c in text.strip())
    return re.sub(r"(.)\1+", r"\1", marks)


def _shown(value: str, limit: int = 200) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


# -- validating ---------------------------------------------------------------

def _effective_rules(mapping: Mapping) -> dict[str, ColumnRule]:
    """The mapping's rules plus the defaults implied by how a column is used."""
    rules: dict[str, ColumnRule] = {}
    for ours, sources in mapping.columns.items():
        if ours == "claim_number":
            for col in sources:  # an id is always required, whatever the rule says
                base = mapping.rules.get(col, ColumnRule())
                rules[col] = replace(base, required=True)
        elif ours in DATE_COLUMNS:
            rules[sources[0]] = mapping.rules.get(sources[0], ColumnRule(type="date"))
        elif ours in AMOUNT_COLUMNS:
            rules[sources[0]] = mapping.rules.get(sources[0], ColumnRule(type="decimal"))
    for col in mapping.target.flags:
        rules.setdefault(col, mapping.rules.get(col, ColumnRule(type="bool", required=True)))
    if mapping.target.column:
        rules.setdefault(mapping.target.column, mapping.rules.get(mapping.target.column, ColumnRule(required=True)))
    if mapping.fraud_label:
        rules.setdefault(mapping.fraud_label, mapping.rules.get(mapping.fraud_label, ColumnRule(type="bool")))
    for col in mapping.source_columns():
        rules.setdefault(col, mapping.rule_for(col))
    return rules


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _RowValidator:
    def __init__(self, mapping: Mapping, header: list[str]):
        self.mapping = mapping
        self.header = header
        self.used = set(mapping.source_columns())  # columns not read are never stored
        self.index = {h: i for i, h in enumerate(header)}
        self.width = len(header)
        self.cleaners = {col: ColumnCleaner(rule) for col, rule in _effective_rules(mapping).items()}
        self.target_values = {k.casefold(): v for k, v in mapping.target.values.items()}
        # derived dates that depend on another go last
        self.derived = sorted(mapping.derived_dates.items(), key=lambda kv: kv[1].not_before is not None)
        self.seen_ids: dict[str, int] = {}
        # party column -> values that mean "not recorded" (its rule's ``missing``)
        self.party_missing = {col: {m.casefold() for m in mapping.rule_for(col).missing}
                              for col in mapping.party_columns()}
        self.seen_content: Counter[str] = Counter()

    def validate(self, line: int, fields: list[str]) -> tuple[dict | None, list[Reject]]:
        content = hashlib.sha256("\x1f".join(fields).encode()).hexdigest()
        occurrence = self.seen_content[content]
        self.seen_content[content] += 1
        if len(fields) != self.width:
            return None, [Reject(line, "", "", f"expected {self.width} fields, found {len(fields)}")]
        if not any(f.strip() for f in fields):
            return None, [Reject(line, "", "", "every field is empty")]
        # PostgreSQL text and JSONB cannot hold NUL: refuse the row here rather than have the
        # database refuse the whole batch it would be in.
        nul = [Reject(line, col, raw.replace("\x00", "\\x00"), "contains a NUL byte (0x00)")
               for col, raw in zip(self.header, fields) if "\x00" in raw and col in self.used]
        if nul:
            return None, nul

        problems: list[Reject] = []
        clean: dict[str, Any] = {}
        for col, cleaner in self.cleaners.items():
            raw = fields[self.index[col]]
            try:
                clean[col] = cleaner(raw)
            except CleaningError as exc:
                problems.append(Reject(line, col, raw, str(exc)))
        bad = {p.column for p in problems}

        record: dict[str, Any] = {"line": line}
        record.update(self._claim_columns(clean, bad, line, problems))
        record.update(self._derived_dates(fields, bad, line, problems))
        record["department"] = self._department(clean, fields, bad, line, problems)
        if self.mapping.fraud_label:
            record["fraud_label"] = self._fraud_label(clean, bad, line, problems)
        record["extra"] = {col: _json_value(clean.get(col)) for col in self.mapping.extra}
        record["parties"] = self._parties(fields, line, problems)
        if not problems:
            self._identify(record, clean, content, occurrence, line, problems)
        return (None if problems else record), problems

    def _parties(self, fields: list[str], line: int, problems: list[Reject]) -> list[dict]:
        """The row's people and businesses, checked and normalised as intake does
        (services.intake_parties); a block whose columns are all empty is not there."""
        parties = []
        for block in self.mapping.parties:
            raw = {key: fields[self.index[col]] for key, col in block.columns.items()}
            raw = {key: "" if squash(value).casefold() in self.party_missing[block.columns[key]] else value
                   for key, value in raw.items()}
            if not any(value.strip() for value in raw.values()):
                continue
            party = {"role": block.role}
            for key, value in raw.items():
                stored, error = check_field(key, value)
                if error:
                    problems.append(Reject(line, block.columns[key], value.replace("\x00", "\\x00"),
                                           f"{ROLE_LABELS[block.role]} {PARTY_WORDS[key]}: {error}"))
                elif stored:
                    party[key] = stored
            parties.append(party)
        return parties

    def _claim_columns(self, clean: dict, bad: set, line: int, problems: list[Reject]) -> dict:
        out: dict[str, Any] = dict(self.mapping.constants)
        for ours, sources in self.mapping.columns.items():
            if ours == "claim_number":
                continue
            value = clean.get(sources[0])
            if sources[0] in bad or value is None:
                out[ours] = None
                continue
            if ours in AMOUNT_COLUMNS:
                value = Decimal(str(value))
                # Checked before rounding: quantize raises for exponents like 1e400.
                if abs(value) >= _MAX_AMOUNT:
                    problems.append(Reject(line, sources[0], str(value), "amount too large to store"))
                else:
                    try:
                        value = value.quantize(Decimal("0.01"))
                    except InvalidOperation:
                        problems.append(Reject(line, sources[0], str(value), "amount cannot be stored"))
            elif ours not in DATE_COLUMNS:
                value = str(value)
                limit = CLAIM_COLUMNS[ours]
                if limit and len(value) > limit:
                    problems.append(Reject(line, sources[0], value, f"longer than {limit} characters ({ours})"))
            out[ours] = value
        return out

    def _derived_dates(self, fields: list[str], bad: set, line: int, problems: list[Reject]) -> dict:
        out: dict[str, dt.date | None] = {}
        for ours, rule in self.derived:
            out[ours] = None
            parts = ((rule.year, parse_int), (rule.month, month_number),
                     (rule.week_of_month, parse_int), (rule.day_of_week, weekday_number))
            if bad & {col for col, _ in parts}:
                continue  # the part's own rule already reported the problem
            values = []
            for col, parse in parts:
                raw = fields[self.index[col]]
                try:
                    values.append(parse(squash(raw)))
                except CleaningError as exc:
                    problems.append(Reject(line, col, raw, f"cannot build {ours}: {exc}"))
            if len(values) < len(parts):
                continue
            year, month, week, weekday = values
            earliest = out.get(rule.not_before) if rule.not_before else None
            if earliest and month < earliest.month:
                year += 1  # e.g. an accident in December claimed in January
            try:
                value = date_from_parts(year, month, week, weekday)
            except (CleaningError, ValueError) as exc:
                problems.append(Reject(line, "|".join(col for col, _ in parts),
                                       " ".join(map(str, values)), f"cannot build {ours}: {exc}"))
                continue
            # approximate weeks can put the claim a few days before the accident
            out[ours] = max(value, earliest) if earliest else value
        return out

    def _department(self, clean: dict, fields: list[str], bad: set, line: int,
                    problems: list[Reject]) -> str | None:
        target = self.mapping.target
        if target.column:
            value = clean.get(target.column)
            if target.column in bad or value is None:
                return None
            code = self.target_values.get(str(value).casefold())
            if code is None:
                known = ", ".join(target.values)
                problems.append(Reject(line, target.column, str(value),
                                       f"no department for this value (known: {known})"))
            return code
        if bad & set(target.flags):
            return None
        hits = [col for col in target.flags if clean.get(col)]
        if len(hits) != 1:
            problems.append(Reject(line, "|".join(target.flags), ",".join(fields[self.index[c]] for c in target.flags),
                                   f"exactly one target flag must be set, found {len(hits)}"))
            return None
        return target.flags[hits[0]]

    def _fraud_label(self, clean: dict, bad: set, line: int, problems: list[Reject]) -> bool | None:
        col = self.mapping.fraud_label
        value = clean.get(col)
        if col in bad or value is None or isinstance(value, bool):
            return value
        try:  # the column may be validated as text (e.g. allowed "0"/"1") for the target
            return parse_bool(str(value))
        except CleaningError as exc:
            problems.append(Reject(line, col, str(value), f"fraud label: {exc}"))
            return None

    def _identify(self, record: dict, clean: dict, content: str, occurrence: int, line: int,
                  problems: list[Reject]) -> None:
        """Give the row its source_key and claim_number (deterministic, so re-imports match)."""
        prefix = self.mapping.claim_number_prefix
        ids = self.mapping.id_columns
        if ids:
            key = "-".join(str(clean[c]) for c in ids)
            if key in self.seen_ids:
                problems.append(Reject(line, "|".join(ids), key,
                                       f"duplicate claim id (first seen on line {self.seen_ids[key]})"))
                return
            self.seen_ids[key] = line
            number = prefix + key
        else:
            # No id in the source: identical lines are told apart by their occurrence
            # index, so true duplicates each import once and a re-import matches them.
            key = hashlib.sha256(f"{content}:{occurrence}".encode()).hexdigest()
            number = prefix + key[:12].upper()
        if len(key) > _SOURCE_KEY_LEN or len(number) > 40:
            problems.append(Reject(line, "|".join(ids), key, "claim id too long (claim numbers hold 40 characters)"))
            return
        record["source_key"] = key
        record["claim_number"] = number


def _parse_file(path: str | Path, mapping: Mapping) -> _Parsed:
    path = Path(path)
    source = _Source(path)
    header = source.header
    missing = [c for c in mapping.source_columns() if c not in header]
    if missing:
        raise ImportFailed(f"{path.name}: mapped column(s) {missing} not in the header")
    missing = [f"{c!r} ({b.role}'s {k})" for b in mapping.parties for k, c in b.columns.items() if c not in header]
    if missing:
        raise ImportFailed(f"mapping {mapping.file_name or mapping.name}: party column(s) {', '.join(missing)} "
                           f"not in the header of {path.name}")
    # Only the free-text column may hold line breaks; anywhere else one means broken quoting.
    source.multiline_columns = set(mapping.columns.get("description", ()))
    validator = _RowValidator(mapping, header)
    records, rejects, n_rows = [], [], 0
    for rec in source.records():
        n_rows += 1
        if rec.problem is not None:
            rejects.append(rec.problem)
            continue
        record, problems = validator.validate(rec.line, rec.fields)
        rejects.extend(problems)
        if record is not None:
            records.append(record)
    return _Parsed(records, rejects, n_rows, source.sha256, source.blank_lines, header)


def _as_mapping(mapping: Mapping | str | Path) -> Mapping:
    if isinstance(mapping, Mapping):
        return mapping
    try:
        return load_mapping(mapping)
    except MappingError as exc:
        raise ImportFailed(str(exc)) from None


def read_mapped_frame(path: str | Path, mapping: Mapping | str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """Validate a CSV exactly as an import would, without storing anything.

    Returns one row per valid record with our column names (claims columns the
    mapping fills, its extra columns under their source names, ``department``,
    ``fraud_label`` when mapped, ``source_key``, ``claim_number`` and ``line``)
    and the reject list as dicts with row/column/value/reason.
    """
    mapping = _as_mapping(mapping)
    parsed = _parse_file(path, mapping)
    # Parties are personal data and never router input: not in the frame.
    rows = [{**{k: v for k, v in r.items() if k not in ("extra", "parties")}, **r["extra"]} for r in parsed.records]
    return pd.DataFrame(rows), [r.__dict__.copy() for r in parsed.rejects]


# -- storing ------------------------------------------------------------------

def _claim_row(record: dict, dataset: str, department_ids_: dict[str, int]) -> dict:
    row = {col: record.get(col) for col in CLAIM_COLUMNS}
    row["description"] = row["description"] or ""
    known_date = record.get("report_date") or record.get("loss_date")
    row.update(
        dataset=dataset, source_key=record["source_key"], extra=record["extra"],
        status="closed", department_id=department_ids_[record["department"]],
        fraud_label=record.get("fraud_label"),
        closed_at=dt.datetime.combine(known_date, dt.time(), dt.UTC) if known_date else None,
    )
    return row


def _batches(items: list, size: int) -> Iterator[tuple[int, list]]:
    for start in range(0, len(items), size):
        yield start // size + 1, items[start:start + size]


def _csv_safe(value):
    # A leading =, +, - or @ would run as a formula when the report is opened in a
    # spreadsheet (the same rule as the audit export, services.audit).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# The reject report is a file people copy around: a party's identifiers are masked in it, leaving
# enough to find the value in the row (its line and column are given) but not to use it.
REPORT_MASK = "••••"


def _masked_party_value(key: str, value: str) -> str:
    """"••••1234" for an account, phone, plate, VIN or provider id (the last 4 of its letters and
    digits, 2 when it has fewer than 8, none under 5), "j•••@example.com" for an email,
    initials for a name, nothing of an address."""
    text = " ".join(value.split())
    if not text:
        return value
    if key == "email":
        local, at, domain = text.rpartition("@")
        return (local[:1] + "•••" + at + domain) if at and local else text[:1] + "•••"
    if key == "name":
        return " ".join(word[:1] + "•••" for word in text.split()[:3])
    if key == "address":
        return REPORT_MASK
    compact = "".join(ch for ch in text if ch.isalnum())
    shown = 4 if len(compact) >= 8 else 2 if len(compact) >= 5 else 0
    return REPORT_MASK + (compact[-shown:] if shown else "")


def _masked_row_text(line: str, party_fields: dict[str, str], header: list[str]) -> str:
    """The first line of a row whose quote never closed, for finding the quote: its cells up to
    the quote (party cells masked) and the start of the quoted value. What follows the quote
    (the row's other cells, then the rows after it) was read into one value: not shown."""
    cells = next(csv.reader([line]), [])
    aligned, opened = (cells[:-1], cells[-1]) if cells and '"' in line else (cells, None)

    def cell(i: int, value: str) -> str:
        return _masked_party_value(party_fields[header[i]], value) if i < len(header) and \
            header[i] in party_fields else value

    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([cell(i, v) for i, v in enumerate(aligned)])
    if opened is None:
        return out.getvalue() + " …"
    return out.getvalue() + ("," if aligned else "") + '"' + cell(len(aligned), opened.split(",")[0]) + " …"


def _report_value(r: Reject, party_fields: dict[str, str], header: list[str]) -> str:
    value = r.value
    if not party_fields or not value:
        return value
    if not r.column:  # an unclosed quote's row, as read to the end of the file
        return _masked_row_text(value.splitlines()[0], party_fields, header)
    lines = value.splitlines()
    if len(lines) > 1:
        # The rest is the rows an unclosed quote swallowed, with their parties: the reason names their lines.
        value = lines[0] + " …"
    if r.column in party_fields:
        return _masked_party_value(party_fields[r.column], value)
    return value


def _write_report(path: Path, rejects: list[Reject], party_fields: dict[str, str] | None = None,
                  header: list[str] | None = None) -> None:
    """``party_fields``: source column -> party field (name, phone, ...) of the mapping's parties,
    whose values the report masks; ``header``: the file's, to find them in a whole row's text."""
    party_fields, header = party_fields or {}, header or []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REPORT_FIELDS)
        for r in sorted(rejects, key=lambda r: r.row):
            writer.writerow((r.row, _csv_safe(r.column), _csv_safe(_report_value(r, party_fields, header)),
                             _csv_safe(r.reason)))


def _suggested_name(session: Session, mapping: Mapping, dataset: str) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "_", mapping.name.lower()).strip("_-")[:50] or "import"
    candidates = [base] + [f"{base}_{i}" for i in range(2, 50)]
    return next((c for c in candidates if c != dataset and get_dataset(session, c) is None), f"{base}_new")


def _check_dataset(session: Session, dataset: str, mapping: Mapping) -> bool:
    """Whether ``dataset`` exists; refuses one this mapping would redefine.

    A dataset's features, claim prefix and labels are what its models were trained on and
    what live intake is routed with: an import must never rewrite another producer's
    dataset (the demo data) or one that another mapping made.
    """
    existing = get_dataset(session, dataset)
    if existing is None:
        return False
    stored = existing.mapping or {}
    if not stored:
        raise ImportFailed(f"dataset {dataset!r} was not made by an import (demo-data or another producer made it) and "
                           f"an import may not change it; import into another dataset, e.g. "
                           f"--dataset {_suggested_name(session, mapping, dataset)}")
    differs = []
    if features_of(existing.feature_spec) != features_of(mapping.feature_spec()):
        differs.append("features")
    if stored.get("claim_number_prefix") != mapping.claim_number_prefix:
        differs.append("claim number prefix")
    target = stored.get("target") or {}
    stored_codes = {str(v) for part in ("values", "flags") for v in (target.get(part) or {}).values()}
    if stored_codes != mapping.target.codes:
        differs.append("target departments")
    if differs:
        raise ImportFailed(f"dataset {dataset!r} was imported with another mapping ({stored.get('name')!r}; "
                           f"{', '.join(differs)} differ); import into another dataset, e.g. "
                           f"--dataset {_suggested_name(session, mapping, dataset)}")
    return True


def _taken_claim_numbers(session: Session, dataset: str, records: list[dict], id_label: str) -> list[Reject]:
    """Claim numbers are unique across datasets: a row whose number another claim holds is
    rejected with the owner's name, not left to fail its whole batch in the database."""
    rejects: list[Reject] = []
    table = Claim.__table__
    for _, chunk in _batches(records, 5000):
        by_number = {r["claim_number"]: r for r in chunk}
        owners = session.execute(select(table.c.claim_number, table.c.dataset, table.c.source_key)
                                 .where(table.c.claim_number.in_(list(by_number)))).all()
        for number, owner, key in owners:
            record = by_number[number]
            if owner == dataset and key == record["source_key"]:
                continue  # the same claim imported before: a duplicate, not a clash
            where = f"dataset {owner!r}" if owner != dataset else f"another claim of dataset {owner!r}"
            rejects.append(Reject(record["line"], id_label, number,
                                  f"claim number {number} already belongs to {where}"))
    return rejects


def _db_reason(exc: SQLAlchemyError) -> str:
    # The database's own text names constraints and internals; say what it means instead.
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if code == "23505":
        return "not stored: the claim number is already in use (another import stored it meanwhile)"
    if code in ("22021", "22P05"):
        return "not stored: a value holds characters the database cannot store"
    return f"not stored: the database refused this row (SQLSTATE {code or 'unknown'})"


def _insert(session: Session, stmt, rows: list[dict], records: list[dict]) -> tuple[dict[str, int], list[Reject]]:
    """Insert a batch; if the database refuses it, insert row by row so only the bad rows are lost.
    Returns the new claims' ids by source_key."""
    try:
        with session.begin_nested():
            return dict((key, id_) for id_, key in session.execute(stmt, rows).all()), []
    except SQLAlchemyError:
        pass
    ids: dict[str, int] = {}
    rejects: list[Reject] = []
    for row, record in zip(rows, records):
        try:
            with session.begin_nested():
                ids.update((key, id_) for id_, key in session.execute(stmt, [row]).all())
        except SQLAlchemyError as exc:
            rejects.append(Reject(record["line"], "", "", _db_reason(exc)))
    return ids, rejects


def _claims_without_parties(session: Session, dataset: str, records: list[dict]) -> dict[str, int]:
    """Claims already in the dataset (re-imported rows) that have no parties yet, by source_key:
    imported before the mapping had ``parties``, they get the row's parties once."""
    keys = [r["source_key"] for r in records if r["parties"]]
    if not keys:
        return {}
    table = Claim.__table__
    has_party = select(Party.id).where(Party.claim_id == table.c.id).exists()
    return dict(session.execute(select(table.c.source_key, table.c.id).where(
        table.c.dataset == dataset, table.c.source_key.in_(keys), ~has_party)).all())


def _store_parties(session: Session, claim_ids: dict[str, int], records: list[dict]) -> int:
    """COPY the parties of ``records`` whose claim is in ``claim_ids`` (by source_key) in the
    session's transaction."""
    rows = [(claim_ids[r["source_key"]], p["role"], *(p.get(key) for key in PARTY_LABELS))
            for r in records if r["parties"] and r["source_key"] in claim_ids for p in r["parties"]]
    if not rows:
        return 0
    try:
        with session.begin_nested():
            return copy_rows(session.connection().connection, Party.__tablename__, PARTY_COLUMNS, rows)
    except Exception as exc:  # psycopg's own error: nothing of the import is kept
        lines = f"{records[0]['line']}-{records[-1]['line']}"
        raise ImportFailed(f"the parties of lines {lines} could not be stored ({type(exc).__name__}); "
                           f"nothing was imported") from None


def import_csv(session: Session, path: str | Path, mapping_path: str | Path, dataset: str,
               reports_dir: str | Path, actor: str = "system", batch_size: int = 5000, *,
               threshold: float = 0.5, route: bool = True) -> dict:
    """Import a legacy CSV as closed claims of ``dataset``. Never commits.

    Raises ``ImportFailed`` (before writing anything) when the file, the mapping or the
    dataset name is unusable, or the dataset exists with another definition; row-level
    problems are reported, not raised. A new dataset is created only when a row imports.
    """
    try:
        check_dataset_name(dataset)
    except DatasetNameError as exc:
        raise ImportFailed(str(exc)) from None
    mapping = _as_mapping(mapping_path)
    path = Path(path)
    existed = _check_dataset(session, dataset, mapping)  # before reading a large file for nothing
    parsed = _parse_file(path, mapping)

    existing = set(department_ids(session))
    unknown = mapping.target.codes - existing - {d.code for d in mapping.departments}
    if unknown:
        raise ImportFailed(f"departments {sorted(unknown)} do not exist; declare them in the mapping")
    rejects = list(parsed.rejects)
    taken = _taken_claim_numbers(session, dataset, parsed.records, "|".join(mapping.id_columns))
    rejects += taken
    taken_lines = {r.row for r in taken}
    records = [r for r in parsed.records if r["line"] not in taken_lines]

    batch = None
    new_ids: list[int] = []
    duplicates = n_parties = 0
    if records or existed:
        dept_ids = ensure_departments(session, mapping.departments)
        ensure_dataset(session, dataset, mapping.feature_spec(), description=mapping.description,
                       mapping=mapping.to_dict())
        batch = ImportBatch(dataset=dataset, file_name=path.name, file_sha256=parsed.sha256,
                            mapping_name=mapping.name, n_rows=parsed.n_rows, actor=actor)
        session.add(batch)
        session.flush()
        table = Claim.__table__
        stmt = (insert(table).on_conflict_do_nothing(index_elements=["dataset", "source_key"])
                .returning(table.c.id, table.c.source_key))
        for _, chunk in _batches(records, batch_size):
            ids, refused = _insert(session, stmt, [_claim_row(r, dataset, dept_ids) for r in chunk], chunk)
            new_ids += ids.values()
            rejects += refused
            duplicates += len(chunk) - len(ids) - len(refused)
            old = _claims_without_parties(session, dataset, [r for r in chunk if r["source_key"] not in ids])
            n_parties += _store_parties(session, {**old, **ids}, chunk)

    rejected = len({r.row for r in rejects})
    reports = Path(reports_dir)
    # Without a batch (nothing could be stored) the report is still written, named by time.
    stem = batch.id if batch is not None else dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    report_path = reports / f"import-{stem}-{dataset}-rejects.csv"
    if report_path.resolve().parent != reports.resolve():
        raise ImportFailed(f"dataset name {dataset!r} would put the report outside {reports}")
    _write_report(report_path, rejects, {col: key for block in mapping.parties for key, col in block.columns.items()},
                  parsed.header)

    routed = 0
    if route and new_ids:
        from services import routing  # lazily: routing pulls in the ML stack

        if routing.has_champion(session, dataset):
            routed = routing.route_claims(session, new_ids, threshold=threshold, shap_method="approx")

    if batch is not None:
        batch.n_imported, batch.n_duplicates, batch.n_rejected = len(new_ids), duplicates, rejected
        batch.report_path = str(report_path)
        batch.finished_at = dt.datetime.now(dt.UTC)
    summary = {"dataset": dataset, "rows": parsed.n_rows, "imported": len(new_ids),
               "duplicates": duplicates, "rejected": rejected, "blank_lines": parsed.blank_lines,
               "report_path": str(report_path), "batch_id": batch.id if batch is not None else None,
               "routed": routed, "parties": n_parties}
    audit.record(session, actor=actor, action="claims.import", target_type="import_batch",
                 target_id=batch.id if batch is not None else None,
                 after={**summary, "file": path.name, "sha256": parsed.sha256})
    session.flush()
    return summary
