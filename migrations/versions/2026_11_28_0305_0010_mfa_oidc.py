"""mfa (totp, recovery codes) and single sign-on identities

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 03:05:00+00:00

Reserved slot in the migration chain: filled in by the work on this part.
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
