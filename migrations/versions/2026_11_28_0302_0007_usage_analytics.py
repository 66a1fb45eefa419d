"""user behaviour analytics (usage events, click samples, ratings)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 03:02:00+00:00

Reserved slot in the migration chain: filled in by the work on this part.
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
