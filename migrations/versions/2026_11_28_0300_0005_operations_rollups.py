"""operations rollups (routing quality by routed/final department and confidence band)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 03:00:00+00:00

Rollup tables of the Operations page, rebuilt by services.operations.refresh
inside the aggregates refresh.
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ops_routing_daily',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('predicted_department_id', sa.Integer(), nullable=False),
        sa.Column('band', sa.Integer(), nullable=False),
        sa.Column('claims', sa.Integer(), nullable=False),
        sa.Column('confidence_sum', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ops_routing_daily_day', 'ops_routing_daily', ['day'], unique=False)
    op.create_table(
        'ops_moves_daily',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('from_department_id', sa.Integer(), nullable=True),
        sa.Column('to_department_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=60), nullable=True),
        sa.Column('moves', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ops_moves_daily_day', 'ops_moves_daily', ['day'], unique=False)
    op.create_table(
        'ops_feedback_daily',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('agrees', sa.Boolean(), nullable=False),
        sa.Column('reason_code', sa.String(length=40), nullable=True),
        sa.Column('suggested_department_id', sa.Integer(), nullable=True),
        sa.Column('verdicts', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ops_feedback_daily_day', 'ops_feedback_daily', ['day'], unique=False)
    op.create_table(
        'ops_open_claims',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('adjuster_id', sa.Integer(), nullable=True),
        sa.Column('report_day', sa.Date(), nullable=False),
        sa.Column('claims', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ops_open_claims_department', 'ops_open_claims', ['department_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ops_open_claims_department', table_name='ops_open_claims')
    op.drop_table('ops_open_claims')
    op.drop_index('ix_ops_feedback_daily_day', table_name='ops_feedback_daily')
    op.drop_table('ops_feedback_daily')
    op.drop_index('ix_ops_moves_daily_day', table_name='ops_moves_daily')
    op.drop_table('ops_moves_daily')
    op.drop_index('ix_ops_routing_daily_day', table_name='ops_routing_daily')
    op.drop_table('ops_routing_daily')
