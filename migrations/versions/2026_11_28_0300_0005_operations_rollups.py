"""operations rollups (routing quality by routed/final department and confidence band)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 03:00:00+00:00

Reserved slot in the migration chain: filled in by the work on this part.
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
