"""activities (社区活动), sign-ups with a waiting list, volunteer hours; the points ledger
(积分), its rules per community and redemptions; a person's leaderboard opt-in

Revision ID: 0019_activities
Revises: 0014_device_sound
Create Date: 2026-12-03 12:15:12.283326

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_activities'
down_revision = '0018_votes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('point_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('source_kind', sa.String(length=30), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0 AND points <= 1000', name=op.f('ck_point_rule_points')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_point_rule_community_id_community')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_rule')),
    sa.UniqueConstraint('community_id', 'source_kind', name='uq_point_rule_kind')
    )
    op.create_table('activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('place', sa.String(length=120), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('signup_opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signup_closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('checkin_token', sa.String(length=64), nullable=False),
    sa.Column('taken', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_activity_capacity')),
    sa.CheckConstraint('taken >= 0 AND taken <= capacity', name=op.f('ck_activity_taken')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_activity_community_id_community')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_activity_created_by_id_person')),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_activity_organization_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity')),
    sa.UniqueConstraint('checkin_token', name=op.f('uq_activity_checkin_token'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_starts_at'), ['starts_at'], unique=False)

    op.create_table('point_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('source_kind', sa.String(length=30), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_point_entry_community_id_community')),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], name=op.f('fk_point_entry_created_by_id_person')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_point_entry_household_id_household')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_point_entry_person_id_person')),
    sa.ForeignKeyConstraint(['reverses_id'], ['point_entry.id'], name=op.f('fk_point_entry_reverses_id_point_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_entry')),
    sa.UniqueConstraint('source_kind', 'source_id', 'person_id', 'kind', name='uq_point_entry_source')
    )
    with op.batch_alter_table('point_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_entry_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_point_entry_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_point_entry_person_id'), ['person_id'], unique=False)

    op.create_table('point_redemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=120), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points > 0', name=op.f('ck_point_redemption_points')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_point_redemption_community_id_community')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_point_redemption_person_id_person')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['person.id'], name=op.f('fk_point_redemption_recorded_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_redemption'))
    )
    with op.batch_alter_table('point_redemption', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_redemption_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_point_redemption_person_id'), ['person_id'], unique=False)

    op.create_table('activity_signup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('signed_up_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_signup_activity_id_activity')),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['person.id'], name=op.f('fk_activity_signup_checked_in_by_id_person')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_activity_signup_person_id_person')),
    sa.ForeignKeyConstraint(['signed_up_by_id'], ['person.id'], name=op.f('fk_activity_signup_signed_up_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_signup')),
    sa.UniqueConstraint('activity_id', 'person_id', name='uq_activity_signup_person')
    )
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_signup_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_signup_person_id'), ['person_id'], unique=False)

    op.create_table('volunteer_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=5, scale=1, asdecimal=False), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('certified_by_id', sa.Integer(), nullable=True),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hours > 0 AND hours <= 24', name=op.f('ck_volunteer_hours_hours')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_volunteer_hours_activity_id_activity')),
    sa.ForeignKeyConstraint(['certified_by_id'], ['person.id'], name=op.f('fk_volunteer_hours_certified_by_id_person')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_volunteer_hours_person_id_person')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['person.id'], name=op.f('fk_volunteer_hours_recorded_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_hours')),
    sa.UniqueConstraint('activity_id', 'person_id', name='uq_volunteer_hours_person')
    )
    with op.batch_alter_table('volunteer_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_hours_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteer_hours_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_on_leaderboard', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('show_on_leaderboard')

    with op.batch_alter_table('volunteer_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_hours_person_id'))
        batch_op.drop_index(batch_op.f('ix_volunteer_hours_activity_id'))

    op.drop_table('volunteer_hours')
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_signup_person_id'))
        batch_op.drop_index(batch_op.f('ix_activity_signup_activity_id'))

    op.drop_table('activity_signup')
    with op.batch_alter_table('point_redemption', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_redemption_person_id'))
        batch_op.drop_index(batch_op.f('ix_point_redemption_community_id'))

    op.drop_table('point_redemption')
    with op.batch_alter_table('point_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_entry_person_id'))
        batch_op.drop_index(batch_op.f('ix_point_entry_household_id'))
        batch_op.drop_index(batch_op.f('ix_point_entry_community_id'))

    op.drop_table('point_entry')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_starts_at'))
        batch_op.drop_index(batch_op.f('ix_activity_organization_id'))
        batch_op.drop_index(batch_op.f('ix_activity_community_id'))

    op.drop_table('activity')
    op.drop_table('point_rule')
