"""Routing history for the demo, so routing-quality figures have content on a first start.

A router cannot have decided claims before it existed, and the first champion is
trained on most of the closed history, so scoring that history with it would be
both anachronistic and in-sample. Instead a **history model** stands for the
router of that time: it is trained only on claims closed before a go-live date
(``GO_LIVE_DAYS`` before the newest report date), stored as a *retired* model
version whose params say what it is (``params["demo_history"]``) and whose
metrics are its accuracy on the claims it then scored (all later than anything it
learned from). It scores every closed claim reported on or after go-live; each
decision is dated on the claim's report date and names that model. Closed claims
reported before go-live keep no decision.

What people did follows from those decisions, deterministically from the seed:
- every claim whose decision sent it elsewhere than its final department was moved
  there by a manager ("moved" event) before it closed;
- adjusters of the routed department gave a verdict on about a third of the
  decisions, mostly agreeing (any time before the claim closed) when the router was
  right and disagreeing (with a reason and the department they suggest, before the
  move) when it was not.
Explanations are approximate SHAP, as for any bulk routing.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from db.models import Claim, ClaimEvent, Department, ModelVersion, RoutingDecision, RoutingFeedback, User
from db.models import user_departments
from ml.explain import explain_rows
from ml.features import FeaturePipeline
from ml.router import TRIAGE, route, train_router
from services import audit
from services.claims_frame import load_frame, time_order
from services.datasets import get_dataset
from services.training import _holdout_metrics

GO_LIVE_DAYS = 240
# 3,000 rows held ~45 SIU referrals: the model routed none of them to SIU, and the
# dashboard's SIU routing accuracy read 0%. 8,000 (about 4 s more at first start)
# catches about a quarter of them, half the champion's recall, like an early router.
MAX_TRAIN = 8000
FEEDBACK_SHARE = 0.33
BATCH = 1000
# Small and quick on purpose: it stands for an early router, and the first start must stay fast.
PARAMS = {"num_boost_round": 40, "max_depth": 5, "max_bin": 64}
TEXT_OPTIONS = {"max_word_features": 400, "max_char_features": 400}
MANAGER = "manager@scope.example"


def has_history(session: Session, dataset: str) -> bool:
    return session.scalar(select(ModelVersion.id).where(
        ModelVersion.dataset == dataset, ModelVersion.params["demo_history"].is_not(None)).limit(1)) is not None


def build_history(session: Session, dataset: str, *, threshold: float, seed: int = 42) -> dict:
    """Train the history model, write its decisions, the moves and verdicts; returns counts."""
    started = time.perf_counter()
    if has_history(session, dataset):
        return {"decisions": 0, "moves": 0, "verdicts": 0, "skipped": True}
    ds = get_dataset(session, dataset)
    frame, _ = time_order(load_frame(session, dataset, closed_only=True))
    frame = frame[frame["department"].notna() & (frame["department"] != TRIAGE)].reset_index(drop=True)
    closed_at = dict(session.execute(select(Claim.id, Claim.closed_at).where(Claim.dataset == dataset,
                                                                            Claim.status == "closed")).all())
    newest = session.scalar(select(Claim.report_date).where(Claim.dataset == dataset)
                            .order_by(Claim.report_date.desc().nulls_last()).limit(1))
    if ds is None or newest is None or frame.empty:
        return {"decisions": 0, "moves": 0, "verdicts": 0, "skipped": True}
    go_live = newest - dt.timedelta(days=GO_LIVE_DAYS)
    go_live_at = dt.datetime.combine(go_live, dt.time(0), dt.timezone.utc)
    known = frame["id"].map(lambda i: closed_at.get(i) is not None and closed_at[i] < go_live_at)
    train = frame[known.to_numpy()].tail(MAX_TRAIN)
    later = frame[pd.to_datetime(frame["report_date"]).dt.date.to_numpy() >= go_live].reset_index(drop=True)
    if len(train) < 50 or train["department"].nunique() < 2 or later.empty:
        return {"decisions": 0, "moves": 0, "verdicts": 0, "skipped": True}

    labels = train["department"].tolist()
    pipeline = FeaturePipeline(ds.feature_spec, text_options=TEXT_OPTIONS, stack_options={"enabled": False})
    router, used = train_router(pipeline.fit_transform(train, labels), labels, pipeline.feature_types,
                                params=PARAMS)
    metrics = _holdout_metrics(router.predict_proba(pipeline.transform(later)), router.classes,
                               later["department"].tolist())
    metrics.update(n_train=len(train), n_holdout=len(later), split="time",
                   split_note=f"demo history model: trained on claims closed before {go_live}, "
                              f"evaluated on the {len(later):,} closed claims reported from then on")
    mv = ModelVersion(
        dataset=dataset, version=f"{dataset[:30]}-history-{go_live:%Y%m%d}-{uuid.uuid4().hex[:6]}", status="retired",
        params={**used, "text_options": TEXT_OPTIONS, "demo_history": {
            "go_live": go_live.isoformat(), "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "note": "Trained at first start on claims closed before go-live; stands for the router of that "
                    "time and made the demo history's decisions (dated at each claim's report date)."}},
        feature_schema=pipeline.to_schema(), classes=router.classes, metrics=metrics,
        train_start=pd.to_datetime(train["report_date"]).min().date(),
        train_end=pd.to_datetime(train["report_date"]).max().date(), n_train=len(train), n_holdout=len(later),
        artifact_format="ubj", artifact=router.to_bytes(), created_at=go_live_at)
    session.add(mv)
    session.flush()

    departments = {code: (dep_id, name, list(lines or []))
                   for code, dep_id, name, lines in session.execute(
                       select(Department.code, Department.id, Department.name, Department.lines_of_business))}
    names = {code: v[1] for code, v in departments.items()}
    rng = np.random.default_rng([seed, 7])
    decided: list[dict] = []
    for start in range(0, len(later), BATCH):
        part = later.iloc[start:start + BATCH]
        X = pipeline.transform(part)
        data = router.dmatrix(X)
        proba = router.predict_proba(data)
        predicted, routed, confidence = route(proba, router.classes, threshold)
        contribs = router.contributions(data, approx=True)
        raw = pipeline.raw_values(part)
        explanations = explain_rows(contribs, X, pipeline, raw, router.classes, proba.argmax(axis=1).tolist(),
                                    names)
        minutes = rng.integers(8 * 60, 18 * 60, len(part))
        rows = []
        for i, (claim_id, report_date) in enumerate(zip(part["id"].tolist(), part["report_date"].tolist())):
            shap_values, drivers = explanations[i]
            at = dt.datetime.combine(report_date, dt.time(0), dt.timezone.utc) + dt.timedelta(minutes=int(minutes[i]))
            rows.append(dict(
                claim_id=claim_id, model_version_id=mv.id, predicted_department_id=departments[predicted[i]][0],
                routed_department_id=departments[routed[i]][0],
                probabilities={c: float(p) for c, p in zip(router.classes, proba[i])},
                confidence=float(confidence[i]), threshold=float(threshold), features=raw[i],
                shap_values=shap_values, shap_method="approx", drivers=drivers,
                decided_at=at))
        ids = dict((cid, did) for did, cid in session.execute(
            insert(RoutingDecision).returning(RoutingDecision.id, RoutingDecision.claim_id), rows))
        for r, lob, final in zip(rows, part["line_of_business"].tolist(), part["department"].tolist()):
            decided.append({"claim_id": r["claim_id"], "decision_id": ids[r["claim_id"]], "at": r["decided_at"],
                            "routed": next(c for c, v in departments.items() if v[0] == r["routed_department_id"]),
                            "confidence": r["confidence"], "final": final, "lob": lob,
                            "closed_at": closed_at.get(r["claim_id"])})
    session.execute(text("UPDATE claims c SET routing_confidence = v.conf FROM unnest(CAST(:ids AS bigint[]), "
                         "CAST(:confs AS float8[])) AS v(id, conf) WHERE c.id = v.id"),
                    {"ids": [d["claim_id"] for d in decided], "confs": [d["confidence"] for d in decided]})
    moves, verdicts = _people(session, decided, departments, rng)
    audit.record(session, actor="bootstrap", action="demo.history", target_type="model_version",
                 target_id=mv.id, after={"version": mv.version, "decisions": len(decided), "moves": moves,
                                         "verdicts": verdicts, "go_live": go_live.isoformat()})
    return {"model_version": mv.version, "accuracy": metrics["accuracy"], "decisions": len(decided),
            "moves": moves, "verdicts": verdicts, "seconds": round(time.perf_counter() - started, 1)}


def _reason(d: dict, departments: dict) -> str:
    if d["final"] == "SIU":
        return "NEEDS_SIU"
    lines = departments.get(d["routed"], (None, None, []))[2]
    return "WRONG_LOB" if lines and d["lob"] not in lines else "WRONG_DEPARTMENT"


def _people(session: Session, decided: list[dict], departments: dict, rng: np.random.Generator) -> tuple[int, int]:
    """Manager moves for misrouted claims and adjusters' verdicts; returns (moves, verdicts)."""
    manager = session.scalar(select(User.id).where(User.email == MANAGER))
    team: dict[int, list[int]] = {}
    for dept_id, user_id in session.execute(
            select(user_departments.c.department_id, user_departments.c.user_id)
            .join(User, User.id == user_departments.c.user_id)
            .where(User.role == "adjuster", User.is_active).order_by(user_departments.c.user_id)):
        team.setdefault(dept_id, []).append(user_id)
    events, feedback = [], []
    u = rng.random((len(decided), 4))
    for k, d in enumerate(decided):
        deadline = d["closed_at"] or (d["at"] + dt.timedelta(days=3))
        window = max((deadline - d["at"]).total_seconds(), 3600.0)
        move_at = d["at"] + dt.timedelta(seconds=window * (0.05 + 0.25 * u[k, 0]))
        routed_id, final_id = departments[d["routed"]][0], departments[d["final"]][0]
        events.append(dict(claim_id=d["claim_id"], kind="routed", at=d["at"], to_department_id=routed_id,
                           data={"decision_id": d["decision_id"], "confidence": d["confidence"]}))
        wrong = routed_id != final_id
        if wrong:
            from_triage = d["routed"] == TRIAGE
            events.append(dict(
                claim_id=d["claim_id"], kind="moved", actor_id=manager, at=move_at, from_department_id=routed_id,
                to_department_id=final_id, from_status="new", to_status="new",
                reason="OTHER" if from_triage else ("SIU_REFERRAL" if d["final"] == "SIU" else "MISROUTED"),
                note="Routed by hand from Triage" if from_triage else None,
                data={"from_adjuster_id": None, "to_adjuster_id": None}))
        people = team.get(routed_id)
        if d["routed"] == TRIAGE or not people or u[k, 1] >= FEEDBACK_SHARE:
            continue
        agrees = bool(u[k, 2] < (0.12 if wrong else 0.96))
        reason = suggested = comment = None
        if not agrees:
            if wrong:
                reason, suggested = _reason(d, departments), final_id
            else:
                reason, comment = "COVERAGE_QUESTION", "Coverage needs checking before we proceed."
        # A wrong routing is disputed before the claim is moved; a right one is confirmed
        # whenever the adjuster works on it, up to the closing.
        until = move_at if wrong else d["at"] + dt.timedelta(seconds=window)
        given = d["at"] + dt.timedelta(seconds=(until - d["at"]).total_seconds() * (0.05 + 0.9 * u[k, 3]))
        feedback.append(dict(claim_id=d["claim_id"], decision_id=d["decision_id"],
                             user_id=people[d["claim_id"] % len(people)], agrees=agrees, reason_code=reason,
                             suggested_department_id=suggested, comment=comment, created_at=given))
    moves = sum(1 for e in events if e["kind"] == "moved")
    if feedback:
        ids = session.execute(insert(RoutingFeedback).returning(RoutingFeedback.id, sort_by_parameter_order=True),
                              feedback).scalars().all()
        for fid, f in zip(ids, feedback):
            events.append(dict(claim_id=f["claim_id"], kind="feedback", actor_id=f["user_id"], at=f["created_at"],
                               reason=f["reason_code"], to_department_id=f["suggested_department_id"],
                               note=f["comment"], data={"decision_id": f["decision_id"], "agrees": f["agrees"],
                                                        "feedback_id": fid}))
    if events:
        keys = ("claim_id", "kind", "actor_id", "at", "from_department_id", "to_department_id", "from_status",
                "to_status", "reason", "note", "data")
        session.execute(insert(ClaimEvent), [{k: e.get(k) for k in keys} for e in events])
    return moves, len(feedback)
