"""index closed claims by closing time

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 14:00:00+00:00

The executive dashboard lists the claims closed on a clicked day of its trend;
without this partial index that list scans every closed claim of a department.
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_claims_closed_at', 'claims', ['closed_at'], unique=False,
                    postgresql_where=sa.text("status = 'closed'"))


def downgrade() -> None:
    op.drop_index('ix_claims_closed_at', table_name='claims', postgresql_where=sa.text("status = 'closed'"))
