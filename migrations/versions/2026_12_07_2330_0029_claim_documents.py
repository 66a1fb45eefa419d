"""Claim documents

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 23:30:00+00:00

Files attached to a claim (photos, estimates, police and medical reports, invoices):
their bytes in PostgreSQL, so a database backup holds the whole claim file and access
goes through the same permission checks as the claim (services.claim_documents).
Removing one (attached by mistake, to the wrong claim) erases its bytes and keeps who
attached and removed it, when and why. One live copy of the same file per claim.
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'claim_documents',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('claim_id', sa.BigInteger(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('uploaded_by', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('removed_by', sa.Integer(), nullable=True),
        sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('removed_reason', sa.String(length=200), nullable=True),
        sa.CheckConstraint('(removed_at IS NULL) = (content IS NOT NULL)', name='ck_claim_documents_content'),
        sa.CheckConstraint('size_bytes > 0', name='ck_claim_documents_size'),
        sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['uploaded_by'], ['users.id']),
        sa.ForeignKeyConstraint(['removed_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_claim_documents_claim', 'claim_documents', ['claim_id', 'uploaded_at'], unique=False)
    op.create_index('uq_claim_documents_live_file', 'claim_documents', ['claim_id', 'sha256'], unique=True,
                    postgresql_where=sa.text('removed_at IS NULL'))
    # PDFs and photos are compressed already: TOAST would spend time trying again.
    op.execute("ALTER TABLE claim_documents ALTER COLUMN content SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_index('uq_claim_documents_live_file', table_name='claim_documents')
    op.drop_index('ix_claim_documents_claim', table_name='claim_documents')
    op.drop_table('claim_documents')
