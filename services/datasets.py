"""Datasets: each source of claims with its feature spec (which claim columns
and extra source columns the router may use) and its mapping."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Dataset

FEATURE_KINDS = ("numeric", "categorical", "text", "date")
# Names end up in file names (import reports) and URLs: no path separators, no spaces.
NAME_RULE = "1-60 characters: lowercase letters, digits, _ and -, starting with a letter or digit"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


class DatasetNameError(ValueError):
    pass


def check_dataset_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        shown = repr(name)[:70] if isinstance(name, str) else type(name).__name__
        raise DatasetNameError(f"dataset name {shown} is not allowed ({NAME_RULE})")
    return name


def features_of(feature_spec: list[dict] | None) -> list[tuple[str, str]]:
    """What a model is trained on: names and kinds (flags such as ``personal`` may change)."""
    return [(f.get("name"), f.get("kind")) for f in feature_spec or []]


def ensure_dataset(session: Session, name: str, feature_spec: list[dict], *, description: str = "",
                   mapping: dict | None = None) -> Dataset:
    """Create or update a dataset's definition (the latest import's spec wins)."""
    for feat in feature_spec:
        if feat.get("kind") not in FEATURE_KINDS:
            raise ValueError(f"feature {feat.get('name')!r}: kind must be one of {FEATURE_KINDS}")
    stmt = insert(Dataset).values(name=name, feature_spec=feature_spec, description=description,
                                  mapping=mapping or {})
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_=dict(feature_spec=stmt.excluded.feature_spec, description=stmt.excluded.description,
                  mapping=stmt.excluded.mapping),
    )
    session.execute(stmt)
    return session.get(Dataset, name, populate_existing=True)


def get_dataset(session: Session, name: str) -> Dataset | None:
    return session.get(Dataset, name)


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.name)))
