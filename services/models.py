"""Model versions as the admin and manager pages show them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Department, ModelVersion


def list_model_versions(session: Session, limit: int = 100) -> list[dict]:
    rows = session.execute(
        select(ModelVersion.id, ModelVersion.version, ModelVersion.dataset, ModelVersion.status, ModelVersion.metrics,
               ModelVersion.n_train, ModelVersion.n_holdout, ModelVersion.created_at)
        .order_by(ModelVersion.created_at.desc()).limit(limit)
    )
    out = []
    for r in rows:
        m = r.metrics or {}
        out.append({
            "id": r.id, "version": r.version, "dataset": r.dataset, "status": r.status,
            "accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"), "ece": m.get("ece"),
            "baseline_accuracy": (m.get("baseline") or {}).get("accuracy"),
            "n_train": r.n_train, "n_holdout": r.n_holdout, "split_note": m.get("split_note"),
            "per_class": m.get("per_class") or {}, "confusion": m.get("confusion") or {},
            "created_at": r.created_at.strftime("%Y-%m-%d %H:%M"),
        })
    return out


def department_styles(session: Session) -> dict[str, tuple[str, str]]:
    """code -> (name, colour), for labelling charts."""
    return {code: (name, color) for code, name, color in
            session.execute(select(Department.code, Department.name, Department.color))}


def champion_datasets(session: Session) -> list[str]:
    return list(session.scalars(select(ModelVersion.dataset).where(ModelVersion.status == "champion")
                                .order_by(ModelVersion.dataset)))


def champions_load(session: Session) -> bool:
    """True when at least one champion exists and every champion's artifact loads."""
    from services.routing import load_champion

    datasets = champion_datasets(session)
    return bool(datasets) and all(load_champion(session, ds) is not None for ds in datasets)
