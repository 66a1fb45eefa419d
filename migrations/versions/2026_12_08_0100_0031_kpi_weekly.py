"""Weekly KPI summary email

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08 01:00:00+00:00

One more kind of email (services.notifications): the Monday summary of last week's dashboard
figures against the week before, for the roles that see the dashboard. Each person's choice is
a column of notification_preferences (NULL = their role's default, as for the others), and
notification_sends' CHECK constraint, which lists the kinds, takes the new one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

OLD_KINDS = "('alert_opened', 'alert_resolved', 'siu_digest', 'claims_assigned', 'overdue_digest')"
NEW_KINDS = "('alert_opened', 'alert_resolved', 'siu_digest', 'claims_assigned', 'overdue_digest', 'kpi_weekly')"


def upgrade() -> None:
    op.add_column('notification_preferences', sa.Column('kpi_weekly', sa.Boolean(), nullable=True))
    op.drop_constraint('ck_notification_sends_kind', 'notification_sends', type_='check')
    op.create_check_constraint('ck_notification_sends_kind', 'notification_sends', f"kind IN {NEW_KINDS}")


def downgrade() -> None:
    # The old constraint cannot hold rows of the new kind: their record of what was sent goes.
    op.execute("DELETE FROM notification_sends WHERE kind = 'kpi_weekly'")
    op.drop_constraint('ck_notification_sends_kind', 'notification_sends', type_='check')
    op.create_check_constraint('ck_notification_sends_kind', 'notification_sends', f"kind IN {OLD_KINDS}")
    op.drop_column('notification_preferences', 'kpi_weekly')
