"""Shared formatting of stored values for pages."""
from __future__ import annotations

import pytest

from components.common import fact_text


@pytest.mark.parametrize(("value", "text"), [
    (None, "not given"), ("", "not given"), (True, "Yes"), (False, "No"), (0, "0"), (3824, "3,824"),
    (50.0, "50"), (1234.5, "1,234.50"), ("mobile_app", "Mobile app"), ("CAT-2024-09", "CAT-2024-09"),
    ("Regular", "Regular"),
])
def test_fact_text(value, text):
    # bool before int: True must not read "1".
    assert fact_text(value) == text
