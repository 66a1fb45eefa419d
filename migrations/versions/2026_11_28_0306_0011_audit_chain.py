"""audit log hash chain and database grants

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 03:06:00+00:00

Reserved slot in the migration chain: filled in by the work on this part.
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
