"""Email notifications

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 23:00:00+00:00

What each person wants emailed (alerts opening and resolving, the daily digest of
their SIU tasks due), and one row per email sent, whose unique key keeps a second
run or a second scheduler from sending it again (services.notifications).
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('alert_emails', sa.Boolean(), nullable=True),
        sa.Column('alert_min_severity', sa.String(length=10), nullable=True),
        sa.Column('alert_resolved', sa.Boolean(), nullable=True),
        sa.Column('siu_digest', sa.Boolean(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("alert_min_severity IS NULL OR alert_min_severity IN ('info', 'warning', 'critical')",
                           name='ck_notification_preferences_severity'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'notification_sends',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('ref', sa.String(length=40), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind IN ('alert_opened', 'alert_resolved', 'siu_digest')",
                           name='ck_notification_sends_kind'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'kind', 'ref', name='uq_notification_sends_user_kind_ref'),
    )


def downgrade() -> None:
    op.drop_table('notification_sends')
    op.drop_table('notification_preferences')
