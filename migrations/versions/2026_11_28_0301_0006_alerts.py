"""threshold alert rules and alert history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 03:01:00+00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

COMPARISONS = ("above", "below")
PERIODS = ("today", "this_week", "last_7_days", "this_month")
SEVERITIES = ("info", "warning", "critical")


def upgrade() -> None:
    op.create_table(
        'alert_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('metric', sa.String(length=40), nullable=False),
        sa.Column('comparison', sa.String(length=8), nullable=False),
        sa.Column('threshold', sa.Float(), nullable=False),
        sa.Column('period', sa.String(length=20), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('severity', sa.String(length=10), server_default='warning', nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('last_value', sa.Float(), nullable=True),
        sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by', sa.String(length=254), server_default='system', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(f"comparison IN {COMPARISONS}", name='ck_alert_rules_comparison'),
        sa.CheckConstraint(f"period IN {PERIODS}", name='ck_alert_rules_period'),
        sa.CheckConstraint(f"severity IN {SEVERITIES}", name='ck_alert_rules_severity'),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'alert_events',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('rule_id', sa.Integer(), nullable=True),
        sa.Column('rule_name', sa.String(length=120), nullable=False),
        sa.Column('metric', sa.String(length=40), nullable=False),
        sa.Column('comparison', sa.String(length=8), nullable=False),
        sa.Column('threshold', sa.Float(), nullable=False),
        sa.Column('period', sa.String(length=20), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('severity', sa.String(length=10), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('opened_value', sa.Float(), nullable=False),
        sa.Column('last_value', sa.Float(), nullable=False),
        sa.Column('worst_value', sa.Float(), nullable=False),
        sa.Column('last_checked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolution', sa.String(length=40), nullable=True),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by', sa.String(length=254), nullable=True),
        sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_alert_events_open_rule', 'alert_events', ['rule_id'], unique=True,
                    postgresql_where=sa.text('resolved_at IS NULL'))
    op.create_index('ix_alert_events_open', 'alert_events', ['opened_at'], unique=False,
                    postgresql_where=sa.text('resolved_at IS NULL'))
    op.create_index('ix_alert_events_opened_at', 'alert_events', ['opened_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alert_events_opened_at', table_name='alert_events')
    op.drop_index('ix_alert_events_open', table_name='alert_events')
    op.drop_index('uq_alert_events_open_rule', table_name='alert_events')
    op.drop_table('alert_events')
    op.drop_table('alert_rules')
