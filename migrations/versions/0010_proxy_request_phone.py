"""family links: a request keeps the number asked with; it may name nobody (yet)

A relative's request for a number nobody uses is stored like any other, so asking never tells
whether (or in which community) a number is registered.

Revision ID: 0010_proxy_request_phone
Revises: 0009_resident_notes_private
Create Date: 2026-12-02 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_proxy_request_phone'
down_revision = '0009_resident_notes_private'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('proxy_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM proxy_link WHERE resident_id IS NULL")
    with op.batch_alter_table('proxy_link', schema=None) as batch_op:
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('phone')
