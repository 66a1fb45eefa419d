"""Two uploads of the same file to one claim at the same moment (a double click, two tabs, an API
retry racing the first try): the second waits for the first and is told the file is there, in
words, where the unique index alone would have answered a database error."""
from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import delete, update

from db.models import Claim, ClaimDocument, ClaimEvent, User
from services.claim_documents import DuplicateDocument, attach
from tests.siuutil import claim as make_claim, user as make_user
from tests.unit.test_claim_documents import PDF_BYTES

FILE = PDF_BYTES + b"% the same file twice at once\n"


def test_the_same_file_attached_twice_at_once_is_refused_in_words(session_factory):
    with session_factory() as s:
        claim = make_claim(s, "AUTO_PD")
        claim.claim_number = f"RACE-{uuid.uuid4().hex[:12]}"  # committed: a number no other test makes
        manager = make_user(s, "manager")
        s.commit()
        number, claim_id = claim.claim_number, claim.id
    second: dict = {}
    try:
        with session_factory() as a:
            attach(a, manager, number, [("estimate.pdf", FILE)], "estimate")

            def other_tab():
                with session_factory() as b:
                    try:
                        attach(b, manager, number, [("estimate (1).pdf", FILE)], "estimate")
                        b.commit()
                        second["result"] = "attached"
                    except Exception as exc:  # noqa: BLE001 - the test looks at what it was
                        second["result"] = exc

            thread = threading.Thread(target=other_tab)
            thread.start()
            time.sleep(1.0)
            assert thread.is_alive(), "the second upload did not wait for the first"
            a.commit()
        thread.join(30)
        assert isinstance(second["result"], DuplicateDocument), second["result"]
        assert "“estimate (1).pdf” is already attached to this claim (as “estimate.pdf”" in str(second["result"])
    finally:
        with session_factory() as s:
            s.execute(delete(ClaimDocument).where(ClaimDocument.claim_id == claim_id))
            s.execute(delete(ClaimEvent).where(ClaimEvent.claim_id == claim_id))
            s.execute(delete(Claim).where(Claim.id == claim_id))
            s.execute(update(User).where(User.id == manager.id).values(is_active=False))
            s.commit()
