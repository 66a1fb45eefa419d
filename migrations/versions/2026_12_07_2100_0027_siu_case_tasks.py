"""SIU case tasks

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 21:00:00+00:00

An investigation's to-do list (services.siu_case_tasks): each task on a case has
an assignee, an optional due date, and is open or done (who and when). A version
column guards edits made from a page that is no longer current.
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'siu_case_tasks',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('case_id', sa.BigInteger(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('details', sa.Text(), nullable=True),
        sa.Column('assignee_id', sa.Integer(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=8), server_default='open', nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('done_by', sa.Integer(), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.CheckConstraint("status IN ('open', 'done')", name='ck_siu_case_tasks_status'),
        sa.CheckConstraint("(status = 'done') = (done_at IS NOT NULL)", name='ck_siu_case_tasks_done_at'),
        sa.CheckConstraint('char_length(btrim(title)) > 0', name='ck_siu_case_tasks_title'),
        sa.ForeignKeyConstraint(['case_id'], ['siu_cases.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id']),
        sa.ForeignKeyConstraint(['created_by'], ['users.id']),
        sa.ForeignKeyConstraint(['done_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_siu_case_tasks_case', 'siu_case_tasks', ['case_id', 'status'], unique=False)
    op.create_index('ix_siu_case_tasks_assignee_open', 'siu_case_tasks', ['assignee_id', 'due_date'], unique=False,
                    postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('ix_siu_case_tasks_assignee_open', table_name='siu_case_tasks')
    op.drop_index('ix_siu_case_tasks_case', table_name='siu_case_tasks')
    op.drop_table('siu_case_tasks')
