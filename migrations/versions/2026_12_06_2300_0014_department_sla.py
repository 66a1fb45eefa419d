"""service level (days to close) per department

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:00:00+00:00

One 30-day rule for every line counted nearly every liability, workers' comp and
SIU closing as a breach (96-99% on the demo): those claims take months by nature. Each department
now has its own target; the standard departments get realistic ones, any other
keeps 30 days until an admin sets it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# Same values as services.departments.STANDARD_DEPARTMENTS at the time of writing.
STANDARD = {"AUTO_GLASS": 14, "AUTO_PD": 45, "PROPERTY": 90, "LIABILITY": 240, "WORKERS_COMP": 180,
            "SIU": 270, "TRIAGE": 30}


def upgrade() -> None:
    op.add_column('departments', sa.Column('sla_days', sa.Integer(), server_default='30', nullable=False))
    op.create_check_constraint('ck_departments_sla_days', 'departments', 'sla_days BETWEEN 1 AND 3650')
    table = sa.table('departments', sa.column('code', sa.String), sa.column('sla_days', sa.Integer))
    for code, days in STANDARD.items():
        op.execute(table.update().where(table.c.code == code).values(sla_days=days))


def downgrade() -> None:
    op.drop_constraint('ck_departments_sla_days', 'departments', type_='check')
    op.drop_column('departments', 'sla_days')
