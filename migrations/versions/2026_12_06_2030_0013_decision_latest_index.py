"""index routing decisions by claim and id

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:30:00+00:00

The claim page, feedback and intake read a claim's latest decision with
``WHERE claim_id = ? ORDER BY id DESC LIMIT 1``. With only (claim_id, decided_at)
indexed, PostgreSQL walked the primary key backwards filtering on claim_id: 66 ms
for an early claim among 6,600 decisions, growing with every decision stored.
"""
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_routing_decisions_claim_latest', 'routing_decisions', ['claim_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_routing_decisions_claim_latest', table_name='routing_decisions')
