"""US Census Bureau regions of the states (and DC) that SCOPE's claim forms accept.
The dashboard and the rollups group claims by region, so a claim entered with only
its state gets its region from here."""
from __future__ import annotations

CENSUS_REGIONS = {
    "Northeast": ("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"),
    "Midwest": ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"),
    "South": ("DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV", "AL", "KY", "MS", "TN", "AR", "LA", "OK", "TX"),
    "West": ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"),
}
REGION_OF = {state: region for region, states in CENSUS_REGIONS.items() for state in states}


def region_of(state: str | None) -> str | None:
    return REGION_OF.get(state) if isinstance(state, str) else None
