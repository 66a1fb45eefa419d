"""user behaviour analytics (usage events, click samples, ratings)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 03:02:00+00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'usage_events',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('journey_id', sa.String(length=32), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('page', sa.String(length=120), nullable=False),
        sa.Column('subject', sa.String(length=32), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_usage_events_at', 'usage_events', ['at'])
    op.create_index('ix_usage_events_action_at', 'usage_events', ['action', 'at'])
    op.create_index('ix_usage_events_journey_at', 'usage_events', ['journey_id', 'at'])
    op.create_index('ix_usage_events_user_subject', 'usage_events', ['user_id', 'subject', 'at'])

    op.create_table(
        'usage_clicks',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('page', sa.String(length=120), nullable=False),
        sa.Column('x', sa.Float(), nullable=False),
        sa.Column('y', sa.Float(), nullable=False),
        sa.Column('viewport_w', sa.Integer(), nullable=False),
        sa.Column('viewport_h', sa.Integer(), nullable=False),
        sa.CheckConstraint('x >= 0 AND x <= 1 AND y >= 0 AND y <= 1', name='ck_usage_clicks_fraction'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_usage_clicks_page_at', 'usage_clicks', ['page', 'at'])
    op.create_index('ix_usage_clicks_at', 'usage_clicks', ['at'])

    op.create_table(
        'usage_ratings',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('comment', sa.String(length=500), nullable=True),
        sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name='ck_usage_ratings_rating'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_usage_ratings_user_asked', 'usage_ratings', ['user_id', 'asked_at'])
    op.create_index('ix_usage_ratings_answered', 'usage_ratings', ['answered_at'])


def downgrade() -> None:
    op.drop_index('ix_usage_ratings_answered', table_name='usage_ratings')
    op.drop_index('ix_usage_ratings_user_asked', table_name='usage_ratings')
    op.drop_table('usage_ratings')
    op.drop_index('ix_usage_clicks_at', table_name='usage_clicks')
    op.drop_index('ix_usage_clicks_page_at', table_name='usage_clicks')
    op.drop_table('usage_clicks')
    op.drop_index('ix_usage_events_user_subject', table_name='usage_events')
    op.drop_index('ix_usage_events_journey_at', table_name='usage_events')
    op.drop_index('ix_usage_events_action_at', table_name='usage_events')
    op.drop_index('ix_usage_events_at', table_name='usage_events')
    op.drop_table('usage_events')
