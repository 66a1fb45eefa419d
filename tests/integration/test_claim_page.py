"""The claim page shows the stored decision and respects record-level access."""
from __future__ import annotations

from sqlalchemy import select

from db.models import Claim, Department, RoutingDecision
from tests.webutil import queue_rows, render_page


def _claim_in(web_app, code: str) -> str:
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        number = session.scalar(
            select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
            .join(RoutingDecision, RoutingDecision.claim_id == Claim.id)
            .where(Department.code == code, Claim.status != "closed").limit(1))
        session.close()
    return number


def test_claim_page_shows_stored_decision_and_reasons(web_app, client_for):
    number = _claim_in(web_app, "AUTO_PD")
    status, body = render_page(client_for("adjuster"), f"/claims/{number}")
    assert status == 200
    assert number in body
    for text in ("Routing decision", "Why, in words", "toward", "decision-waterfall", "decision-probabilities",
                 "synthetic-"):
        assert text in body, text


def test_claim_facts_name_the_line_of_business_in_words(web_app, client_for):
    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        number = session.scalar(select(Claim.claim_number).where(Claim.line_of_business == "general_liability")
                                .limit(1))
        session.close()
    status, body = render_page(client_for("viewer"), f"/claims/{number}")
    assert status == 200 and "General liability" in body, body[:500]
    assert '"general_liability"' not in body


def test_adjuster_cannot_open_a_claim_outside_their_departments(web_app, client_for):
    number = _claim_in(web_app, "WORKERS_COMP")
    adjuster = client_for("adjuster")
    status, body = render_page(adjuster, f"/claims/{number}")
    assert status == 200
    assert "Routing decision" not in body and "outside your departments" not in body
    # Exactly what a claim that does not exist shows: its existence is not revealed.
    _, missing = render_page(adjuster, "/claims/SYN-99999999")
    assert body.replace(number, "N") == missing.replace("SYN-99999999", "N")
    assert "Claim not found" in body
    status, body = render_page(client_for("viewer"), f"/claims/{number}")
    assert "Routing decision" in body


def test_unknown_and_malformed_claim_numbers(client_for):
    client = client_for("manager")
    for path in ("/claims/NOPE-1", "/claims/" + "x" * 500, "/claims/%27%3B--"):
        status, body = render_page(client, path)
        assert status == 200
        assert "Claim not found" in body


def test_queue_links_lead_to_claims(client_for):
    client = client_for("adjuster")
    _, rows, _ = queue_rows(client, "AUTO_GLASS", {"startRow": 0, "endRow": 5})
    number = rows["rowData"][0]["claim_number"]
    status, body = render_page(client, f"/claims/{number}")
    assert number in body and "Routing decision" in body


def test_a_claim_without_buttons_says_why(web_app, client_for):
    """The card said "Nothing you can change on this claim right now" to everyone, which
    read to a viewer as if the claim might open up later."""
    from db.flask_db import read_session

    number = _claim_in(web_app, "AUTO_PD")
    _, body = render_page(client_for("viewer"), f"/claims/{number}")
    assert "Your role can read claims but not change them." in body
    with web_app.server.app_context():
        session = read_session()
        closed = session.scalar(select(Claim.claim_number).join(Department, Department.id == Claim.department_id)
                                .where(Department.code == "AUTO_PD", Claim.status == "closed").limit(1))
        session.close()
    _, body = render_page(client_for("adjuster"), f"/claims/{closed}")
    assert "This claim is closed; only a manager can reopen it." in body


def test_a_triage_claim_says_who_sends_it_on(web_app, client_for):
    """An adjuster could take a Triage claim but never close or route it, and nothing said
    why or what to do: the card now names who moves it and how to suggest a department."""
    triage = _claim_in(web_app, "TRIAGE")
    elsewhere = _claim_in(web_app, "AUTO_PD")
    _, body = render_page(client_for("adjuster"), f"/claims/{triage}")
    assert "A manager sends Triage claims on to their department" in body
    assert "Department it should go to" in body  # the form it points to is on the page
    _, body = render_page(client_for("manager"), f"/claims/{triage}")
    assert "send it to its department on the Reassign board" in body
    _, body = render_page(client_for("adjuster"), f"/claims/{elsewhere}")
    assert "claim-actions-note" not in body


def _back(body: str) -> dict:
    import json

    def walk(node):
        if isinstance(node, dict):
            if node.get("id") == "claim-back":
                return node
            for value in node.values():
                found = walk(value)
                if found:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = walk(value)
                if found:
                    return found
        return None
    return walk(json.loads(body))


