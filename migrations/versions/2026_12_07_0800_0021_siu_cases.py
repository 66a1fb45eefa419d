"""SIU cases

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 08:00:00+00:00

Investigations by Special Investigations (services.siu_cases): a case groups
claims under a lead investigator, keeps its activity, and closes with a finding
that is recorded on its claims. A claim is in one case at most.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE siu_case_keys")
    op.create_table(
        'siu_cases',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=20), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=12), server_default='open', nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('findings', sa.Text(), nullable=True),
        sa.Column('saved_amount', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('lead_id', sa.Integer(), nullable=True),
        sa.Column('ring_key', sa.String(length=20), nullable=True),
        sa.Column('opened_by', sa.Integer(), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('closed_by', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name='ck_siu_cases_status'),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('confirmed_fraud', 'no_fraud', 'inconclusive')",
                           name='ck_siu_cases_outcome'),
        sa.CheckConstraint("(status = 'closed') = (outcome IS NOT NULL)", name='ck_siu_cases_closed_has_outcome'),
        sa.CheckConstraint('saved_amount IS NULL OR saved_amount >= 0', name='ck_siu_cases_saved'),
        sa.ForeignKeyConstraint(['lead_id'], ['users.id']),
        sa.ForeignKeyConstraint(['opened_by'], ['users.id']),
        sa.ForeignKeyConstraint(['closed_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_siu_cases_status', 'siu_cases', ['status', 'opened_at'], unique=False)
    op.create_index('ix_siu_cases_lead', 'siu_cases', ['lead_id', 'status'], unique=False)
    op.create_table(
        'siu_case_claims',
        sa.Column('case_id', sa.BigInteger(), nullable=False),
        sa.Column('claim_id', sa.BigInteger(), nullable=False),
        sa.Column('added_by', sa.Integer(), nullable=True),
        sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['siu_cases.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['added_by'], ['users.id']),
        sa.PrimaryKeyConstraint('case_id', 'claim_id'),
        sa.UniqueConstraint('claim_id'),
    )
    op.create_table(
        'siu_case_events',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('case_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['siu_cases.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_siu_case_events_case', 'siu_case_events', ['case_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_siu_case_events_case', table_name='siu_case_events')
    op.drop_table('siu_case_events')
    op.drop_table('siu_case_claims')
    op.drop_index('ix_siu_cases_lead', table_name='siu_cases')
    op.drop_index('ix_siu_cases_status', table_name='siu_cases')
    op.drop_table('siu_cases')
    op.execute("DROP SEQUENCE siu_case_keys")
