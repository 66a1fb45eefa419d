"""Model versions as the admin and manager pages show them, and changing a
dataset's champion by hand (roll back to an earlier version, or promote a candidate).

Ids and the reason come from the browser or the command line: each is checked here
and a bad one raises ``ModelError`` before anything is written."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Dataset, Department, ModelVersion
from services import audit
from services.access import AccessDenied, NotFound

REASON_MAX = 500


class ModelError(ValueError):
    """A refusal meant for the person at the screen or terminal; nothing was written."""


class ModelNotFound(ModelError, NotFound):
    pass


class ChampionChanged(ModelError):
    """The champion is no longer the one the person saw (another admin, or training, moved it)."""


@dataclass(frozen=True)
class SystemActor:
    """Who acts from the command line: whoever can run ``scope`` already holds the
    database, so every permission is theirs."""

    email: str
    id: None = None
    role: str = "system"

    def can(self, _perm: Perm) -> bool:
        return True


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
            # The champion of the time, scored on this version's own holdout (nightly retraining).
            "champion_on_holdout": m.get("champion_on_holdout"),
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


def version_choices(session: Session) -> list[dict]:
    """Versions that could become champion (every one that is not), newest first,
    each with the id of its dataset's champion now (None when it has none): the
    page keeps that id so that a promotion from a stale page is refused."""
    champions = dict(session.execute(select(ModelVersion.dataset, ModelVersion.id)
                                     .where(ModelVersion.status == "champion")).all())
    return [dict(m, champion_id=champions.get(m["dataset"]))
            for m in list_model_versions(session) if m["status"] != "champion"]


def _valid_id(value: object, what: str) -> int:
    # bool is an int subclass: a JSON true must not become version 1.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise ModelError(f"{what} is not a model version id; choose a version from the list.")
    return value


def _clean_reason(reason: object) -> str:
    if not isinstance(reason, str):
        raise ModelError("Give the reason for changing the champion.")
    reason = reason.replace("\r\n", "\n").strip()
    if not reason:
        raise ModelError("Give the reason for changing the champion.")
    if len(reason) > REASON_MAX:
        raise ModelError(f"The reason can be at most {REASON_MAX} characters (it has {len(reason)}).")
    if not all(ch.isprintable() or ch in "\n\t" for ch in reason):
        raise ModelError("The reason contains control characters; type it as plain text.")
    return reason


def _check_loads(session: Session, mv: ModelVersion) -> None:
    """The version must be able to route: its artifact loads and every class it
    predicts is a department a claim can be sent to."""
    from services.routing import load_model

    try:
        model = load_model(mv)
    except Exception as exc:  # any failure to rebuild it means it cannot route; say so, do not crash
        raise ModelError(f"{mv.version} cannot be champion: its stored model does not load "
                         f"({exc.__class__.__name__}).") from exc
    codes = set(session.scalars(select(Department.code)))
    unknown = sorted(str(c) for c in model.classes if c not in codes)
    if unknown:
        which = "is not a department" if len(unknown) == 1 else "are not departments"
        raise ModelError(f"{mv.version} cannot be champion: it routes to {', '.join(unknown)}, which {which}.")


def promote(session: Session, user, model_version_id: object, *, expected_champion_id: object,
            reason: object, now: dt.datetime | None = None) -> dict:
    """Make a version its dataset's champion by hand; the champion it replaces is retired.

    ``expected_champion_id`` is the champion the person saw (None: there was none);
    when the champion has changed since, nothing is written (``ChampionChanged``).
    Routing looks the champion up on every request (services.routing.load_champion,
    its cache keyed by the immutable version string), so the next claim uses the
    new one once the caller commits; decisions already made keep their model."""
    if not callable(getattr(user, "can", None)) or not user.can(Perm.MANAGE_MODELS):
        raise AccessDenied("Your role may not change the champion model.")
    version_id = _valid_id(model_version_id, "The chosen version")
    if expected_champion_id is not None:
        _valid_id(expected_champion_id, "The champion the page showed")
    reason = _clean_reason(reason)

    dataset_name = session.scalar(select(ModelVersion.dataset).where(ModelVersion.id == version_id))
    if dataset_name is None:
        raise ModelNotFound(f"There is no model version with id {version_id}; reload the page.")
    # The dataset's row serialises every change of its champion (another admin, retraining):
    # a second promotion waits here and then reads, in fresh statements, the champion we leave.
    # Locking the champion row instead let the waiter re-read "no champion" once it was retired.
    dataset = session.get(Dataset, dataset_name, with_for_update=True, populate_existing=True)
    mv = session.get(ModelVersion, version_id, populate_existing=True)
    if mv.status == "champion":
        raise ModelError(f"{mv.version} is already the champion of {mv.dataset}; nothing changed.")
    current = session.scalar(select(ModelVersion).where(ModelVersion.dataset == mv.dataset,
                                                        ModelVersion.status == "champion")
                             .execution_options(populate_existing=True))
    current_id = current.id if current is not None else None
    if current_id != expected_champion_id:
        now_is = f"{current.version} is" if current is not None else "there is no champion"
        raise ChampionChanged(f"The champion of {mv.dataset} changed since the page was loaded: {now_is} now. "
                              "Nothing was changed; check the list and try again.")
    _check_loads(session, mv)

    now = now or dt.datetime.now(dt.UTC)
    before_status = mv.status
    if current is not None:
        current.status = "retired"
        # The partial unique index allows one champion per dataset: retire before promoting.
        session.flush()
    mv.status = "champion"
    mv.promoted_at = now
    actor = getattr(user, "email", None) or str(user)
    # A version chosen by hand stays until a person changes it: retraining would otherwise
    # replace a rollback the next night with a version that scores better on the holdout.
    paused_before = not dataset.auto_promote
    dataset.auto_promote, dataset.auto_promote_changed_by, dataset.auto_promote_changed_at = False, actor, now
    session.flush()
    metrics = mv.metrics or {}
    audit.record(session, actor=getattr(user, "email", None) or str(user), actor_id=getattr(user, "id", None),
                 action="model.promote", target_type="model_version", target_id=mv.id,
                 before={"champion": current.version if current is not None else None,
                         "version_status": before_status},
                 after={"champion": mv.version, "dataset": mv.dataset, "macro_f1": metrics.get("macro_f1"),
                        "accuracy": metrics.get("accuracy"), "reason": reason, "by_hand": True,
                        "auto_promote": False, "auto_promote_was": not paused_before})
    old = f"{current.version} retired" if current is not None else "there was no champion before"
    return {"version": mv.version, "model_version_id": mv.id, "dataset": mv.dataset,
            "previous": current.version if current is not None else None, "reason": reason,
            "message": f"{mv.version} now routes new claims of {mv.dataset}; {old}. "
                       "Decisions already made keep their model. Retraining keeps its new versions as "
                       "candidates until you let it promote again."}


def auto_promote_states(session: Session) -> dict[str, dict]:
    """Per dataset with a champion: whether retraining may replace it, and who said otherwise."""
    rows = session.execute(select(Dataset.name, Dataset.auto_promote, Dataset.auto_promote_changed_by,
                                  Dataset.auto_promote_changed_at)
                           .where(Dataset.name.in_(select(ModelVersion.dataset)
                                                   .where(ModelVersion.status == "champion"))))
    return {r.name: {"auto_promote": r.auto_promote, "by": r.auto_promote_changed_by,
                     "at": r.auto_promote_changed_at} for r in rows}


def set_auto_promote(session: Session, user, dataset_name: object, enabled: object,
                     now: dt.datetime | None = None) -> str:
    """Let retraining promote a better version by itself again (or pause it); audited."""
    if not callable(getattr(user, "can", None)) or not user.can(Perm.MANAGE_MODELS):
        raise AccessDenied("Your role may not change how models are promoted.")
    if not isinstance(enabled, bool):
        raise ModelError("Choose whether retraining may promote by itself.")
    if not isinstance(dataset_name, str) or not 0 < len(dataset_name) <= 60 or not dataset_name.isprintable():
        raise ModelNotFound("There is no such dataset; reload the page.")
    dataset = session.get(Dataset, dataset_name, with_for_update=True, populate_existing=True)
    if dataset is None:
        raise ModelNotFound(f"There is no dataset {dataset_name}; reload the page.")
    if dataset.auto_promote == enabled:
        state = "already promotes by itself" if enabled else "is already paused"
        raise ModelError(f"Retraining of {dataset.name} {state}; nothing changed.")
    actor = getattr(user, "email", None) or str(user)
    dataset.auto_promote, dataset.auto_promote_changed_by = enabled, actor
    dataset.auto_promote_changed_at = now or dt.datetime.now(dt.UTC)
    session.flush()
    audit.record(session, actor=actor, actor_id=getattr(user, "id", None), action="model.auto_promote",
                 target_type="dataset", target_id=dataset.name, before={"auto_promote": not enabled},
                 after={"auto_promote": enabled})
    if enabled:
        return (f"Retraining of {dataset.name} promotes a new version again when it beats the champion "
                "on the same holdout.")
    return f"Retraining of {dataset.name} now keeps its new versions as candidates."
