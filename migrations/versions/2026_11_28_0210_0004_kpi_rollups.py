"""kpi rollups: daily executive KPIs and the cycle-time histogram

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 02:10:00+00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_COUNTS = ("received", "closed")
_MORE = ("fraud_flagged", "routed", "auto_routed", "reassigned", "closed_routed", "routed_correct",
         "feedback_total", "feedback_agree")


def upgrade() -> None:
    op.create_table(
        'kpi_daily',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('line_of_business', sa.String(length=40), nullable=True),
        sa.Column('region', sa.String(length=60), nullable=True),
        *[sa.Column(c, sa.Integer(), server_default='0', nullable=False) for c in _COUNTS],
        *[sa.Column(c, sa.Numeric(18, 2), server_default='0', nullable=False)
          for c in ('reserve_sum', 'paid_sum', 'claimed_sum')],
        *[sa.Column(c, sa.Integer(), server_default='0', nullable=False) for c in _MORE],
        sa.Column('cycle_days_sum', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('cycle_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('sla_breaches', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kpi_daily_day', 'kpi_daily', ['day'], unique=False)
    op.create_index('ix_kpi_daily_department_day', 'kpi_daily', ['department_id', 'day'], unique=False)
    op.create_table(
        'kpi_cycle_histogram',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('line_of_business', sa.String(length=40), nullable=True),
        sa.Column('cycle_days', sa.Integer(), nullable=False),
        sa.Column('claims', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_kpi_cycle_histogram_day', 'kpi_cycle_histogram', ['day'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_kpi_cycle_histogram_day', table_name='kpi_cycle_histogram')
    op.drop_table('kpi_cycle_histogram')
    op.drop_index('ix_kpi_daily_department_day', table_name='kpi_daily')
    op.drop_index('ix_kpi_daily_day', table_name='kpi_daily')
    op.drop_table('kpi_daily')
