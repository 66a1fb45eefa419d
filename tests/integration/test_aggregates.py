"""Every rollup figure equals the same figure computed straight from the raw tables."""
from __future__ import annotations

import datetime as dt
import pytest
from sqlalchemy import text

from services import aggregates
from services.aggregates import Filters
from tests.webutil import component_texts

WHOLE = Filters(dt.date(1900, 1, 1), dt.date(2100, 1, 1))


@pytest.fixture()
def web_session(web_app):
    from db.flask_db import unit_of_work

    with web_app.server.app_context():
        with unit_of_work() as session:
            aggregates.refresh(session)
            yield session


def _one(session, sql, **params):
    return session.execute(text(sql), params).one()


def test_rollup_equals_raw_figures(web_session):
    s = web_session
    f = aggregates.default_filters(s)
    assert f.days == 90 and f.end == _one(s, "SELECT max(day) FROM kpi_daily")[0]
    params = dict(a=f.start, b=f.end)
    got = aggregates.kpis(s, f)

    received, reserve, paid = _one(s, """SELECT count(*), coalesce(sum(reserve_amount), 0),
        coalesce(sum(paid_amount), 0) FROM claims
        WHERE coalesce(report_date, created_at::date) BETWEEN :a AND :b""", **params)
    # Suspected as the product knows it; an open claim's ground-truth label does not count.
    fraud = _one(s, """SELECT count(*) FROM claims c JOIN departments d ON d.id = c.department_id
        WHERE coalesce(c.report_date, c.created_at::date) BETWEEN :a AND :b
          AND (d.code = 'SIU' OR EXISTS (SELECT 1 FROM fraud_alerts a WHERE a.claim_id = c.id)
               OR EXISTS (SELECT 1 FROM siu_case_claims k WHERE k.claim_id = c.id)
               OR (c.status = 'closed' AND c.fraud_label))""", **params)[0]
    hidden = _one(s, """SELECT count(*) FROM claims c JOIN departments d ON d.id = c.department_id
        WHERE c.status <> 'closed' AND c.fraud_label AND d.code <> 'SIU'
          AND NOT EXISTS (SELECT 1 FROM fraud_alerts a WHERE a.claim_id = c.id)
          AND coalesce(c.report_date, c.created_at::date) BETWEEN :a AND :b""", **params)[0]
    assert hidden > 0, "the web database has open claims whose fraud nobody has suspected yet"
    assert got["received"] == received > 0
    assert got["reserve"] == pytest.approx(float(reserve))
    assert got["paid"] == pytest.approx(float(paid))
    assert got["fraud_flagged"] == fraud

    closed = _one(s, """SELECT count(*) FROM claims WHERE status = 'closed'
        AND coalesce(closed_at::date, report_date, created_at::date) BETWEEN :a AND :b""", **params)[0]
    assert got["closed"] == closed

    backlog = _one(s, """SELECT count(*) FROM claims WHERE coalesce(report_date, created_at::date) <= :b
        AND NOT (status = 'closed' AND coalesce(closed_at::date, report_date, created_at::date) <= :b)""",
                   **params)[0]
    assert got["backlog"] == backlog

    routed, auto = _one(s, """WITH l AS (SELECT DISTINCT ON (claim_id) claim_id, routed_department_id
        FROM routing_decisions ORDER BY claim_id, id DESC)
        SELECT count(*), count(*) FILTER (WHERE NOT d.is_triage) FROM claims c JOIN l ON l.claim_id = c.id
        JOIN departments d ON d.id = l.routed_department_id
        WHERE coalesce(c.report_date, c.created_at::date) BETWEEN :a AND :b""", **params)
    assert got["auto_routed_share"] == pytest.approx(auto / routed)

    correct, with_decision = _one(s, """WITH l AS (SELECT DISTINCT ON (claim_id) claim_id, routed_department_id
        FROM routing_decisions ORDER BY claim_id, id DESC)
        SELECT count(*) FILTER (WHERE l.routed_department_id = c.department_id), count(*)
        FROM claims c JOIN l ON l.claim_id = c.id WHERE c.status = 'closed'
        AND coalesce(c.closed_at::date, c.report_date, c.created_at::date) BETWEEN :a AND :b""", **params)
    # demo claims are routed while open, so closed ones with a decision may be few or none
    assert got["routing_accuracy"] == (pytest.approx(correct / with_decision) if with_decision else None)
    siu_later = _one(s, """WITH l AS (SELECT DISTINCT ON (claim_id) claim_id, routed_department_id
        FROM routing_decisions ORDER BY claim_id, id DESC)
        SELECT count(*) FROM claims c JOIN l ON l.claim_id = c.id JOIN departments d ON d.id = c.department_id
        JOIN departments r ON r.id = l.routed_department_id
        WHERE c.status = 'closed' AND d.code = 'SIU' AND l.routed_department_id <> c.department_id
        AND NOT r.is_triage
        AND coalesce(c.closed_at::date, c.report_date, c.created_at::date) BETWEEN :a AND :b""", **params)[0]
    assert got["routed_siu_later"] == siu_later
    assert got["routing_accuracy_without_siu_later"] == (
        pytest.approx(correct / (with_decision - siu_later)) if with_decision > siu_later else None)

    median, p90, breaches, over_30 = _one(s, """SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY d),
        percentile_disc(0.9) WITHIN GROUP (ORDER BY d), count(*) FILTER (WHERE d > sla), count(*) FILTER (WHERE d > 30)
        FROM (SELECT greatest(c.closed_at::date - coalesce(c.report_date, c.created_at::date), 0) AS d,
                     coalesce(dep.sla_days, 30) AS sla
              FROM claims c LEFT JOIN departments dep ON dep.id = c.department_id
              WHERE c.status = 'closed' AND c.closed_at IS NOT NULL AND c.closed_at::date BETWEEN :a AND :b) x""",
                                  **params)
    assert median is not None
    # the histogram holds whole days (capped at CYCLE_CAP): exact below the cap
    assert got["cycle_median"] == pytest.approx(min(median, aggregates.CYCLE_CAP), abs=1)
    assert got["cycle_p90"] == pytest.approx(min(p90, aggregates.CYCLE_CAP), abs=1)
    # each department's own service level, not one 30-day rule (which the demo's long lines break far more)
    assert got["sla_breaches"] == breaches
    assert breaches < over_30


