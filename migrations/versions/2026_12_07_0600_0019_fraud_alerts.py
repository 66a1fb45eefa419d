"""fraud alerts

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 06:00:00+00:00

Claims outside Special Investigations with fraud signals (in a possible ring,
linked to a claim found fraudulent, a high SIU probability from the router, or
flagged by a person), kept by the raise_fraud_alerts job and decided by
managers (services.fraud_alerts). One row per claim.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fraud_alerts',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('claim_id', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=12), server_default='open', nullable=False),
        sa.Column('signals', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('signal_count', sa.SmallInteger(), nullable=False),
        sa.Column('siu_probability', sa.Float(), nullable=True),
        sa.Column('raised_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('dismissed_kinds', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.CheckConstraint("status IN ('open', 'referred', 'dismissed', 'withdrawn')",
                           name='ck_fraud_alerts_status'),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['decided_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('claim_id'),
    )
    op.create_index('ix_fraud_alerts_status', 'fraud_alerts', ['status', 'signal_count', 'siu_probability'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_fraud_alerts_status', table_name='fraud_alerts')
    op.drop_table('fraud_alerts')
