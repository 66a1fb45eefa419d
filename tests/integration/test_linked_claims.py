"""Linked claims: other claims whose parties share an identifier with this claim's."""
from __future__ import annotations

import pytest

from services.linked_claims import BUSINESS_HUB_LIMIT, HUB_LIMIT, linked_claims
from tests.partyutil import make_claim, make_user, next_tag


@pytest.fixture()
def ring(db_session):
    # Identifiers unique to this test run: the shared database holds other tests' parties.
    tag = f"{next_tag():04d}"
    phone, bank, shop = f"555{tag}001", f"LCBANK{tag}", f"555{tag}999"
    me = make_claim(db_session, parties=[("claimant", {"phone": phone, "bank_account": bank}),
                                     ("repair_shop", {"phone": shop})])
    same_bank = make_claim(db_session, parties=[("claimant", {"bank_account": bank})])
    both = make_claim(db_session, status="closed", fraud=True,
                  parties=[("claimant", {"phone": phone, "bank_account": bank})])
    open_flagged = make_claim(db_session, fraud=True, parties=[("witness", {"phone": phone})])
    other_dept = make_claim(db_session, department="WORKERS_COMP", parties=[("claimant", {"phone": phone})])
    shop_only = make_claim(db_session, parties=[("repair_shop", {"phone": shop})])
    unrelated = make_claim(db_session, parties=[("claimant", {"phone": f"555{tag}777"})])
    return {"me": me, "same_bank": same_bank, "both": both, "open_flagged": open_flagged,
            "other_dept": other_dept, "shop_only": shop_only, "unrelated": unrelated, "phone": phone,
            "bank": bank, "shop": shop}


def test_claims_sharing_an_identifier_are_listed_with_what_they_share(db_session, ring):
    manager = make_user(db_session, "manager")
    links = linked_claims(db_session, manager, ring["me"])
    numbers = [c.claim_number for c in links.claims]
    assert set(numbers) == {ring[k].claim_number for k in ("same_bank", "both", "open_flagged", "other_dept",
                                                            "shop_only")}
    assert ring["me"].claim_number not in numbers and ring["unrelated"].claim_number not in numbers
    # Most shared identifiers first; a link only through the shop comes last.
    assert numbers[0] == ring["both"].claim_number and numbers[-1] == ring["shop_only"].claim_number
    by_number = {c.claim_number: c for c in links.claims}
    assert [s.field for s in by_number[ring["both"].claim_number].shared] == ["bank account", "phone"]
    assert by_number[ring["both"].claim_number].shared[0].value == ring["bank"]
    assert by_number[ring["shop_only"].claim_number].shared[0].label == "repair shop's phone"
    # A fraud finding shows on a closed claim only; an open claim's flag is not an outcome yet.
    assert by_number[ring["both"].claim_number].fraud_label is True
    assert by_number[ring["open_flagged"].claim_number].fraud_label is None
    assert links.hubs == []


def test_adjuster_sees_only_claims_of_their_departments(db_session, ring):
    from components.linked_claims import linked_claims_card

    adjuster = make_user(db_session, "adjuster", ("AUTO_PD",))
    links = linked_claims(db_session, adjuster, ring["me"])
    numbers = {c.claim_number for c in links.claims}
    assert ring["other_dept"].claim_number not in numbers
    assert ring["both"].claim_number in numbers
    # The other department's claim is counted, not named; the manager has nothing elsewhere.
    assert (links.elsewhere, links.elsewhere_fraudulent) == (1, 0)
    assert linked_claims(db_session, make_user(db_session, "manager"), ring["me"]).elsewhere == 0
    # Found fraudulent there, it says so (the fraud alert on this claim says it too).
    ring["other_dept"].status, ring["other_dept"].fraud_label = "closed", True
    db_session.flush()
    links = linked_claims(db_session, adjuster, ring["me"])
    assert (links.elsewhere, links.elsewhere_fraudulent) == (1, 1)
    card = str(linked_claims_card(links))
    assert "Not listed: 1 more linked claim in a department you do not work (found fraudulent)." in card
    assert ring["other_dept"].claim_number not in card


def test_viewer_gets_masked_identifiers(db_session, ring):
    viewer = make_user(db_session, "viewer")
    links = linked_claims(db_session, viewer, ring["me"])
    values = [s.value for c in links.claims for s in c.shared]
    assert values and ring["bank"] not in values and ring["phone"] not in values
    assert all("•" in v for v in values)


def test_busy_business_and_person_identifiers_are_named_not_listed(db_session, ring):
    manager = make_user(db_session, "manager")
    for _ in range(BUSINESS_HUB_LIMIT):  # with shop_only: one more than the limit
        make_claim(db_session, parties=[("repair_shop", {"phone": ring["shop"]})])
    links = linked_claims(db_session, manager, ring["me"])
    assert [h.label for h in links.hubs] == ["repair shop's phone"]
    assert ring["shop_only"].claim_number not in {c.claim_number for c in links.claims}
    # A person's identifier tolerates more before it counts as common.
    for _ in range(HUB_LIMIT - 2):  # three other claims carry the phone already: HUB_LIMIT + 1 in all
        make_claim(db_session, parties=[("claimant", {"phone": ring["phone"]})])
    links = linked_claims(db_session, manager, ring["me"])
    assert [h.field for h in links.hubs] == ["phone", "phone"]
    # Still linked through the bank account: the claims that share it stay listed.
    assert {ring["same_bank"].claim_number, ring["both"].claim_number} <= {c.claim_number for c in links.claims}


def test_a_claim_without_parties_has_no_links(db_session):
    manager = make_user(db_session, "manager")
    links = linked_claims(db_session, manager, make_claim(db_session))
    assert links.claims == [] and links.hubs == []
