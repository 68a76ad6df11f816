"""duplicate suggestions walk each open status newest first: in a building on
ix_case_record_similar (now covering), near a point on a covering index
(ix_case_record_nearby_open) instead of a latitude range that read and sorted every open case
of the category in the band

Revision ID: 0021_nearby_open_index
Revises: 0020_org_leads
Create Date: 2026-12-03 23:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021_nearby_open_index'
down_revision = '0020_org_leads'
branch_labels = None
depends_on = None

_TAIL = ['id', 'community_id', 'created_at', 'is_public', 'merged_into_id', 'latitude', 'longitude']


def upgrade():
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index('ix_case_record_nearby')
        batch_op.create_index(
            'ix_case_record_nearby_open', ['category_id', 'status', *_TAIL, 'building_id'], unique=False
        )
        batch_op.drop_index('ix_case_record_similar')
        batch_op.create_index(
            'ix_case_record_similar', ['category_id', 'building_id', 'status', *_TAIL], unique=False
        )


def downgrade():
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index('ix_case_record_similar')
        batch_op.create_index(
            'ix_case_record_similar', ['category_id', 'building_id', 'status'], unique=False
        )
        batch_op.drop_index('ix_case_record_nearby_open')
        batch_op.create_index(
            'ix_case_record_nearby', ['category_id', 'status', 'latitude'], unique=False
        )
