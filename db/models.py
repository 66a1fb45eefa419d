"""SQLAlchemy 2 models: the single description of the schema.

Migrations in ``migrations/`` build exactly these tables; a test compares the
two so they cannot drift.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "manager", "adjuster", "viewer")
CLAIM_STATUSES = ("new", "assigned", "in_review", "awaiting_info", "closed")
# Written as this list (not "status <> 'closed'") wherever open claims are counted, so
# PostgreSQL can use the partial index ix_claims_open, whose predicate is this list.
OPEN_STATUSES = tuple(s for s in CLAIM_STATUSES if s != "closed")
MODEL_STATUSES = ("candidate", "champion", "retired")
PARTY_ROLES = ("claimant", "insured", "driver", "witness", "provider", "repair_shop", "attorney", "payee")


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSONB, list: JSONB}


def _now_col():
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


user_departments = Table(
    "user_departments",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (CheckConstraint("sla_days BETWEEN 1 AND 3650", name="ck_departments_sla_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    lines_of_business: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    color: Mapped[str] = mapped_column(String(7), server_default="#6c757d")
    is_triage: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Service level: a claim closed more than this many days after its report, in
    # this department, is an SLA breach (migration 0014).
    sla_days: Mapped[int] = mapped_column(Integer, server_default="30")
    created_at: Mapped[dt.datetime] = _now_col()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), server_default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    capacity: Mapped[int] = mapped_column(Integer, server_default="40")
    # Lines of business the adjuster handles and states they are licensed in
    # (empty = no restriction); used to suggest who takes a moved claim.
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    licensed_states: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    created_at: Mapped[dt.datetime] = _now_col()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Accounts (migration 0009): null until the user proves they read mail at this address.
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Sessions and lockout (migration 0008): consecutive failed sign-ins and the
    # back-off they earned; both reset by a successful sign-in.
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    departments: Mapped[list[Department]] = relationship(secondary=user_departments, lazy="selectin")


class Dataset(Base):
    """A source of claims with its own feature spec and label space."""

    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    description: Mapped[str] = mapped_column(Text, server_default="")
    # [{"name": ..., "kind": "numeric|categorical|text|date", "source": "column|extra"}]
    feature_spec: Mapped[list] = mapped_column(JSONB, server_default="[]")
    mapping: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[dt.datetime] = _now_col()
    # Retraining promotes a better version by itself unless an admin chose the champion by
    # hand (services.models): then new versions stay candidates until this is on again.
    auto_promote: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    auto_promote_changed_by: Mapped[str | None] = mapped_column(String(254))
    auto_promote_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("dataset", "source_key", name="uq_claims_dataset_source_key"),
        CheckConstraint(f"status IN {CLAIM_STATUSES}", name="ck_claims_status"),
        Index("ix_claims_queue", "department_id", "status", "report_date"),
        Index("ix_claims_adjuster_status", "adjuster_id", "status"),
        Index("ix_claims_dataset_status", "dataset", "status"),
        Index("ix_claims_policy_number", "policy_number"),
        Index("ix_claims_number_pattern", "claim_number", postgresql_ops={"claim_number": "text_pattern_ops"}),
        Index("ix_claims_description_fts", text("to_tsvector('simple', description)"), postgresql_using="gin"),
        Index("ix_claims_queue_confidence", "department_id", "status", "routing_confidence"),
        # The open claims only (~9% of a book): Overview, Workload and the Departments admin
        # count them across all departments, which was a scan of every claim ever stored.
        # Adjuster and creation time included: Workload's count then never reads the table.
        Index("ix_claims_open", "department_id", "report_date", postgresql_include=["adjuster_id", "created_at"],
              postgresql_where=text(f"status IN {OPEN_STATUSES}")),
        # Dashboard drill-down from the Closed line: claims closed on a day.
        Index("ix_claims_closed_at", "closed_at", postgresql_where=text("status = 'closed'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(40), unique=True)
    policy_number: Mapped[str | None] = mapped_column(String(40))
    line_of_business: Mapped[str | None] = mapped_column(String(40))
    loss_date: Mapped[dt.date | None] = mapped_column(Date)
    report_date: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, server_default="")
    claimed_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    reserve_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    state: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(60))
    postcode: Mapped[str | None] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(20), server_default="new")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    adjuster_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    fraud_label: Mapped[bool | None] = mapped_column(Boolean)
    fraud_ring: Mapped[str | None] = mapped_column(String(40))
    dataset: Mapped[str] = mapped_column(ForeignKey("datasets.name"))
    source_key: Mapped[str] = mapped_column(String(80))
    extra: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, server_default="1", nullable=False)
    created_at: Mapped[dt.datetime] = _now_col()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Confidence of the latest routing decision, kept on the claim so queues
    # can filter and sort by it over millions of rows.
    routing_confidence: Mapped[float | None] = mapped_column(Float)

    department: Mapped[Department | None] = relationship(lazy="joined")
    adjuster: Mapped[User | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


# What the link search (services.fraud_rings._LINKS_SQL) reads beside an identifier: with it in
# the index, the hourly ring and alert jobs scan indexes only (12 -> 3 s at 2.3M parties).
_PARTY_LINK = ["claim_id", "role"]


class Party(Base):
    __tablename__ = "parties"
    __table_args__ = (
        *(Index(f"ix_parties_{f}", f, postgresql_where=text(f"{f} IS NOT NULL"), postgresql_include=_PARTY_LINK)
          for f in ("phone", "email", "address", "bank_account", "plate", "vin", "provider_id")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(160))
    # Identifiers are stored normalised (see services.parties.normalise_*) so
    # that equality links claims: digits-only phones, lower-case emails, etc.
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    bank_account: Mapped[str | None] = mapped_column(String(40))
    plate: Mapped[str | None] = mapped_column(String(16))
    vin: Mapped[str | None] = mapped_column(String(17))
    provider_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = _now_col()


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint(f"status IN {MODEL_STATUSES}", name="ck_model_versions_status"),
        Index(
            "uq_model_versions_champion",
            "dataset",
            unique=True,
            postgresql_where=text("status = 'champion'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(ForeignKey("datasets.name"))
    version: Mapped[str] = mapped_column(String(60), unique=True)
    status: Mapped[str] = mapped_column(String(20), server_default="candidate")
    params: Mapped[dict] = mapped_column(JSONB)
    # The fitted pipeline (vocabularies) and the booster are ~1.5 MB together; only loading a
    # model reads them, not every decision that joins its model version for the name.
    feature_schema: Mapped[dict] = mapped_column(JSONB, deferred=True, deferred_group="model_payload")
    classes: Mapped[list] = mapped_column(JSONB)
    metrics: Mapped[dict] = mapped_column(JSONB)
    train_start: Mapped[dt.date | None] = mapped_column(Date)
    train_end: Mapped[dt.date | None] = mapped_column(Date)
    n_train: Mapped[int] = mapped_column(Integer)
    n_holdout: Mapped[int] = mapped_column(Integer)
    artifact_format: Mapped[str] = mapped_column(String(10), server_default="ubj")
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_group="model_payload")
    created_at: Mapped[dt.datetime] = _now_col()
    promoted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RoutingDecision(Base):
    """What the router decided and why, frozen at decision time (a trigger
    rejects UPDATE and DELETE)."""

    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_claim", "claim_id", "decided_at"),
                      # the latest decision of a claim: WHERE claim_id = ? ORDER BY id DESC LIMIT 1
                      Index("ix_routing_decisions_claim_latest", "claim_id", "id"),
                      # monitoring: the last 24 hours' decisions (services.metrics)
                      Index("ix_routing_decisions_decided_at", "decided_at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    predicted_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    routed_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    probabilities: Mapped[dict] = mapped_column(JSONB)
    confidence: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    features: Mapped[dict] = mapped_column(JSONB)
    # {class_code: {driver: contribution}} grouped by source column, plus base values
    shap_values: Mapped[dict] = mapped_column(JSONB)
    shap_method: Mapped[str] = mapped_column(String(10))
    drivers: Mapped[list] = mapped_column(JSONB)
    decided_at: Mapped[dt.datetime] = _now_col()

    model_version: Mapped[ModelVersion] = relationship(lazy="joined")


class ClaimEvent(Base):
    """Claim history: every intake, routing, move, status change and note."""

    __tablename__ = "claim_events"
    __table_args__ = (Index("ix_claim_events_claim", "claim_id", "at"),
                      # Moves by destination: the dashboard's "Referred to SIU" (migration 0023).
                      Index("ix_claim_events_moved_to", "to_department_id", "at",
                            postgresql_where=text("kind = 'moved'")),
                      # The last day's assignments, read every 10 minutes by notify_assignments (migration 0030).
                      Index("ix_claim_events_assignments", "at",
                            postgresql_where=text("kind IN ('assigned', 'moved')")))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = _now_col()
    from_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    to_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")


class ClaimDocument(Base):
    """A file attached to a claim (services.claim_documents). The bytes live here so
    backups hold the whole claim file; a removed document keeps its record, not its bytes."""

    __tablename__ = "claim_documents"
    __table_args__ = (
        CheckConstraint("(removed_at IS NULL) = (content IS NOT NULL)", name="ck_claim_documents_content"),
        CheckConstraint("size_bytes > 0", name="ck_claim_documents_size"),
        Index("ix_claim_documents_claim", "claim_id", "uploaded_at"),
        # The same file twice on one claim is a double upload, not a second document.
        Index("uq_claim_documents_live_file", "claim_id", "sha256", unique=True,
              postgresql_where=text("removed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    # Deferred: listing a claim's documents must not read megabytes of bytes.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = _now_col()
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    removed_reason: Mapped[str | None] = mapped_column(String(200))


class AuditLog(Base):
    """Append-only (a trigger rejects UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),
                      Index("uq_audit_log_seq", "seq", unique=True), Index("ix_audit_log_at", "at"),
                      Index("ix_audit_log_actor", "actor"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = _now_col()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(80))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(String(45))
    # Hash chain (migration 0011): a BEFORE INSERT trigger fills these whatever the writer sends.
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(ForeignKey("datasets.name"))
    file_name: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    mapping_name: Mapped[str] = mapped_column(String(120))
    n_rows: Mapped[int] = mapped_column(Integer, server_default="0")
    n_imported: Mapped[int] = mapped_column(Integer, server_default="0")
    n_duplicates: Mapped[int] = mapped_column(Integer, server_default="0")
    n_rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    report_path: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[dt.datetime] = _now_col()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(254), server_default="system")


