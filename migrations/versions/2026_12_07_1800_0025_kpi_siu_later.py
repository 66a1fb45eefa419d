"""kpi_daily: closed claims routed elsewhere that ended in Special Investigations

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 18:00:00+00:00

Routing accuracy counts a claim referred to SIU after routing (a fraud signal found
while it was worked) as a miss. The dashboard keeps that definition and shows beside
it the accuracy without those claims, so the rollup counts them.
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kpi_daily", sa.Column("routed_siu_later", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("kpi_daily", "routed_siu_later")