def test_received_per_department_and_line_match_raw(web_session):
    s = web_session
    f = aggregates.default_filters(s)
    raw = dict(s.execute(text("""SELECT d.code, count(*) FROM claims c JOIN departments d ON d.id = c.department_id
        WHERE coalesce(c.report_date, c.created_at::date) BETWEEN :a AND :b GROUP BY d.code"""),
                         dict(a=f.start, b=f.end)).all())
    got = {r.key: r.received for r in aggregates.breakdown(s, f, "department") if r.key}
    assert got == raw
    raw_lines = dict(s.execute(text("""SELECT coalesce(line_of_business, ''), count(*) FROM claims
        WHERE coalesce(report_date, created_at::date) BETWEEN :a AND :b GROUP BY 1"""),
                               dict(a=f.start, b=f.end)).all())
    assert {r.key: r.received for r in aggregates.breakdown(s, f, "line")} == raw_lines
    # a department filter narrows every figure to that department
    code, count = max(raw.items(), key=lambda kv: kv[1])
    one = aggregates.parse_filters(s, {"start": f.start.isoformat(), "end": f.end.isoformat(), "department": code})
    assert aggregates.kpis(s, one)["received"] == count


def test_agreement_over_all_time_matches_feedback_service(web_session):
    from services.feedback import agreement_rate

    s = web_session
    got = aggregates.kpis(s, WHOLE)
    expected = agreement_rate(s)
    assert got["feedback_total"] == expected["given"]
    if expected["given"]:
        assert got["agreement_rate"] == pytest.approx(expected["rate"])
    # reassignment: routed claims moved by hand, of the routed claims
    reassigned, routed = _one(s, """SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM claim_events e
        WHERE e.claim_id = c.id AND e.kind = 'moved' AND e.from_department_id IS DISTINCT FROM e.to_department_id)),
        count(*) FROM claims c
        WHERE EXISTS (SELECT 1 FROM routing_decisions rd WHERE rd.claim_id = c.id)""")
    assert got["reassignment_rate"] == (pytest.approx(reassigned / routed) if routed else None)


def test_refresh_twice_gives_the_same_rollup(web_session):
    s = web_session
    snapshot = "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT day, department_id, " \
               "line_of_business, region, received, closed, reserve_sum, routed_correct, cycle_days_sum, " \
               "feedback_total FROM kpi_daily) t"
    first = _one(s, snapshot)[0]
    rows = aggregates.refresh(s)
    assert rows > 0
    assert _one(s, snapshot)[0] == first
    assert aggregates.refresh(s) == rows


def test_parse_filters_rejects_tampered_values(web_session):
    s = web_session
    for raw, message in [({"start": "2026-13-45"}, "Start date"), ({"end": ["x"]}, "End date"),
                         ({"department": "NOPE"}, "Unknown department"),
                         ({"department": "x" * 5000}, "Unknown department"),
                         ({"line": "<script>"}, "Unknown line"),
                         ({"start": "2026-10-01", "end": "2026-09-01"}, "start date"),
                         ({"start": "1990-01-01", "end": "2026-09-01"}, "at most")]:
        with pytest.raises(aggregates.FilterError, match=message):
            aggregates.parse_filters(s, raw)


