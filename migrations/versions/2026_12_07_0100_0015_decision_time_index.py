"""index routing decisions by decision time, and failed and running job runs

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 01:00:00+00:00

Monitoring (services.metrics) reads the last 24 hours' decisions at every scrape;
without an index on decided_at that is a scan of every decision ever stored.
It also reads each job's newest failure and its runs in progress: rare rows among
~260,000 runs a year per job, found at once by small partial indexes.
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_routing_decisions_decided_at', 'routing_decisions', ['decided_at'], unique=False)
    op.create_index('ix_job_runs_failed', 'job_runs', ['job', 'started_at'], unique=False,
                    postgresql_where="status = 'failed'")
    op.create_index('ix_job_runs_running', 'job_runs', ['job'], unique=False,
                    postgresql_where="status = 'running'")


def downgrade() -> None:
    op.drop_index('ix_job_runs_running', table_name='job_runs')
    op.drop_index('ix_job_runs_failed', table_name='job_runs')
    op.drop_index('ix_routing_decisions_decided_at', table_name='routing_decisions')
