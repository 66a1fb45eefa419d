"""audit chain head moved once per transaction; job_requests (runs asked of the scheduler)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 20:00:00+00:00

1. The chain trigger of 0011 updated the one-row chain head for every audit row.
   PostgreSQL keeps every version of a row updated in a still-open transaction
   (none may be pruned before it ends), so the N-th row's head lookup walked N-1
   dead versions: one transaction writing 20,000 rows ran ~8x slower per row
   than one writing 1,000. Now:

   * the BEFORE INSERT trigger still locks the head (FOR UPDATE) but no longer
     updates it; it chains each row after the transaction's own newest row,
     found through uq_audit_log_seq as the newest row past the head;
   * a DEFERRABLE INITIALLY DEFERRED constraint trigger moves the head once, at
     COMMIT, to that newest row (the transaction's other deferred events find
     the head already past their row and do nothing).

   Why this keeps the chain's guarantees: the head lock is taken by a
   transaction's first audit row and held until it ends, exactly as before, so
   writers still queue on it and never fork the chain; each waiter reads the
   head only after the holder's COMMIT, which moved it in the same transaction
   as its rows. Rows past the head are therefore only ever the lock holder's
   own. Rows of a rolled-back savepoint disappear with their deferred events,
   so the next row chains after what is still there. Skipping the deferred
   trigger takes the table owner (ALTER TABLE ... DISABLE TRIGGER) or a
   superuser (session_replication_role), as bypassing the BEFORE trigger
   always did; verification (services.audit_chain) catches a head left behind.
   The hash format does not change: old and new rows verify alike.

2. job_requests: "run this job now" asked of the scheduler process (jobs.on_demand)
   from a web page, so a long job (verifying the audit chain) does not run
   inside a web request.
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

CHAIN_TRIGGER = """
CREATE OR REPLACE FUNCTION scope_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_catalog AS $$
DECLARE
    head_seq bigint;
    head_hash varchar(64);
    own_seq bigint;
    own_hash varchar(64);
BEGIN
    SELECT seq, last_hash INTO head_seq, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    -- Past the head there are only this transaction's rows (see the migration's notes).
    SELECT seq, row_hash INTO own_seq, own_hash FROM audit_log WHERE seq > head_seq ORDER BY seq DESC LIMIT 1;
    IF FOUND THEN
        head_seq := own_seq;
        head_hash := own_hash;
    END IF;
    NEW.seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    NEW.row_hash := scope_audit_row_hash(NEW);
    RETURN NEW;
END $$;
"""

HEAD_AT_COMMIT = """
CREATE FUNCTION scope_audit_chain_head() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_catalog AS $$
DECLARE
    head_seq bigint;
    own_seq bigint;
    own_hash varchar(64);
BEGIN
    SELECT seq INTO head_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    IF NEW.seq <= head_seq THEN
        RETURN NULL;  -- an earlier event of this transaction moved the head past this row
    END IF;
    SELECT seq, row_hash INTO own_seq, own_hash FROM audit_log WHERE seq > head_seq ORDER BY seq DESC LIMIT 1;
    UPDATE audit_chain_head SET seq = own_seq, last_hash = own_hash WHERE id = 1;
    RETURN NULL;
END $$;
"""

# 0011's trigger, for the downgrade.
OLD_CHAIN_TRIGGER = """
CREATE OR REPLACE FUNCTION scope_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_catalog AS $$
DECLARE
    head_seq bigint;
    head_hash varchar(64);
BEGIN
    SELECT seq, last_hash INTO head_seq, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    NEW.seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    NEW.row_hash := scope_audit_row_hash(NEW);
    UPDATE audit_chain_head SET seq = NEW.seq, last_hash = NEW.row_hash WHERE id = 1;
    RETURN NEW;
END $$;
"""


def upgrade() -> None:
    # No row may be written between the two steps with the old trigger and then
    # the new one half-installed.
    op.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    op.execute(CHAIN_TRIGGER)
    op.execute(HEAD_AT_COMMIT)
    op.execute("CREATE CONSTRAINT TRIGGER audit_log_chain_head AFTER INSERT ON audit_log "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION scope_audit_chain_head()")
    op.create_table(
        "job_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("picked_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_requests_job", "job_requests", ["job", "id"])
    op.create_index("ix_job_requests_pending", "job_requests", ["id"], postgresql_where=sa.text("picked_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_job_requests_pending", table_name="job_requests", postgresql_where=sa.text("picked_at IS NULL"))
    op.drop_index("ix_job_requests_job", table_name="job_requests")
    op.drop_table("job_requests")
    op.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    op.execute("DROP TRIGGER IF EXISTS audit_log_chain_head ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS scope_audit_chain_head()")
    op.execute(OLD_CHAIN_TRIGGER)
