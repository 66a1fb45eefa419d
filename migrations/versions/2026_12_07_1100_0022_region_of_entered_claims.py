"""region of claims entered in SCOPE

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 11:00:00+00:00

Claims entered on the New claim form or through the API (source_key "fnol:...")
were stored without a region, so the dashboard counted them under "Unknown
region". Intake now derives it from the state (services.geography); this fills
it in for those already stored. Downgrade leaves the data as it is: nothing
tells a filled-in region from one entered since.
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# The census regions as of this revision (a copy, so a later change to the app's
# map does not change what this migration did).
REGIONS = {
    "Northeast": ("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"),
    "Midwest": ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"),
    "South": ("DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV", "AL", "KY", "MS", "TN", "AR", "LA", "OK", "TX"),
    "West": ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"),
}


def upgrade() -> None:
    # One pass over claims (no index serves state or the key's prefix), not one per state.
    values = ", ".join(f"('{s}', '{r}')" for r, states in REGIONS.items() for s in states)   # constants above
    op.execute(sa.text(
        f"UPDATE claims c SET region = v.region FROM (VALUES {values}) AS v(state, region) "  # nosec B608
        "WHERE c.state = v.state AND c.region IS NULL AND c.source_key LIKE 'fnol:%'"))


def downgrade() -> None:
    pass
