"""Train → promote → route against real PostgreSQL (rolled back per test)."""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from db.models import AuditLog, Claim, ClaimEvent, ModelVersion, RoutingDecision
from services.datasets import ensure_dataset
from services.departments import department_ids
from services.routing import has_champion, load_champion, route_claims, route_unscored
from services.training import train_dataset
from tests.specs import BASIC_SPEC

DATASET = "itest_router"
SPEC = [
    *BASIC_SPEC,
    {"name": "vehicle_count", "kind": "numeric"},  # a key of claims.extra
]
# An easy pattern: the description's words (with the odd typo) name the department.
PATTERNS = {
    "AUTO_GLASS": ("auto", ["cracked windshield", "windshield chip on highway", "windsheild crack", "broken side window glass"]),
    "PROPERTY": ("property", ["roof leak after storm", "burst pipe flooded kitchen", "hail damage to roof", "basement water damage"]),
    "LIABILITY": ("general_liability", ["customer slipped on wet floor", "visitor injured fell on stairs", "slip and fall in store"]),
}


def _claims(n: int, *, closed: bool, seed: int, start: dt.date, prefix: str) -> list[Claim]:
    rnd = random.Random(seed)
    codes = sorted(PATTERNS)
    ids = department_ids_cache
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        lob, phrases = PATTERNS[code]
        loss = start + dt.timedelta(days=i // 3)
        out.append(Claim(
            claim_number=f"{prefix}-{i:05d}", dataset=DATASET, source_key=f"{prefix}-{i}",
            description=f"{rnd.choice(phrases)} reported by insured",
            line_of_business=lob if rnd.random() > 0.2 else None,
            claimed_amount=round(rnd.uniform(200, 20000), 2),
            loss_date=loss, report_date=loss + dt.timedelta(days=rnd.randint(0, 20)),
            status="closed" if closed else "new",
            department_id=ids[code] if closed else None,
            extra={"vehicle_count": rnd.randint(0, 3)},
        ))
    return out


department_ids_cache: dict[str, int] = {}


@pytest.fixture()
def dataset(db_session):
    department_ids_cache.update(department_ids(db_session))
    ensure_dataset(db_session, DATASET, SPEC)
    db_session.add_all(_claims(300, closed=True, seed=1, start=dt.date(2025, 1, 1), prefix="ITC"))
    db_session.flush()
    return DATASET


def _open_claims(db_session, n=30):
    claims = _claims(n, closed=False, seed=2, start=dt.date(2025, 6, 1), prefix="ITO")
    db_session.add_all(claims)
    db_session.flush()
    return claims


def test_first_model_is_promoted_and_routes_with_explanations(db_session, dataset):
    result = train_dataset(db_session, dataset, now=dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc))
    assert result["promoted"] is True
    assert result["champion_metrics_on_holdout"] is None
    m = result["metrics"]
    assert m["accuracy"] > m["baseline"]["accuracy"]
    assert m["n_train"] == 240 and m["n_holdout"] == 60 and m["split"] == "time"
    assert set(m["per_class"]) == set(PATTERNS) and 0 <= m["ece"] <= 1
    assert result["model_version"].startswith(f"{DATASET}-20250701000000-")
    mv = db_session.scalar(select(ModelVersion).where(ModelVersion.version == result["model_version"]))
    assert mv.status == "champion" and mv.params["temperature"] > 0 and mv.artifact[:1] == b"{"
    actions = db_session.scalars(select(AuditLog.action).where(
        AuditLog.target_type == "model_version", AuditLog.target_id == str(mv.id))).all()
    assert sorted(actions) == ["model.promote", "model.train"]
    assert has_champion(db_session, dataset) and load_champion(db_session, dataset).model_version_id == mv.id

    claims = _open_claims(db_session)
    ids = department_ids(db_session)
    assert route_claims(db_session, [c.id for c in claims], threshold=0.5) == len(claims)
    decisions = db_session.scalars(select(RoutingDecision).where(
        RoutingDecision.claim_id.in_([c.id for c in claims]))).all()
    assert len(decisions) == len(claims)
    for d in decisions:
        assert sum(d.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert set(d.probabilities) == set(PATTERNS)
        assert d.shap_method == "exact"
        assert set(d.shap_values["base"]) == set(PATTERNS)
        assert "description" in d.shap_values[next(iter(PATTERNS))]
        assert d.drivers and all(dr["text"] for dr in d.drivers)
        assert set(d.features) == {f["name"] for f in SPEC}
    correct = sum(d.predicted_department_id == ids[_code_of(c)] for d, c in
                  zip(sorted(decisions, key=lambda d: d.claim_id), sorted(claims, key=lambda c: c.id)))
    assert correct >= 0.9 * len(claims)
    # Open claims without a department were placed, with a "routed" event.
    db_session.expire_all()
    for d in decisions:
        claim = db_session.get(Claim, d.claim_id)
        assert claim.department_id == d.routed_department_id
    events = db_session.scalars(select(ClaimEvent).where(ClaimEvent.kind == "routed",
                                                          ClaimEvent.claim_id.in_([c.id for c in claims]))).all()
    assert len(events) == len(claims) and all("decision_id" in e.data for e in events)

    # Nothing is left unscored; a threshold above any confidence sends everything to TRIAGE.
    assert route_unscored(db_session, dataset, threshold=0.5) == 0
    assert route_claims(db_session, [claims[0].id], threshold=1.01, shap_method="approx") == 1
    last = db_session.scalars(select(RoutingDecision).where(RoutingDecision.claim_id == claims[0].id)
                              .order_by(RoutingDecision.id.desc())).first()
    assert last.routed_department_id == ids["TRIAGE"] and last.shap_method == "approx"


def _code_of(claim: Claim) -> str:
    return next(code for code, (_, phrases) in PATTERNS.items()
                if any(claim.description.startswith(p) for p in phrases))


def test_worse_model_is_not_promoted(db_session, dataset):
    first = train_dataset(db_session, dataset)
    worse = train_dataset(db_session, dataset, params={"max_depth": 1, "num_boost_round": 1,
                                                       "early_stopping_rounds": 1,
                                                       "text_options": {"max_word_features": 0, "max_char_features": 0}})
    assert worse["promoted"] is False
    assert worse["champion_metrics_on_holdout"]["macro_f1"] >= worse["metrics"]["macro_f1"]
    statuses = dict(db_session.execute(select(ModelVersion.version, ModelVersion.status)
                                       .where(ModelVersion.dataset == dataset)).all())
    assert statuses == {first["model_version"]: "champion", worse["model_version"]: "candidate"}


def test_routing_decisions_cannot_be_updated(db_session, dataset):
    train_dataset(db_session, dataset)
    claims = _open_claims(db_session, n=3)
    assert route_unscored(db_session, dataset, threshold=0.5) == 3
    decision_id = db_session.scalar(select(RoutingDecision.id).where(RoutingDecision.claim_id == claims[0].id))
    with pytest.raises(DBAPIError, match="append-only"):
        with db_session.begin_nested():
            db_session.execute(text("UPDATE routing_decisions SET confidence = 0 WHERE id = :id"),
                               {"id": decision_id})



@pytest.mark.slow
def test_evaluate_csv_scores_a_labelled_file_without_storing(db_session, tmp_path):
    from tests.conftest import shared_csv
    from services.evaluation import evaluate_csv
    from services.imports import import_csv

    csv = shared_csv("lgpif_peril/peril.training.csv")
    mapping = Path(__file__).resolve().parents[2] / "data" / "mappings" / "lgpif_peril.yaml"
    import_csv(db_session, csv, mapping, "lgpif_peril", tmp_path, "test")
    trained = train_dataset(db_session, "lgpif_peril")
    assert trained["promoted"] and trained["metrics"]["split"] == "id"
    n_decisions = db_session.scalar(select(func.count()).select_from(RoutingDecision))
    result = evaluate_csv(db_session, csv, mapping, "lgpif_peril")
    assert result["n"] == 4991 and result["model_version"] == trained["model_version"]
    assert result["accuracy"] > 0.8 and 0 <= result["ece"] <= 1
    assert sum(c["support"] for c in result["per_class"].values()) == 4991
    assert db_session.scalar(select(func.count()).select_from(RoutingDecision)) == n_decisions