def test_back_link_returns_to_my_work_when_opened_from_there(web_app, client_for):
    number = _claim_in(web_app, "AUTO_PD")
    client = client_for("adjuster")
    back = _back(render_page(client, f"/claims/{number}", "?from=my-work")[1])
    assert back["href"] == "/my-work" and back["children"].endswith("Back to My work")
    back = _back(render_page(client, f"/claims/{number}")[1])
    assert back["href"] == "/queues?department=AUTO_PD" and back["children"].endswith("Back to queue")
    back = _back(render_page(client, f"/claims/{number}", "?from=https://evil.example")[1])
    assert back["href"] == "/queues?department=AUTO_PD"
    # From a filtered list (the grid's links carry its address): back to it, filters and all.
    from urllib.parse import quote

    filters = '{"statuses":["new"],"amount_min":500}'
    listed = f"/queues?department=PROPERTY&f={quote(filters)}"
    back = _back(render_page(client, f"/claims/{number}", f"?back={quote(listed)}")[1])
    assert back["href"] == listed and back["children"].endswith("Back to queue")
    back = _back(render_page(client, f"/claims/{number}", f"?back={quote('/my-work?f=' + quote(filters))}")[1])
    assert back["href"] == f"/my-work?f={quote(filters)}" and back["children"].endswith("Back to My work")
    # Only our lists and their own parameters: anything else falls back to the claim's queue.
    for bad in ("https://evil.example/queues", "//evil.example/queues", "/admin/users", "/queues/../admin",
                "javascript:alert(1)", "/queues?department=AUTO_PD&next=https://evil.example"):
        back = _back(render_page(client, f"/claims/{number}", f"?back={quote(bad)}")[1])
        assert back["href"] == "/queues?department=AUTO_PD", (bad, back)


def test_claim_page_shows_the_first_notice_circumstances_but_no_outcome(web_app, client_for):
    import re

    from db.flask_db import read_session

    with web_app.server.app_context():
        session = read_session()
        claim = session.scalar(select(Claim).where(Claim.dataset == "synthetic",
                                                   Claim.extra["injury_reported"].as_boolean().is_(True),
                                                   Claim.extra["true_department"].isnot(None)).limit(1))
        number, extra = claim.claim_number, dict(claim.extra)
        session.close()
    status, body = render_page(client_for("viewer"), f"/claims/{number}")
    assert status == 200 and "Circumstances" in body
    # Each label is followed by its value as people read it.
    assert re.search(r'"Injury reported".{0,200}?"Yes"', body), body[:300]
    assert re.search(r'"Prior claims \(3 years\)".{0,200}?"%s"' % f"{extra['prior_claims_3y']:,}", body)
    # The generator's ground truth sits in claims.extra too: never shown as a fact.
    assert "true_department" not in body and "True department" not in body


def test_first_notice_facts_follow_the_dataset_spec(db_session):
    from db.models import Dataset
    from services.claims import first_notice_facts

    db_session.add(Dataset(name="factstest", feature_spec=[
        {"name": "DrivAge", "kind": "numeric", "source": "extra"},
        {"name": "loss_date", "kind": "date", "source": "column"},
        {"name": "injury_reported", "kind": "categorical", "source": "extra"},
        {"name": "veh_usage", "kind": "categorical", "source": "extra"},
    ]))
    db_session.flush()
    claim = Claim(claim_number="FACTS-1", dataset="factstest", source_key="1", status="new",
                  extra={"DrivAge": 45, "Payment": 1200.5, "injury_reported": None, "Guarantee": "TPL"})
    # Only the spec's extra columns, in its order, labelled: intake's label, or the
    # import's own name (case kept); a missing value is None (shown "not given").
    assert first_notice_facts(db_session, claim) == [
        ("DrivAge", 45), ("Injury reported", None), ("Veh usage", None)]
    claim.dataset = "no-such-dataset"
    assert first_notice_facts(db_session, claim) == []


def test_claim_facts_show_the_payment_once_there_is_one(web_app, client_for):
    from db.flask_db import read_session
    from services.currency import money

    with web_app.server.app_context():
        session = read_session()
        paid = session.execute(select(Claim.claim_number, Claim.paid_amount)
                               .where(Claim.paid_amount.isnot(None)).limit(1)).first()
        unpaid = session.scalar(select(Claim.claim_number).where(Claim.paid_amount.is_(None)).limit(1))
        session.close()
    _, body = render_page(client_for("viewer"), f"/claims/{paid.claim_number}")
    assert '"Paid"' in body and money(paid.paid_amount, "USD") in body
    _, body = render_page(client_for("viewer"), f"/claims/{unpaid}")
    assert '"Paid"' not in body


def test_claim_page_lists_claims_linked_through_a_party(web_app, client_for):
    from sqlalchemy import func

    from db.flask_db import read_session
    from db.models import Party

    with web_app.server.app_context():
        session = read_session()
        # A claimant's bank account on exactly two claims (the demo's rings share them).
        bank = session.scalar(select(Party.bank_account).where(Party.role == "claimant", Party.bank_account.isnot(None))
                              .group_by(Party.bank_account).having(func.count(func.distinct(Party.claim_id)) == 2)
                              .limit(1))
        first, second = session.scalars(select(Claim.claim_number).join(Party, Party.claim_id == Claim.id)
                                        .where(Party.bank_account == bank).distinct()).all()
        session.close()
    status, body = render_page(client_for("manager"), f"/claims/{first}")
    assert status == 200 and "Linked claims" in body
    linked = body[body.find("Linked claims"):]
    assert f'"href":"\\u002fclaims\\u002f{second}"' in linked and "Shares bank account" in linked
    # Viewers see the link but not the account itself.
    _, body = render_page(client_for("viewer"), f"/claims/{first}")
    assert second in body[body.find("Linked claims"):] and bank not in body
