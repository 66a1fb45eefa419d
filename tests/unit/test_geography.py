"""Census regions: every state the claim forms accept has one, and the demo data agrees."""
from __future__ import annotations

from services.demo_data import STATES
from services.geography import CENSUS_REGIONS, region_of
from services.intake import US_STATES


def test_every_state_of_the_form_has_exactly_one_region():
    listed = [s for states in CENSUS_REGIONS.values() for s in states]
    assert len(listed) == len(set(listed)) == 51
    assert set(US_STATES) == set(listed)
    assert region_of("CA") == "West" and region_of("DC") == "South" and region_of("NY") == "Northeast"
    assert region_of("ZZ") is None and region_of(None) is None and region_of(["CA"]) is None


def test_the_demo_generator_uses_the_same_regions():
    assert {s[0]: s[4] for s in STATES} == {s: region_of(s) for s, *_ in STATES}