class RoutingFeedback(Base):
    """An adjuster's verdict on a routing decision: agree, or disagree with a reason."""

    __tablename__ = "routing_feedback"
    __table_args__ = (Index("ix_routing_feedback_claim", "claim_id", "created_at"),
                      Index("ix_routing_feedback_user", "user_id", "created_at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    decision_id: Mapped[int] = mapped_column(ForeignKey("routing_decisions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agrees: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _now_col()


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "page", "name", name="uq_saved_filters_user_page_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    page: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    filters: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = _now_col()


class ApiToken(Base):
    """API tokens: only a hash is stored; the token is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    created_at: Mapped[dt.datetime] = _now_col()
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyKey(Base):
    """Remembers an API response per (token owner, Idempotency-Key) so retries replay it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), server_default="in_flight")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = _now_col()
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class JobRun(Base):
    """One run of a scheduled job: what ran, when, how it ended, how much it touched."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_started", "job", "started_at"),
        # monitoring reads each job's newest failure and its runs in progress (services.metrics)
        Index("ix_job_runs_failed", "job", "started_at", postgresql_where=text("status = 'failed'")),
        Index("ix_job_runs_running", "job", postgresql_where=text("status = 'running'")),
        UniqueConstraint("job", "slot", name="uq_job_runs_job_slot"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    # The schedule slot this run serves (e.g. the minute it was due); manual runs
    # get a unique slot. Unique per job, so two schedulers cannot both run a slot.
    slot: Mapped[str] = mapped_column(String(60))
    triggered_by: Mapped[str] = mapped_column(String(254), server_default="scheduler")
    status: Mapped[str] = mapped_column(String(12), server_default="running")
    started_at: Mapped[dt.datetime] = _now_col()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(120))


class JobRequest(Base):
    """A person asked for a run of a job; the scheduler process picks it up (jobs.on_demand)."""

    __tablename__ = "job_requests"
    __table_args__ = (
        Index("ix_job_requests_job", "job", "id"),
        Index("ix_job_requests_pending", "id", postgresql_where=text("picked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    requested_by: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[dt.datetime] = _now_col()
    picked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    picked_by: Mapped[str | None] = mapped_column(String(120))


class KpiDaily(Base):
    """Executive KPI rollup, one row per (day, department, line of business, region).

    Rebuilt by ``services.aggregates.refresh``. Each measure is counted on the day it
    happened: intake measures (received, amounts, fraud, routed, reassigned) on the
    report date, closure measures (closed, accuracy, cycle time, SLA breaches) on the
    closing date, feedback on the day it was given."""

    __tablename__ = "kpi_daily"
    __table_args__ = (Index("ix_kpi_daily_day", "day"), Index("ix_kpi_daily_department_day", "department_id", "day"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    department_id: Mapped[int | None] = mapped_column(Integer)
    line_of_business: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(60))
    received: Mapped[int] = mapped_column(Integer, server_default="0")
    closed: Mapped[int] = mapped_column(Integer, server_default="0")
    reserve_sum: Mapped[Decimal] = mapped_column(Numeric(18, 2), server_default="0")
    paid_sum: Mapped[Decimal] = mapped_column(Numeric(18, 2), server_default="0")
    claimed_sum: Mapped[Decimal] = mapped_column(Numeric(18, 2), server_default="0")
    fraud_flagged: Mapped[int] = mapped_column(Integer, server_default="0")
    routed: Mapped[int] = mapped_column(Integer, server_default="0")
    auto_routed: Mapped[int] = mapped_column(Integer, server_default="0")
    reassigned: Mapped[int] = mapped_column(Integer, server_default="0")
    closed_routed: Mapped[int] = mapped_column(Integer, server_default="0")
    routed_correct: Mapped[int] = mapped_column(Integer, server_default="0")
    # closed routed claims whose latest decision named another department and that ended in SIU
    routed_siu_later: Mapped[int] = mapped_column(Integer, server_default="0")
    feedback_total: Mapped[int] = mapped_column(Integer, server_default="0")
    feedback_agree: Mapped[int] = mapped_column(Integer, server_default="0")
    cycle_days_sum: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cycle_count: Mapped[int] = mapped_column(Integer, server_default="0")
    sla_breaches: Mapped[int] = mapped_column(Integer, server_default="0")


class KpiCycleHistogram(Base):
    """Closed claims per closing day and whole cycle days (capped), so median and p90
    cycle times over any filter come from a few hundred rows, not the claims table."""

    __tablename__ = "kpi_cycle_histogram"
    __table_args__ = (Index("ix_kpi_cycle_histogram_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    department_id: Mapped[int | None] = mapped_column(Integer)
    line_of_business: Mapped[str | None] = mapped_column(String(40))
    cycle_days: Mapped[int] = mapped_column(Integer)
    claims: Mapped[int] = mapped_column(Integer)


# --- Threshold alerts: rules on the dashboard KPIs and their history (migration 0006) ---

ALERT_COMPARISONS = ("above", "below")
ALERT_PERIODS = ("today", "this_week", "last_7_days", "this_month")
ALERT_SEVERITIES = ("info", "warning", "critical")


class AlertRule(Base):
    """A threshold on one dashboard KPI over a period ending today, for all
    departments or one. ``last_value`` is what the latest evaluation saw."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint(f"comparison IN {ALERT_COMPARISONS}", name="ck_alert_rules_comparison"),
        CheckConstraint(f"period IN {ALERT_PERIODS}", name="ck_alert_rules_period"),
        CheckConstraint(f"severity IN {ALERT_SEVERITIES}", name="ck_alert_rules_severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    metric: Mapped[str] = mapped_column(String(40))
    comparison: Mapped[str] = mapped_column(String(8))
    # In the KPI's own unit: a fraction for rates (0.05 = 5%), days, claims or money (SCOPE_CURRENCY).
    threshold: Mapped[float] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(10), server_default="warning")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    last_value: Mapped[float | None] = mapped_column(Float)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(254), server_default="system")
    created_at: Mapped[dt.datetime] = _now_col()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class AlertEvent(Base):
    """One breach of a rule, from the evaluation that saw it start to the one
    that saw it end. The rule's terms are copied so the history still reads
    right after the rule is edited or deleted; at most one open event per rule."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("uq_alert_events_open_rule", "rule_id", unique=True, postgresql_where=text("resolved_at IS NULL")),
        Index("ix_alert_events_open", "opened_at", postgresql_where=text("resolved_at IS NULL")),
        Index("ix_alert_events_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    rule_name: Mapped[str] = mapped_column(String(120))
    metric: Mapped[str] = mapped_column(String(40))
    comparison: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[float] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    severity: Mapped[str] = mapped_column(String(10))
    opened_at: Mapped[dt.datetime] = _now_col()
    opened_value: Mapped[float] = mapped_column(Float)
    last_value: Mapped[float] = mapped_column(Float)
    # The value furthest past the threshold while it was open.
    worst_value: Mapped[float] = mapped_column(Float)
    last_checked_at: Mapped[dt.datetime] = _now_col()
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(40))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# --- Operations page rollups (migration 0005), rebuilt by services.operations.refresh ---


class OpsRoutingDaily(Base):
    """Closed claims with a routing decision, per closing day, final department, the
    first decision's predicted department and its confidence band (0: below 0.5,
    1: 0.5-0.6 ... 5: 0.9-1.0): the confusion matrix and the calibration table."""

    __tablename__ = "ops_routing_daily"
    __table_args__ = (Index("ix_ops_routing_daily_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    department_id: Mapped[int | None] = mapped_column(Integer)
    predicted_department_id: Mapped[int] = mapped_column(Integer)
    band: Mapped[int] = mapped_column(Integer)
    claims: Mapped[int] = mapped_column(Integer)
    confidence_sum: Mapped[float] = mapped_column(Float)


class OpsMovesDaily(Base):
    """Manual moves ("moved" claim events) per day, from and to department and reason."""

    __tablename__ = "ops_moves_daily"
    __table_args__ = (Index("ix_ops_moves_daily_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    from_department_id: Mapped[int | None] = mapped_column(Integer)
    to_department_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(60))
    moves: Mapped[int] = mapped_column(Integer)


class OpsFeedbackDaily(Base):
    """Current verdicts (latest per user and decision) per day given, the decision's
    routed department, agree or not, reason and suggested department."""

    __tablename__ = "ops_feedback_daily"
    __table_args__ = (Index("ix_ops_feedback_daily_day", "day"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(Integer)
    agrees: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    suggested_department_id: Mapped[int | None] = mapped_column(Integer)
    verdicts: Mapped[int] = mapped_column(Integer)


class OpsOpenClaims(Base):
    """Open claims at the last refresh per department, adjuster and report day (ages
    are computed when read, so they stay right between refreshes)."""

    __tablename__ = "ops_open_claims"
    __table_args__ = (Index("ix_ops_open_claims_department", "department_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    department_id: Mapped[int | None] = mapped_column(Integer)
    adjuster_id: Mapped[int | None] = mapped_column(Integer)
    report_day: Mapped[dt.date] = mapped_column(Date)
    claims: Mapped[int] = mapped_column(Integer)


# --- Sessions and request hardening: server-side sessions (migration 0008) ---


class UserSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256
    is stored, so a leaked table cannot be replayed as cookies. A session dies
    when revoked, idle too long or past its absolute expiry."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = _now_col()
    last_seen_at: Mapped[dt.datetime] = _now_col()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


# --- Accounts: invitations, email verification, password reset (migration 0009) ---

ACCOUNT_TOKEN_PURPOSES = ("invite", "verify_email", "reset_password")


class AccountToken(Base):
    """A single-use emailed link. Only the SHA-256 of the token is stored; a
    reset token also remembers a fingerprint of the password hash it was issued
    against, so it dies the moment the password changes."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint(f"purpose IN {ACCOUNT_TOKEN_PURPOSES}", name="ck_account_tokens_purpose"),
        Index("ix_account_tokens_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address the link was sent to: verifying it proves control of that address only.
    email: Mapped[str] = mapped_column(String(254))
    password_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _now_col()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# --- User behaviour analytics: usage events, click samples, ratings (migration 0007) ---
# Pages are stored as path templates ("/claims/<claim_number>") and a claim only as a
# keyed hash (services.usage.claim_ref), so these tables hold no claim or personal data.


class UsageEvent(Base):
    """One page view or key action (claim_opened, decision_recorded, ...) of a signed-in user."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_at", "at"),
        Index("ix_usage_events_action_at", "action", "at"),
        Index("ix_usage_events_journey_at", "journey_id", "at"),
        Index("ix_usage_events_user_subject", "user_id", "subject", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = _now_col()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(20))
    # A visit: the same browser session, ended by 30 minutes without activity.
    journey_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    page: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class UsageClick(Base):
    """A sampled click: position as a fraction of the page's width and height."""

    __tablename__ = "usage_clicks"
    __table_args__ = (
        CheckConstraint("x >= 0 AND x <= 1 AND y >= 0 AND y <= 1", name="ck_usage_clicks_fraction"),
        Index("ix_usage_clicks_page_at", "page", "at"),
        Index("ix_usage_clicks_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = _now_col()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(20))
    page: Mapped[str] = mapped_column(String(120))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    viewport_w: Mapped[int] = mapped_column(Integer)
    viewport_h: Mapped[int] = mapped_column(Integer)


class UsageRating(Base):
    """The weekly one-question rating: a row when it was shown, answered or not."""

    __tablename__ = "usage_ratings"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="ck_usage_ratings_rating"),
        Index("ix_usage_ratings_user_asked", "user_id", "asked_at"),
        Index("ix_usage_ratings_answered", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    asked_at: Mapped[dt.datetime] = _now_col()
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(500))


# --- MFA (TOTP, recovery codes) and single sign-on identities (migration 0010) ---


class UserMfa(Base):
    """A user's TOTP enrolment. The secret is Fernet-encrypted with a key derived
    from SECRET_KEY; ``last_step`` is the last accepted 30-second time step, so a
    code cannot be used twice."""

    __tablename__ = "user_mfa"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enrolled_at: Mapped[dt.datetime] = _now_col()
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MfaRecoveryCode(Base):
    """A single-use recovery code; only its SHA-256 is stored (the codes are random, 50 bits each)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_user", "user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class OidcIdentity(Base):
    """Links an identity provider's subject to a SCOPE user (issuer + subject is the stable key)."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oidc_identities_issuer_subject"),
                      Index("ix_oidc_identities_user", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = _now_col()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# --- Audit chain (issue 5, migration 0011) ---------------------------------


class AuditChainHead(Base):
    """The last link of the audit chain; only the chain trigger (SECURITY DEFINER) writes it."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_chain_head_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


# --- Possible fraud rings (migration 0017) -----------------------------------


class FraudRing(Base):
    """A group of claims linked through shared party identifiers, as the last
    detection run found it (services.fraud_rings). Replaced by each run; a ring
    keeps its key from run to run (the new ring that overlaps an old one most
    inherits its key). The summary columns are as of that run."""

    __tablename__ = "fraud_rings"
    __table_args__ = (Index("ix_fraud_rings_claim_ids", "claim_ids", postgresql_using="gin"),
                      Index("ix_fraud_rings_department_ids", "department_ids", postgresql_using="gin"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(20), unique=True)  # "R-000042", from the fraud_ring_keys sequence
    claim_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    department_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    # [{"field", "value", "claims": [[claim_id, [roles on it]], ...]}]: the identifiers that tie it
    links: Mapped[list] = mapped_column(JSONB)
    size: Mapped[int] = mapped_column(Integer)
    open_claims: Mapped[int] = mapped_column(Integer)
    confirmed: Mapped[int] = mapped_column(Integer)  # closed members found fraudulent
    claimed_sum: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    first_report: Mapped[dt.date | None] = mapped_column(Date)
    last_report: Mapped[dt.date | None] = mapped_column(Date)
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


FRAUD_ALERT_STATUSES = ("open", "referred", "dismissed", "withdrawn")


class FraudAlert(Base):
    """A claim outside Special Investigations that shows fraud signals
    (services.fraud_alerts), for a manager to refer to SIU or dismiss. One per
    claim: the hourly job updates its signals, withdraws it when they are gone or
    the claim closed, and reopens a dismissed one only for a new kind of signal."""

    __tablename__ = "fraud_alerts"
    __table_args__ = (
        CheckConstraint(f"status IN {FRAUD_ALERT_STATUSES}", name="ck_fraud_alerts_status"),
        Index("ix_fraud_alerts_status", "status", "signal_count", "siu_probability"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(12), server_default="open")
    # [{"kind": "ring" | "linked_fraud" | "model" | "flagged", ...details}]
    signals: Mapped[list] = mapped_column(JSONB)
    signal_count: Mapped[int] = mapped_column(SmallInteger)
    siu_probability: Mapped[float | None] = mapped_column(Float)
    raised_at: Mapped[dt.datetime] = _now_col()
    updated_at: Mapped[dt.datetime] = _now_col()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The signal kinds a dismissal saw: only a kind not among them reopens the alert.
    dismissed_kinds: Mapped[list] = mapped_column(JSONB, server_default="[]")
    version: Mapped[int] = mapped_column(Integer, server_default="1", nullable=False)


# --- SIU cases (migration 0021) ----------------------------------------------

SIU_CASE_STATUSES = ("open", "closed")
SIU_CASE_OUTCOMES = ("confirmed_fraud", "no_fraud", "inconclusive")


class SiuCase(Base):
    """An investigation by Special Investigations: claims worked together under a
    lead investigator, its activity, and the finding it closed with
    (services.siu_cases). Closing with a finding records it on the claims
    (``claims.fraud_label``), which the fraud signals and the dashboards read."""

    __tablename__ = "siu_cases"
    __table_args__ = (
        CheckConstraint(f"status IN {SIU_CASE_STATUSES}", name="ck_siu_cases_status"),
        CheckConstraint(f"outcome IS NULL OR outcome IN {SIU_CASE_OUTCOMES}", name="ck_siu_cases_outcome"),
        CheckConstraint("(status = 'closed') = (outcome IS NOT NULL)", name="ck_siu_cases_closed_has_outcome"),
        CheckConstraint("saved_amount IS NULL OR saved_amount >= 0", name="ck_siu_cases_saved"),
        Index("ix_siu_cases_status", "status", "opened_at"),
        Index("ix_siu_cases_lead", "lead_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(20), unique=True)  # "C-000042", from the siu_case_keys sequence
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), server_default="open")
    outcome: Mapped[str | None] = mapped_column(String(20))
    findings: Mapped[str | None] = mapped_column(Text)
    # What the investigation kept from being paid (denied, reduced, recovered), as the closer states it.
    saved_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ring_key: Mapped[str | None] = mapped_column(String(20))  # the possible ring it was opened from
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[dt.datetime] = _now_col()
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = _now_col()
    version: Mapped[int] = mapped_column(Integer, server_default="1", nullable=False)


class SiuCaseClaim(Base):
    """A claim under investigation in a case; a claim is in one case at most."""

    __tablename__ = "siu_case_claims"

    case_id: Mapped[int] = mapped_column(ForeignKey("siu_cases.id", ondelete="CASCADE"), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True,
                                          unique=True)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = _now_col()


class SiuCaseEvent(Base):
    """A case's activity: opened, notes, claims added or removed, lead changes,
    closed, reopened. Append-only by the service."""

    __tablename__ = "siu_case_events"
    __table_args__ = (Index("ix_siu_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("siu_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = _now_col()
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")


SIU_TASK_STATUSES = ("open", "done")


class SiuCaseTask(Base):
    """A step of an investigation ("Pull the police report"): assigned to someone who
    works cases, optionally due on a day, open or done (services.siu_case_tasks).
    Edits carry ``version``: two investigators on one task must not undo each other."""

    __tablename__ = "siu_case_tasks"
    __table_args__ = (
        CheckConstraint(f"status IN {SIU_TASK_STATUSES}", name="ck_siu_case_tasks_status"),
        CheckConstraint("(status = 'done') = (done_at IS NOT NULL)", name="ck_siu_case_tasks_done_at"),
        CheckConstraint("char_length(btrim(title)) > 0", name="ck_siu_case_tasks_title"),
        Index("ix_siu_case_tasks_case", "case_id", "status"),
        # "My SIU tasks": a person's open tasks, the soonest due first.
        Index("ix_siu_case_tasks_assignee_open", "assignee_id", "due_date", postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("siu_cases.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), server_default="open")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _now_col()
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1", nullable=False)


# --- Email notifications: preferences and what was sent (migration 0028) ------

# The last two: one's claims (migration 0030).
NOTIFICATION_KINDS = ("alert_opened", "alert_resolved", "siu_digest", "claims_assigned", "overdue_digest",
                      "kpi_weekly")


class NotificationPreference(Base):
    """What a person chose on their profile (services.notifications). A NULL column is no
    choice: the role's default applies, so a promotion brings the new role's defaults for
    what the person never set. Whether a kind may reach them at all is decided from their
    role when mail is sent, never from this row."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint(f"alert_min_severity IS NULL OR alert_min_severity IN {ALERT_SEVERITIES}",
                        name="ck_notification_preferences_severity"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    alert_emails: Mapped[bool | None] = mapped_column(Boolean)
    # The least severe alert mailed: "critical" mails critical only, "info" mails every alert.
    alert_min_severity: Mapped[str | None] = mapped_column(String(10))
    alert_resolved: Mapped[bool | None] = mapped_column(Boolean)
    siu_digest: Mapped[bool | None] = mapped_column(Boolean)
    # Migration 0030: claims assigned to the person by someone else, and their claims past the service level.
    claims_assigned: Mapped[bool | None] = mapped_column(Boolean)
    overdue_digest: Mapped[bool | None] = mapped_column(Boolean)
    # Migration 0031: the Monday summary of last week's dashboard figures.
    kpi_weekly: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = _now_col()


class NotificationSend(Base):
    """One email of one kind about one thing (``ref``: an alert event's id, a digest's day)
    to one person. Claimed with INSERT ... ON CONFLICT DO NOTHING before the mail goes out,
    in the job's transaction: the unique key makes a second run, or a second scheduler,
    send nothing twice."""

    __tablename__ = "notification_sends"
    __table_args__ = (
        CheckConstraint(f"kind IN {NOTIFICATION_KINDS}", name="ck_notification_sends_kind"),
        UniqueConstraint("user_id", "kind", "ref", name="uq_notification_sends_user_kind_ref"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[dt.datetime] = _now_col()
