"""Import mappings: how a user's legacy CSV becomes SCOPE claims.

A mapping is a YAML file (format in docs/import-mappings.md). ``load_mapping``
checks it completely before any row is read, so a typo fails the import with
one clear message instead of half-importing a file.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from services.datasets import FEATURE_KINDS
from services.departments import STANDARD_DEPARTMENTS, DepartmentSpec, color_for
from services.intake_parties import FIELDS as PARTY_FIELDS, MAX_PARTIES, ROLES as PARTY_ROLES

# claims column -> maximum length for string columns (None: not limited / not a string)
CLAIM_COLUMNS: dict[str, int | None] = {
    "claim_number": None, "policy_number": 40, "line_of_business": 40, "loss_date": None,
    "report_date": None, "description": None, "claimed_amount": None, "reserve_amount": None,
    "paid_amount": None, "state": 40, "region": 60, "postcode": 12,
}
DATE_COLUMNS = ("loss_date", "report_date")
AMOUNT_COLUMNS = ("claimed_amount", "reserve_amount", "paid_amount")
TYPES = ("int", "float", "decimal", "date", "string", "bool", "banded")
NUMERIC_TYPES = ("int", "float", "decimal", "banded")
CASES = ("lower", "upper", "title")
# Known only after settlement: a router that runs at first notice of loss must never see it.
POST_SETTLEMENT_COLUMNS = ("paid_amount",)
# Columns a whole file may set to one value (dates, amounts and ids vary per claim).
CONSTANT_COLUMNS = ("policy_number", "line_of_business", "description", "state", "region", "postcode")

_TOP_KEYS = {"name", "description", "claim_number_prefix", "columns", "constants", "target",
             "fraud_label", "departments", "extra", "personal", "features", "validate", "derived_dates",
             "parties"}
_PARTY_KEYS = {"role", "columns"}
PARTY_FIELD_NAMES = tuple(key for key, *_ in PARTY_FIELDS)
_RULE_KEYS = {"type", "required", "min", "max", "allowed", "formats", "case", "synonyms",
              "missing", "bands", "band_step"}
_DERIVED_KEYS = {"year", "month", "week_of_month", "day_of_week", "not_before"}
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class MappingError(ValueError):
    """The mapping file cannot be used; the message names every problem found."""


@dataclass(frozen=True)
class ColumnRule:
    """How one source column is validated and parsed."""

    type: str = "string"
    required: bool = False
    min: Any = None
    max: Any = None
    allowed: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("%Y-%m-%d",)
    case: str | None = None
    synonyms: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    bands: dict[str, float] = field(default_factory=dict)
    band_step: float = 1.0


@dataclass(frozen=True)
class Target:
    """The department label: one column whose values map to codes, or one-hot flag columns."""

    column: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def source_columns(self) -> tuple[str, ...]:
        return (self.column,) if self.column else tuple(self.flags)

    @property
    def codes(self) -> set[str]:
        return set(self.values.values()) | set(self.flags.values())


@dataclass(frozen=True)
class DerivedDate:
    """A date built from year / month / week-of-month / weekday columns (approximate)."""

    year: str
    month: str
    week_of_month: str
    day_of_week: str
    not_before: str | None = None  # another derived date this one may not precede


@dataclass(frozen=True)
class PartyBlock:
    """One person or business per row: its role and party field -> source column."""

    role: str
    columns: dict[str, str]


@dataclass(frozen=True)
class Mapping:
    name: str
    description: str
    claim_number_prefix: str
    columns: dict[str, tuple[str, ...]]
    constants: dict[str, str]
    target: Target
    fraud_label: str | None
    departments: tuple[DepartmentSpec, ...]
    extra: tuple[str, ...]
    features: tuple[dict, ...]
    personal: tuple[str, ...]
    rules: dict[str, ColumnRule]
    derived_dates: dict[str, DerivedDate]
    raw: dict
    parties: tuple[PartyBlock, ...] = ()
    file_name: str = ""  # the mapping file, named in errors found once the CSV is read

    def party_columns(self) -> list[str]:
        """Source columns read into parties (never features, never stored in ``extra``)."""
        return list(dict.fromkeys(c for block in self.parties for c in block.columns.values()))

    @property
    def id_columns(self) -> tuple[str, ...]:
        return self.columns.get("claim_number", ())

    def rule_for(self, column: str) -> ColumnRule:
        return self.rules.get(column, ColumnRule())

    def source_columns(self) -> list[str]:
        """Every source column the mapping reads, in a stable order."""
        cols: list[str] = [c for sources in self.columns.values() for c in sources]
        cols += list(self.target.source_columns)
        cols += [self.fraud_label] if self.fraud_label else []
        cols += list(self.extra)
        for d in self.derived_dates.values():
            cols += [d.year, d.month, d.week_of_month, d.day_of_week]
        party = set(self.party_columns())  # read into parties only (a rule there lists "missing" values)
        cols += [c for c in self.rules if c not in party]
        return list(dict.fromkeys(cols))

    def feature_spec(self) -> list[dict]:
        return [dict(f) for f in self.features]

    def to_dict(self) -> dict:
        return self.raw


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise MappingError(f"mapping {path}: is a directory, not a mapping file") from None
    except OSError as exc:
        raise MappingError(f"mapping {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise MappingError(f"mapping {path}: not a text file (YAML must be UTF-8)") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return replace(parse_mapping(data), file_name=path.name)
    except MappingError as exc:
        raise MappingError(f"mapping {path.name}: {exc}") from None


def parse_mapping(data: Any) -> Mapping:
    """Build a ``Mapping`` from parsed YAML, reporting every problem at once."""
    if not isinstance(data, dict):
        raise MappingError("the file must hold a YAML mapping (key: value pairs)")
    problems: list[str] = []
    unknown = set(data) - _TOP_KEYS
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("'name' is required")
    prefix = data.get("claim_number_prefix")
    if prefix is None or prefix == "":
        problems.append("'claim_number_prefix' is required (e.g. 'FRM-')")
        prefix = ""
    elif not isinstance(prefix, str):
        problems.append(f"'claim_number_prefix' must be text (quote it, e.g. '{prefix}-'), not {prefix!r}")
        prefix = ""

    columns = _parse_columns(data.get("columns") or {}, problems)
    constants = {str(k): str(v) for k, v in (data.get("constants") or {}).items()}
    derived = _parse_derived(data.get("derived_dates") or {}, problems)
    rules = _parse_rules(data.get("validate") or {}, problems)
    target = _parse_target(data.get("target"), problems)
    departments = _parse_departments(data.get("departments") or [], problems)
    extra = tuple(str(c) for c in (data.get("extra") or []))
    personal = _parse_personal(data.get("personal"), extra, problems)
    features = tuple(data.get("features") or [])
    fraud_label = data.get("fraud_label")
    parties = _parse_parties(data.get("parties"), problems)

    for col in constants:
        if col not in CONSTANT_COLUMNS:
            problems.append(f"constant {col!r} must be one of {CONSTANT_COLUMNS}")
    for col in derived:
        if col not in DATE_COLUMNS:
            problems.append(f"derived date {col!r} must be one of {DATE_COLUMNS}")
    filled = [*columns, *constants, *derived]
    for col in {c for c in filled if filled.count(c) > 1}:
        problems.append(f"claims column {col!r} is filled more than once (columns/constants/derived_dates)")
    for col in extra:
        if col in CLAIM_COLUMNS:
            problems.append(f"extra column {col!r} clashes with the claims column of that name")
    _check_rule_types(columns, rules, problems)

    declared = {d.code for d in departments}
    known = declared | {d.code for d in STANDARD_DEPARTMENTS}
    for code in sorted(target.codes - known):
        problems.append(f"target department {code!r} is neither a standard department nor declared under 'departments'")

    label_columns = set(target.source_columns) | ({fraud_label} if fraud_label else set())
    _check_features(features, set(filled), set(extra), label_columns, problems)
    _check_party_overlap(parties, columns, target, fraud_label, extra, derived, data.get("validate"), problems)

    if problems:
        raise MappingError("; ".join(problems))
    return Mapping(
        name=name.strip(), description=str(data.get("description") or "").strip(),
        claim_number_prefix=prefix, columns=columns, constants=constants, target=target,
        fraud_label=fraud_label, departments=departments, extra=extra, personal=personal,
        # The flag rides in the dataset's feature_spec, so the latest import's choice applies to every
        # claim of the dataset, the ones imported before included.
        features=tuple({"name": f["name"], "kind": f["kind"],
                        "source": "column" if f["name"] in CLAIM_COLUMNS else "extra",
                        **({"personal": True} if f["name"] in personal else {})} for f in features),
        rules=rules, derived_dates=derived,
        raw=json.loads(json.dumps(data, default=str)),  # YAML dates -> strings for JSONB
        parties=parties,
    )


def _parse_parties(raw: Any, problems: list[str]) -> tuple[PartyBlock, ...]:
    if raw is None:
        return ()
    example = "e.g. [{role: claimant, columns: {name: Claimant Name, phone: Claimant Phone}}]"
    if not isinstance(raw, list):
        problems.append(f"'parties' must list party blocks, {example}")
        return ()
    if len(raw) > MAX_PARTIES:
        problems.append(f"'parties' lists {len(raw)} blocks; a claim holds at most {MAX_PARTIES}")
    blocks: list[PartyBlock] = []
    for i, item in enumerate(raw):
        where = f"parties[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must have a 'role' and 'columns', {example}")
            continue
        if set(item) - _PARTY_KEYS:
            problems.append(f"{where}: unknown keys {sorted(map(str, set(item) - _PARTY_KEYS))} (a block has "
                            f"'role' and 'columns')")
        role = item.get("role")
        ok = True
        if role not in PARTY_ROLES:
            problems.append(f"{where}: role {role!r} is not one of {', '.join(PARTY_ROLES)}")
            ok = False
        else:
            where = f"{where} ({role})"
        cols = item.get("columns")
        if not isinstance(cols, dict) or not cols:
            problems.append(f"{where}: 'columns' must map party fields ({', '.join(PARTY_FIELD_NAMES)}) "
                            f"to source columns")
            continue
        for key, source in cols.items():
            if key not in PARTY_FIELD_NAMES:
                problems.append(f"{where}: {key!r} is not a party field (one of {', '.join(PARTY_FIELD_NAMES)})")
                ok = False
            if not isinstance(source, str) or not source.strip():
                problems.append(f"{where}.{key}: must name a source column, not {source!r}")
                ok = False
        sources = [s for s in cols.values() if isinstance(s, str)]
        for source in sorted({s for s in sources if sources.count(s) > 1}):
            problems.append(f"{where}: column {source!r} fills more than one field of the same party")
            ok = False
        if ok:
            blocks.append(PartyBlock(role, {str(k): v.strip() for k, v in cols.items()}))
    return tuple(blocks)


def _check_party_overlap(parties: tuple[PartyBlock, ...], columns: dict[str, tuple[str, ...]], target: Target,
                         fraud_label: str | None, extra: tuple[str, ...], derived: dict[str, DerivedDate],
                         validate: Any, problems: list[str]) -> None:
    """A party column is personal data read only into ``parties``: it may not also fill a claims
    column, the label, ``extra`` (and so a feature) or a derived date. The party rules validate it;
    its own rule may only list ``missing`` values ("N/A", "unknown": not recorded)."""
    uses: dict[str, str] = {}
    for ours, sources in columns.items():
        uses.update({s: f"claims column {ours}" for s in sources})
    uses.update({s: "the target" for s in target.source_columns})
    if fraud_label:
        uses[fraud_label] = "fraud_label"
    uses.update({s: "an extra column" for s in extra})
    for ours, d in derived.items():
        uses.update({s: f"derived date {ours}" for s in (d.year, d.month, d.week_of_month, d.day_of_week)})
    for block in parties:
        for key, source in block.columns.items():
            if source in uses:
                problems.append(f"column {source!r} is {block.role}'s {key} and also {uses[source]}; party "
                                f"columns are personal data, stored only as parties")
                continue
            # A rule that is not a mapping is reported by _parse_rules (set() of it could raise TypeError).
            rule = validate.get(source) if isinstance(validate, dict) else None
            if isinstance(rule, dict) and set(rule) - {"missing"}:
                problems.append(f"validate.{source}: {source!r} is {block.role}'s {key}, which the party rules "
                                f"check; its rule may only list 'missing' values")


def _parse_columns(raw: Any, problems: list[str]) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        problems.append("'columns' must map claims columns to source columns")
        return {}
    columns: dict[str, tuple[str, ...]] = {}
    for ours, theirs in raw.items():
        if ours not in CLAIM_COLUMNS:
            problems.append(f"columns: {ours!r} is not a claims column (one of {list(CLAIM_COLUMNS)})")
            continue
        sources = tuple(theirs) if isinstance(theirs, list) else (theirs,)
        if not sources or not all(isinstance(s, str) and s for s in sources):
            problems.append(f"columns: {ours!r} must name a source column")
            continue
        if len(sources) > 1 and ours != "claim_number":
            problems.append(f"columns: only claim_number may combine several source columns, not {ours!r}")
            continue
        columns[ours] = sources
    return columns


def _parse_personal(raw: Any, extra: tuple[str, ...], problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, str) and c for c in raw):
        problems.append("'personal' must list extra columns, e.g. [DrivAge, DrivGender]")
        return ()
    # Only extra columns: claims columns have their own masking (services.privacy), and a
    # misspelt name here would silently leave the real column unmasked.
    for col in raw:
        if col not in extra:
            problems.append(f"personal column {col!r} is not one of the mapping's 'extra' columns")
    return tuple(dict.fromkeys(c for c in raw if c in extra))


def _parse_rules(raw: Any, problems: list[str]) -> dict[str, ColumnRule]:
    if not isinstance(raw, dict):
        problems.append("'validate' must map source columns to rules")
        return {}
    rules: dict[str, ColumnRule] = {}
    for col, spec in raw.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            problems.append(f"validate.{col}: must be a mapping of rule: value")
            continue
        unknown = set(spec) - _RULE_KEYS
        if unknown:
            problems.append(f"validate.{col}: unknown rule keys {sorted(unknown)}")
            continue
        kind = spec.get("type", "string")
        if kind not in TYPES:
            problems.append(f"validate.{col}: type {kind!r} is not one of {TYPES}")
            continue
        if spec.get("case") not in (None, *CASES):
            problems.append(f"validate.{col}: case must be one of {CASES}")
            continue
        try:
            rules[col] = ColumnRule(
                type=kind,
                required=bool(spec.get("required", False)),
                min=_bound(spec.get("min"), kind),
                max=_bound(spec.get("max"), kind),
                allowed=tuple(str(v) for v in spec.get("allowed") or ()),
                formats=tuple(spec.get("formats") or ("%Y-%m-%d",)),
                case=spec.get("case"),
                synonyms={str(k): str(v) for k, v in (spec.get("synonyms") or {}).items()},
                missing=tuple(str(v) for v in spec.get("missing") or ()),
                bands={str(k): float(v) for k, v in (spec.get("bands") or {}).items()},
                band_step=float(spec.get("band_step", 1.0)),
            )
        except (TypeError, ValueError) as exc:
            problems.append(f"validate.{col}: {exc}")
    return rules


def _bound(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if kind in NUMERIC_TYPES:
        return float(value)
    raise ValueError(f"min/max only apply to numbers and dates, not type {kind!r}")


def _parse_target(raw: Any, problems: list[str]) -> Target:
    if not isinstance(raw, dict) or ("column" in raw) == ("flags" in raw):
        problems.append("'target' needs either 'column' (+ 'values': value -> department code) "
                        "or 'flags' (flag column -> department code)")
        return Target()
    if "column" in raw:
        values = raw.get("values")
        if not isinstance(values, dict) or not values:
            problems.append("target.values must map each source value to a department code")
            return Target()
        return Target(column=str(raw["column"]), values={str(k): str(v) for k, v in values.items()})
    flags = raw.get("flags")
    if not isinstance(flags, dict) or not flags:
        problems.append("target.flags must map each flag column to a department code")
        return Target()
    return Target(flags={str(k): str(v) for k, v in flags.items()})


def _parse_departments(raw: Any, problems: list[str]) -> tuple[DepartmentSpec, ...]:
    specs: list[DepartmentSpec] = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        code, name = (item or {}).get("code"), (item or {}).get("name")
        if not isinstance(code, str) or not _CODE.match(code):
            problems.append(f"departments[{i}]: code {code!r} must be UPPER_SNAKE_CASE")
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append(f"departments[{i}] ({code}): 'name' is required")
            continue
        colour = item.get("color") or color_for(code, i)
        if not _COLOUR.match(colour):
            problems.append(f"departments[{i}] ({code}): color {colour!r} must look like #1a2b3c")
            continue
        lobs = tuple(str(x) for x in item.get("lines_of_business") or ())
        specs.append(DepartmentSpec(code, name.strip(), lobs, colour))
    if not isinstance(raw, list):
        problems.append("'departments' must be a list")
    return tuple(specs)


def _parse_derived(raw: Any, problems: list[str]) -> dict[str, DerivedDate]:
    derived: dict[str, DerivedDate] = {}
    for col, spec in (raw.items() if isinstance(raw, dict) else []):
        if not isinstance(spec, dict) or not {"year", "month", "week_of_month", "day_of_week"} <= set(spec):
            problems.append(f"derived_dates.{col}: needs year, month, week_of_month and day_of_week columns")
            continue
        if set(spec) - _DERIVED_KEYS:
            problems.append(f"derived_dates.{col}: unknown keys {sorted(set(spec) - _DERIVED_KEYS)}")
            continue
        derived[col] = DerivedDate(**{k: str(v) for k, v in spec.items()})
    for col, d in derived.items():
        if d.not_before and d.not_before not in derived:
            problems.append(f"derived_dates.{col}: not_before {d.not_before!r} is not another derived date")
    return derived


def _check_rule_types(columns: dict[str, tuple[str, ...]], rules: dict[str, ColumnRule],
                      problems: list[str]) -> None:
    for ours, sources in columns.items():
        rule = rules.get(sources[0])
        if rule is None:
            continue
        if ours in DATE_COLUMNS and rule.type != "date":
            problems.append(f"validate.{sources[0]}: fills {ours}, so its type must be date")
        if ours in AMOUNT_COLUMNS and rule.type not in NUMERIC_TYPES:
            problems.append(f"validate.{sources[0]}: fills {ours}, so its type must be numeric")


def _check_features(features: tuple, filled: set[str], extra: set[str], label_columns: set[str],
                    problems: list[str]) -> None:
    if not features:
        problems.append("'features' must list the router's input columns")
    for f in features:
        if not isinstance(f, dict) or not f.get("name"):
            problems.append(f"features: {f!r} needs a name and a kind")
            continue
        name, kind = f["name"], f.get("kind")
        if kind not in FEATURE_KINDS:
            problems.append(f"feature {name!r}: kind {kind!r} is not one of {FEATURE_KINDS}")
        if name in POST_SETTLEMENT_COLUMNS:
            problems.append(f"feature {name!r} is only known after settlement and cannot feed the router")
        elif name in label_columns:
            problems.append(f"feature {name!r} is the label; using it as a feature would leak the answer")
        elif name not in filled and name not in extra:
            problems.append(f"feature {name!r} is neither a claims column this mapping fills nor an 'extra' column")