def test_previous_period_has_equal_length():
    f = Filters(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    p = f.previous()
    assert p.end == dt.date(2026, 9, 30) and p.days == f.days == 31


def test_percentile_from_histogram():
    hist = [(1, 5), (3, 4), (10, 1)]
    assert aggregates.percentile_from_histogram(hist, 0.5) == 1
    assert aggregates.percentile_from_histogram(hist, 0.9) == 3
    assert aggregates.percentile_from_histogram([], 0.5) is None


# ---------------------------------------------------------------- comparisons with the previous period

_texts = component_texts


def _card(cards, key: str):
    """The body of the dashboard's KPI card whose value has id kpi-<key>."""
    for col in cards.children:
        body = col.children.children
        if any(getattr(c, "id", None) == f"kpi-{key}" for c in body.children):
            return body
    raise AssertionError(key)


@pytest.fixture()
def own_claims(db_session):
    """A department of its own, with claims in February and March 2032 from before go-live (never
    routed, no event history) and claims in April 2032 that SCOPE routed, 2 of 10 moved."""
    import uuid

    from db.models import Claim, ClaimEvent, Dataset, Department, ModelVersion, RoutingDecision

    s = db_session
    tag = uuid.uuid4().hex[:6].upper()
    dept = Department(code=f"CMP_{tag}", name=f"Comparison {tag}", color="#117733")
    s.add(dept)
    if s.get(Dataset, "cmptest") is None:
        s.add(Dataset(name="cmptest", feature_spec=[]))
    mv = ModelVersion(dataset="cmptest", version=f"cmp-{tag}", status="retired", params={}, feature_schema={},
                      classes=[dept.code], metrics={}, n_train=0, n_holdout=0, artifact=b"x")
    s.add(mv)
    s.flush()

    def claims(n: int, day: dt.date) -> list:
        out = [Claim(claim_number=f"CMP-{tag}-{day:%m%d}-{i}", dataset="cmptest", source_key=uuid.uuid4().hex,
                     department_id=dept.id, report_date=day, status="new", line_of_business="auto")
               for i in range(n)]
        s.add_all(out)
        s.flush()
        return out

    claims(1, dt.date(2032, 2, 1))  # the data covers all of March
    claims(10, dt.date(2032, 3, 10))
    routed = claims(10, dt.date(2032, 4, 10))
    for c in routed:
        s.add(RoutingDecision(claim_id=c.id, model_version_id=mv.id, predicted_department_id=dept.id,
                              routed_department_id=dept.id, probabilities={}, confidence=0.9, threshold=0.5,
                              features={}, shap_values={}, shap_method="approx", drivers=[]))
    for c in routed[:2]:
        s.add(ClaimEvent(claim_id=c.id, kind="moved", to_department_id=dept.id, reason="test",
                         at=dt.datetime(2032, 4, 12, 10, tzinfo=dt.timezone.utc)))
    # Another adjuster in the same department: balancing workload, not a reassignment.
    s.add(ClaimEvent(claim_id=routed[2].id, kind="moved", from_department_id=dept.id, to_department_id=dept.id,
                     reason="test", at=dt.datetime(2032, 4, 12, 11, tzinfo=dt.timezone.utc)))
    s.flush()
    aggregates.refresh(s)
    return dept


def test_reassignment_rate_before_go_live_is_no_figure_not_zero(db_session, own_claims):
    """A period whose claims SCOPE never routed has no reassignment rate (None), so the
    card says "no comparison" instead of a change against 0%."""
    from components.kpis import NO_COMPARISON, kpi_cards

    f = Filters(dt.date(2032, 4, 1), dt.date(2032, 4, 30), own_claims.id)
    k = aggregates.kpis_with_previous(db_session, f)
    assert k["current"]["reassignment_rate"] == pytest.approx(0.2)  # 2 moved of 10 routed
    assert k["previous"]["received"] == 10 and k["previous"]["reassignment_rate"] is None
    card = _texts(_card(kpi_cards(k["current"], k["previous"], "USD"), "reassignment_rate"))
    # 10 routed claims are too few to read as a rate: the card says so instead of any comparison.
    assert "only 10 routed claims" in card and not any("pts" in t for t in card)
    routed = dict(k["current"], routed=20)
    card = _texts(_card(kpi_cards(routed, k["previous"], "USD"), "reassignment_rate"))
    assert NO_COMPARISON in card and not any("pts" in t or "only" in t for t in card)
    card = _texts(_card(kpi_cards(routed, dict(routed, reassignment_rate=0.1), "USD"), "reassignment_rate"))
    assert any("+10.0 pts" in t for t in card)
    # the claims received then are a real figure to compare with: 10 then, 10 now
    assert NO_COMPARISON not in _texts(_card(kpi_cards(k["current"], k["previous"], "USD"), "received"))


def test_previous_period_before_the_data_is_no_comparison(db_session, own_claims):
    first = aggregates.data_bounds(db_session)[0]
    # wholly before the first day of data: no figure at all, not zeros
    f = Filters(first, first + dt.timedelta(days=29))
    k = aggregates.kpis_with_previous(db_session, f)
    assert set(k["previous"].values()) == {None}
    from components.kpis import CARDS, NO_COMPARISON, kpi_cards

    cards = kpi_cards(k["current"], k["previous"], "USD")
    for card in CARDS:
        texts = _texts(_card(cards, card.key))
        assert "vs prev." not in texts, (card.key, texts)
        # no comparison; or a reason there is none: too few claims now, money still being paid
        assert NO_COMPARISON in texts or any(t.startswith("only ") or t == "still being paid" for t in texts), \
            (card.key, texts)
    # partly before it: no period totals (they would compare with part of a period), but
    # the backlog at its end and rates are real figures
    f = Filters(first + dt.timedelta(days=10), first + dt.timedelta(days=39))
    previous = aggregates.kpis_with_previous(db_session, f)["previous"]
    assert previous["received"] is None and previous["closed"] is None and previous["paid"] is None
    assert previous["backlog"] is not None


def test_routing_accuracy_card_shows_the_rate_without_claims_later_sent_to_siu():
    from components.dashboard_exports import headline_table
    from components.kpis import kpi_cards

    current = {"routing_accuracy": 0.914, "closed_routed": 2000, "routed_siu_later": 41,
               "routing_accuracy_without_siu_later": 0.9328}
    card = _texts(_card(kpi_cards(current, {}, "USD"), "routing_accuracy"))
    assert "91.4%" in card and "93.3% without 41 claims later sent to SIU" in card
    rows = {r["figure"]: r for r in headline_table(current, {}, [], "", "USD").rows}
    assert rows["Routing accuracy without claims later sent to SIU"]["value"] == 0.9328
    # nothing later sent to SIU, or a rate on too few claims: no second figure
    for changes in ({"routed_siu_later": 0}, {"closed_routed": 12}, {"closed_routed": 55}):
        card = _texts(_card(kpi_cards(dict(current, **changes), {}, "USD"), "routing_accuracy"))
        assert not any("later sent to SIU" in t for t in card)


def test_claims_later_sent_to_siu_count_only_when_routed_to_a_department(db_session):
    """Closed in SIU after a decision that named Auto Physical Damage: a referral after routing.
    After a decision that sent it to triage: a person routed it, so it stays a plain miss."""
    import uuid

    from sqlalchemy import select

    from db.models import Claim, Dataset, Department, ModelVersion, RoutingDecision

    s = db_session
    ids = {d.code: d.id for d in s.scalars(select(Department))}
    tag = uuid.uuid4().hex[:6].upper()
    if s.get(Dataset, "siulater") is None:
        s.add(Dataset(name="siulater", feature_spec=[]))
    mv = ModelVersion(dataset="siulater", version=f"sl-{tag}", status="retired", params={}, feature_schema={},
                      classes=[], metrics={}, n_train=0, n_holdout=0, artifact=b"x")
    s.add(mv)
    s.flush()
    day = dt.date(2033, 5, 10)
    # (final department, routed department): 20 right, 3 later sent to SIU, 2 from triage to SIU
    plan = [("AUTO_PD", "AUTO_PD")] * 20 + [("SIU", "AUTO_PD")] * 3 + [("SIU", "TRIAGE")] * 2
    for i, (final, routed) in enumerate(plan):
        c = Claim(claim_number=f"SL-{tag}-{i}", dataset="siulater", source_key=uuid.uuid4().hex,
                  department_id=ids[final], report_date=day, status="closed", line_of_business="auto",
                  closed_at=dt.datetime(2033, 5, 20, 12, tzinfo=dt.timezone.utc))
        s.add(c)
        s.flush()
        s.add(RoutingDecision(claim_id=c.id, model_version_id=mv.id, predicted_department_id=ids[routed],
                              routed_department_id=ids[routed], probabilities={}, confidence=0.9, threshold=0.5,
                              features={}, shap_values={}, shap_method="approx", drivers=[]))
    s.flush()
    aggregates.refresh(s)
    got = aggregates.kpis(s, Filters(dt.date(2033, 5, 1), dt.date(2033, 5, 31)))
    assert (got["closed_routed"], got["routed_siu_later"]) == (25, 3)
    assert got["routing_accuracy"] == pytest.approx(20 / 25)
    assert got["routing_accuracy_without_siu_later"] == pytest.approx(20 / 22)
