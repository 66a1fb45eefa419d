"""datasets: automatic promotion can be paused

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 14:00:00+00:00

An admin who rolls a dataset back to an earlier model by hand (services.models.promote)
would otherwise see the nightly retrain replace it with a new version that beats it
on the holdout, with nothing said. A hand promotion pauses automatic promotion for
the dataset: retraining keeps its new versions as candidates until an admin lets it
promote again. Who changed it and when are kept beside the flag.
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("auto_promote", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("datasets", sa.Column("auto_promote_changed_by", sa.String(254), nullable=True))
    op.add_column("datasets", sa.Column("auto_promote_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("datasets", "auto_promote_changed_at")
    op.drop_column("datasets", "auto_promote_changed_by")
    op.drop_column("datasets", "auto_promote")
