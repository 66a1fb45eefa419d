"""possible fraud rings

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 04:00:00+00:00

Groups of claims linked through shared party identifiers, refreshed by the
detect_rings job (services.fraud_rings). A GIN index on the member ids answers
"which ring is this claim in" for the claim page.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fraud_rings',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('claim_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column('links', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_fraud_rings_claim_ids', 'fraud_rings', ['claim_ids'], unique=False,
                    postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_fraud_rings_claim_ids', table_name='fraud_rings', postgresql_using='gin')
    op.drop_table('fraud_rings')
