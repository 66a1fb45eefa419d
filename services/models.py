"""Model versions as the admin and manager pages show them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ModelVersion


def list_model_versions(session: Session, limit: int = 100) -> list[dict]:
    rows = session.execute(
        select(ModelVersion.version, ModelVersion.dataset, ModelVersion.status, ModelVersion.metrics,
               ModelVersion.n_train, ModelVersion.n_holdout, ModelVersion.created_at, ModelVersion.promoted_at)
        .order_by(ModelVersion.created_at.desc()).limit(limit)
    )
    out = []
    for r in rows:
        m = r.metrics or {}
        out.append({
            "version": r.version, "dataset": r.dataset, "status": r.status,
            "accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"), "ece": m.get("ece"),
            "baseline_accuracy": m.get("baseline_accuracy"), "n_train": r.n_train, "n_holdout": r.n_holdout,
            "created_at": r.created_at.strftime("%Y-%m-%d %H:%M"),
        })
    return out
