"""audit log hash chain and database grants

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 03:06:00+00:00

Every audit_log row gets a sequence number, the previous row's hash and its
own SHA-256 hash, computed by a BEFORE INSERT trigger so that writes that
bypass the application are chained too. The chain head lives in a one-row
table that the trigger locks (FOR UPDATE) until the inserting transaction
ends: concurrent writers queue up and never fork the chain, and under
REPEATABLE READ a concurrent writer fails with a serialisation error instead.

The canonical serialisation (services/audit_chain.py recomputes it in Python)
is a version tag followed by netstring-like fields, ``<length>:<text>`` or
``-`` for NULL, for seq, at (UTC, microseconds), actor_id, actor, action,
target_type, target_id, before::text, after::text, ip and prev_hash.

The application role ``scope_app`` (created here when the migrating role may
create roles) gets SELECT/INSERT/UPDATE/DELETE on every table except the
append-only ones (audit_log, routing_decisions: SELECT and INSERT only) and
nothing on the chain head.
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

APP_ROLE = "scope_app"
APPEND_ONLY = ("audit_log", "routing_decisions")
GENESIS = "0" * 64

HASH_FUNCTION = r"""
CREATE FUNCTION scope_audit_row_hash(r audit_log) RETURNS varchar LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(
        'scope-audit-v1' || '|' ||
        concat_ws('|',
            length(r.seq::text) || ':' || r.seq::text,
            length(to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24\:MI\:SS.US"Z"')) || ':'
                || to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24\:MI\:SS.US"Z"'),
            coalesce(length(r.actor_id::text) || ':' || r.actor_id::text, '-'),
            coalesce(length(r.actor) || ':' || r.actor, '-'),
            coalesce(length(r.action) || ':' || r.action, '-'),
            coalesce(length(r.target_type) || ':' || r.target_type, '-'),
            coalesce(length(r.target_id) || ':' || r.target_id, '-'),
            coalesce(length(r.before::text) || ':' || r.before::text, '-'),
            coalesce(length(r.after::text) || ':' || r.after::text, '-'),
            coalesce(length(r.ip) || ':' || r.ip, '-'),
            length(r.prev_hash) || ':' || r.prev_hash),
        'UTF8')), 'hex')
$$;
"""

# SECURITY DEFINER: the application role has no rights on the chain head, so
# only this function (running as the migration owner) can advance it.
CHAIN_TRIGGER = """
CREATE FUNCTION scope_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
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

# Rows written before this migration are chained in id order.
BACKFILL = """
DO $$
DECLARE
    r audit_log;
    n bigint := 0;
    prev varchar(64) := '%(genesis)s';
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        n := n + 1;
        r.seq := n;
        r.prev_hash := prev;
        r.row_hash := scope_audit_row_hash(r);
        UPDATE audit_log SET seq = r.seq, prev_hash = r.prev_hash, row_hash = r.row_hash WHERE id = r.id;
        prev := r.row_hash;
    END LOOP;
    INSERT INTO audit_chain_head (id, seq, last_hash) VALUES (1, n, prev);
END $$;
""" % {"genesis": GENESIS}  # nosec B608: a module constant, no input reaches this SQL

GRANTS = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            RAISE NOTICE 'role {APP_ROLE} does not exist and % may not create it: no grants made', current_user;
            RETURN;
        END IF;
        BEGIN
            -- NOLOGIN: the operator gives it a password (ALTER ROLE {APP_ROLE} LOGIN PASSWORD ...)
            -- or grants it to a login role; see deploy/initdb.
            CREATE ROLE {APP_ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database on this server created it at the same moment
        END;
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO {APP_ROLE}', current_database());
    GRANT USAGE ON SCHEMA public TO {APP_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE};
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
    REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(APPEND_ONLY)} FROM {APP_ROLE};
    REVOKE ALL ON audit_chain_head, alembic_version FROM {APP_ROLE};
    GRANT SELECT ON alembic_version TO {APP_ROLE};
    -- Tables of later migrations (created by this same owner) get the same rights.
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE};
END $$;
"""  # nosec B608: only the role name constant is interpolated

REVOKES = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE};
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE};
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
        REVOKE USAGE ON SCHEMA public FROM {APP_ROLE};
        EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM {APP_ROLE}', current_database());
    END IF;
END $$;
"""  # nosec B608: only the role name constant is interpolated


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_chain_head_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(HASH_FUNCTION)
    # The append-only trigger also stops this one-off backfill; the table is
    # locked so no row arrives unchained meanwhile.
    op.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_immutable")
    op.execute(BACKFILL)
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_immutable")
    op.alter_column("audit_log", "seq", nullable=False)
    op.alter_column("audit_log", "prev_hash", nullable=False)
    op.alter_column("audit_log", "row_hash", nullable=False)
    op.create_index("uq_audit_log_seq", "audit_log", ["seq"], unique=True)
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.execute(CHAIN_TRIGGER)
    op.execute("CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION scope_audit_chain()")
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(REVOKES)
    op.execute("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS scope_audit_chain()")
    op.execute("DROP FUNCTION IF EXISTS scope_audit_row_hash(audit_log)")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("uq_audit_log_seq", table_name="audit_log")
    op.drop_column("audit_log", "row_hash")
    op.drop_column("audit_log", "prev_hash")
    op.drop_column("audit_log", "seq")
    op.drop_table("audit_chain_head")
