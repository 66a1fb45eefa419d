"""Shared formatting of stored values for pages."""
from __future__ import annotations

import pytest

from components.common import fact_text
from tests.webutil import component_texts


@pytest.mark.parametrize(("value", "text"), [
    (None, "not given"), ("", "not given"), (True, "Yes"), (False, "No"), (0, "0"), (3824, "3,824"),
    (50.0, "50"), (1234.5, "1,234.50"), ("mobile_app", "Mobile app"), ("CAT-2024-09", "CAT-2024-09"),
    ("Regular", "Regular"),
])
def test_fact_text(value, text):
    # bool before int: True must not read "1".
    assert fact_text(value) == text


def test_parties_card_uses_the_forms_words_and_reads_phones():
    from components.parties import parties_card, phone_text

    card = parties_card([{"role": "repair_shop", "name": "King Car Care", "phone": "4077117945",
                          "vin": "1HGCM82633A004352",
                          "email": None},
                         {"role": "witness", "name": "•••", "phone": "•••"}])
    text = " ".join(component_texts(card))
    assert "People and businesses" in text and "Repair shop" in text and "Witness" in text
    assert "Phone: (407) 711-7945 · VIN: 1HGCM82633A004352" in text
    assert phone_text("+441234") == "+441234" and parties_card([]) is None
