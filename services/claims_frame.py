"""Claims of one dataset as a DataFrame with exactly the columns the router
needs: the feature spec's claim columns and extra (JSONB) keys, plus the
ordering dates, status and department code."""
from __future__ import annotations

from typing import Iterable

import pandas as pd
from sqlalchemy import BigInteger, Float, any_, cast, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from db.models import Claim, Dataset, Department

# Claim columns a feature spec may name; everything else is a key of claims.extra.
CLAIM_COLUMNS = ("line_of_business", "loss_date", "report_date", "description", "claimed_amount",
                 "reserve_amount", "state", "region", "postcode")
_NUMERIC_COLUMNS = ("claimed_amount", "reserve_amount")
# Always loaded: identity, time ordering, label and whether the claim is still open.
_BASE = ("id", "status", "department_id", "loss_date", "report_date")


def ids_param(ids: Iterable[int]):
    """``= ANY(array)``: one array parameter, so any number of ids fits in one statement."""
    return any_(literal([int(i) for i in ids], ARRAY(BigInteger)))


def _spec(session: Session, dataset: str) -> list[dict]:
    ds = session.get(Dataset, dataset)
    if ds is None:
        raise LookupError(f"unknown dataset {dataset!r}")
    return list(ds.feature_spec or [])


def load_frame(session: Session, dataset: str, *, closed_only: bool = False,
               claim_ids: Iterable[int] | None = None, only: Iterable[str] | None = None) -> pd.DataFrame:
    """One query; numeric claim columns come back as floats (not Decimal) and
    extra keys as text (the feature pipeline parses them by kind). ``only``:
    just these of the spec's columns (beside the base ones), e.g. the numeric ones."""
    spec = _spec(session, dataset)
    wanted = None if only is None else set(only)
    cols = {name: getattr(Claim, name) for name in _BASE}
    for feat in spec:
        name = feat["name"]
        if name in cols or (wanted is not None and name not in wanted):
            continue
        if name in CLAIM_COLUMNS:
            col = getattr(Claim, name)
            cols[name] = cast(col, Float) if name in _NUMERIC_COLUMNS else col
        else:
            cols[name] = Claim.extra[name].astext
    stmt = (select(*[c.label(n) for n, c in cols.items()], Department.code.label("department"))
            .outerjoin(Department, Department.id == Claim.department_id)
            .where(Claim.dataset == dataset))
    if closed_only:
        stmt = stmt.where(Claim.status == "closed")
    if claim_ids is not None:
        stmt = stmt.where(Claim.id == ids_param(claim_ids))
    result = session.execute(stmt.order_by(Claim.id))
    return pd.DataFrame.from_records(result.all(), columns=list(result.keys()))


def time_order(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Sort by report_date, then loss_date, then id (missing dates last).
    Returns the frame and "time" — or "id" when the dataset has no dates at all."""
    has_dates = frame["report_date"].notna().any() or frame["loss_date"].notna().any()
    if not has_dates:
        return frame.sort_values("id", kind="stable").reset_index(drop=True), "id"
    ordered = frame.sort_values(["report_date", "loss_date", "id"], na_position="last", kind="stable")
    return ordered.reset_index(drop=True), "time"
