"""Email notifications about one's claims

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08 00:00:00+00:00

Two more kinds of email (services.notifications): claims assigned to a person by someone
else, and the morning digest of their claims past the service level. Each person's choice
is a column of notification_preferences (NULL = their role's default, as for the others),
and notification_sends' CHECK constraint, which lists the kinds, takes the two new ones.
The notify_assignments job reads the last day's assignment events every 10 minutes: a
partial index on their time keeps that from scanning the whole claim history.
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

OLD_KINDS = "('alert_opened', 'alert_resolved', 'siu_digest')"
NEW_KINDS = "('alert_opened', 'alert_resolved', 'siu_digest', 'claims_assigned', 'overdue_digest')"


def upgrade() -> None:
    op.add_column('notification_preferences', sa.Column('claims_assigned', sa.Boolean(), nullable=True))
    op.add_column('notification_preferences', sa.Column('overdue_digest', sa.Boolean(), nullable=True))
    op.drop_constraint('ck_notification_sends_kind', 'notification_sends', type_='check')
    op.create_check_constraint('ck_notification_sends_kind', 'notification_sends', f"kind IN {NEW_KINDS}")
    op.create_index('ix_claim_events_assignments', 'claim_events', ['at'],
                    postgresql_where=sa.text("kind IN ('assigned', 'moved')"))


def downgrade() -> None:
    op.drop_index('ix_claim_events_assignments', table_name='claim_events')
    # The old constraint cannot hold rows of the new kinds: their record of what was sent goes.
    op.execute("DELETE FROM notification_sends WHERE kind IN ('claims_assigned', 'overdue_digest')")
    op.drop_constraint('ck_notification_sends_kind', 'notification_sends', type_='check')
    op.create_check_constraint('ck_notification_sends_kind', 'notification_sends', f"kind IN {OLD_KINDS}")
    op.drop_column('notification_preferences', 'overdue_digest')
    op.drop_column('notification_preferences', 'claims_assigned')
