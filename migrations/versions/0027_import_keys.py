"""imports: the source keys of imported records, and the files an import was read from

Each imported client or subscription keeps the key the old system gave it
(its client number, its subscription's id) with the values last imported,
so that the same file imported again changes nothing and a corrected file
changes only what was corrected (app.imports). The uploaded file waits in
the database between its dry run and its run: every web process reads it.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 01:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_key',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('origin', sa.String(length=20), nullable=False),
        sa.Column('source_key', sa.String(length=100), nullable=False),
        sa.Column('record_id', sa.Integer(), nullable=False),
        sa.Column('imported_values', sa.JSON(), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('row_number', sa.Integer(), nullable=True),
        sa.Column('imported_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'origin', 'source_key', name='uq_import_key_source'),
    )
    op.create_table(
        'import_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('dealer_id', sa.Integer(), nullable=True),
        sa.Column('operator_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.Column('report', sa.JSON(), nullable=True),
        sa.Column('ran_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['operator_id'], ['ab_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('import_file')
    op.drop_table('import_key')
