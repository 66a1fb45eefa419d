"""The nightly retraining loop: retrain every dataset that has a champion and
promote the candidate only when it beats the champion.

Labels: the *final* department of each closed claim. A manager's move changes
``claims.department_id``, so moves are already in the labels. An adjuster's
DISAGREE feedback that suggests another department is *not* a label by
itself, even on a closed claim: only the department the claim was closed in
counts (the feedback is a signal for people reviewing routing, and it turns
into a label only if someone actually moves the claim).

Promotion is train_dataset's rule (services/training.py): the candidate must
have a strictly higher macro-F1 than the champion on the same time-ordered
holdout; otherwise the candidate is stored as "candidate" and the champion stays.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ModelVersion
from services.training import PROMOTION_METRIC, train_dataset

log = logging.getLogger(__name__)


def datasets_with_champion(session: Session) -> list[str]:
    return sorted(session.scalars(select(ModelVersion.dataset).where(ModelVersion.status == "champion")
                                  .distinct()).all())


def retrain_all(session: Session, *, datasets: list[str] | None = None, now: dt.datetime | None = None,
                actor: str = "scheduler") -> list[dict]:
    """One outcome per dataset. Each dataset trains inside a savepoint, so one
    that fails (too few labels, bad data) leaves the others' results intact."""
    outcomes = []
    for name in datasets if datasets is not None else datasets_with_champion(session):
        try:
            with session.begin_nested():
                result = train_dataset(session, name, now=now, actor=actor)
        except Exception as exc:
            log.exception("retraining %s failed", name)
            outcomes.append({"dataset": name, "status": "failed", "error": f"{exc.__class__.__name__}: {exc}"[:500]})
            continue
        previous = (result.get("champion_metrics_on_holdout") or {}).get(PROMOTION_METRIC)
        outcomes.append({
            "dataset": name, "status": "promoted" if result["promoted"] else "kept champion",
            "promoted": result["promoted"], "candidate": result["model_version"],
            PROMOTION_METRIC: round(result["metrics"][PROMOTION_METRIC], 4),
            "champion_" + PROMOTION_METRIC: round(previous, 4) if previous is not None else None,
            "n_train": result["metrics"]["n_train"], "n_holdout": result["metrics"]["n_holdout"],
            **({"kept_because": result["kept_as_candidate_because"]} if result.get("kept_as_candidate_because")
               else {}),
        })
    return outcomes
