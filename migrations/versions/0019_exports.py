"""reports: exports written in the background (the export table)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 21:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'export',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('operator_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('query_string', sa.Text(), nullable=False),
        sa.Column('fmt', sa.String(length=4), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('rows_done', sa.Integer(), nullable=False),
        sa.Column('rows_total', sa.Integer(), nullable=True),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("fmt IN ('csv', 'xlsx', 'pdf')", name='ck_export_fmt'),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name='ck_export_status'),
        sa.ForeignKeyConstraint(['operator_id'], ['ab_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('export', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_operator_id'), ['operator_id'], unique=False)


def downgrade():
    with op.batch_alter_table('export', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_operator_id'))
    op.drop_table('export')
