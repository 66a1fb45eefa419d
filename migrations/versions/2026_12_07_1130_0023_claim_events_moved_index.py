"""index of moves by destination

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 11:30:00+00:00

The dashboard's "Referred to SIU" counts the claims moved into the SIU queue in
a period (services.siu_case_views.period_results), twice per render (this period
and the previous one). Without an index that is a scan of every claim event; the
partial index holds only moves, by destination and time.
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_claim_events_moved_to", "claim_events", ["to_department_id", "at"], unique=False,
                    postgresql_where=sa.text("kind = 'moved'"))


def downgrade() -> None:
    op.drop_index("ix_claim_events_moved_to", table_name="claim_events")
