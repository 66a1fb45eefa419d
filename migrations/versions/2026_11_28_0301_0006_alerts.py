"""threshold alert rules and alert history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 03:01:00+00:00

Reserved slot in the migration chain: filled in by the work on this part.
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
