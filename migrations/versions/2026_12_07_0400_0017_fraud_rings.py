"""possible fraud rings

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 04:00:00+00:00

Groups of claims linked through shared party identifiers, refreshed by the
detect_rings job (services.fraud_rings). Keys ("R-000042") come from a sequence
and carry over from one run to the next to the ring that overlaps most. GIN
indexes answer "which ring is this claim in" (claim page) and "which rings touch
these departments" (an adjuster's Rings page).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE fraud_ring_keys")
    op.create_table(
        'fraud_rings',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=20), nullable=False),
        sa.Column('claim_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column('department_ids', postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column('links', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('open_claims', sa.Integer(), nullable=False),
        sa.Column('confirmed', sa.Integer(), nullable=False),
        sa.Column('claimed_sum', sa.Numeric(16, 2), nullable=False),
        sa.Column('first_report', sa.Date(), nullable=True),
        sa.Column('last_report', sa.Date(), nullable=True),
        sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_fraud_rings_claim_ids', 'fraud_rings', ['claim_ids'], unique=False,
                    postgresql_using='gin')
    op.create_index('ix_fraud_rings_department_ids', 'fraud_rings', ['department_ids'], unique=False,
                    postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_fraud_rings_department_ids', table_name='fraud_rings', postgresql_using='gin')
    op.drop_index('ix_fraud_rings_claim_ids', table_name='fraud_rings', postgresql_using='gin')
    op.drop_table('fraud_rings')
    op.execute("DROP SEQUENCE fraud_ring_keys")
