"""Social organizations manage their own members (app/people/org_members.py): who may list, add,
remove and appoint, in which community; notices and audit entries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.infra.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.models import AuditLog, RoleAssignment
from app.models.notification import Notification
from app.people import org_members
from app.people.actors import Actor
from tests.services.org_members_scene import actor, make_scene, membership


@pytest.fixture()
def scene(world):
    return make_scene(world)


def _ids(rows):
    return {r["id"] for r in rows}


def _notices(person):
    return db.session.scalars(
        select(Notification).where(Notification.person_id == person.id).order_by(Notification.id)
    ).all()


def _audit(action):
    return db.session.scalars(
        select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
    ).all()


# --- listing ---------------------------------------------------------------------------------
def test_committee_lists_the_members_in_their_community_with_full_phones(scene):
    rows = org_members.list_members(actor(scene.world.a.staff), scene.org.id, scene.a)
    # Those scoped to A and the one for every community; never B's.
    assert _ids(rows) == {scene.lead_role.id, scene.member_role.id, scene.wide_role.id}
    by_id = {r["id"]: r for r in rows}
    assert by_id[scene.member_role.id]["phone"] == scene.member.phone
    assert by_id[scene.lead_role.id]["is_lead"] is True
    assert by_id[scene.wide_role.id]["community_id"] is None
    # The committee may end and appoint memberships of its community, not the wider one.
    assert by_id[scene.member_role.id]["can_remove"] and by_id[scene.member_role.id]["can_appoint"]
    assert not by_id[scene.wide_role.id]["can_remove"]
    assert not by_id[scene.wide_role.id]["can_appoint"]


def test_a_lead_sees_masked_phones_but_their_own_and_the_listing_is_audited(scene):
    rows = org_members.list_members(actor(scene.lead), scene.org.id, scene.a)
    by_id = {r["id"]: r for r in rows}
    member = by_id[scene.member_role.id]
    assert member["phone"] != scene.member.phone
    assert member["phone"] == scene.member.phone[:3] + "****" + scene.member.phone[-4:]
    assert by_id[scene.lead_role.id]["phone"] == scene.lead.phone
    # A lead may remove a plain member of A only: not a lead (themselves), not the wider one.
    assert member["can_remove"] and not member["can_appoint"]
    assert not by_id[scene.lead_role.id]["can_remove"]
    assert not by_id[scene.wide_role.id]["can_remove"]
    db.session.commit()
    (entry,) = _audit("read")
    assert entry.actor_person_id == scene.lead.id
    assert (entry.target_type, entry.target_id, entry.community_id) == (
        "organization",
        str(scene.org.id),
        scene.a,
    )
    assert "phone_masked" in entry.detail["fields"]
    assert scene.member.id in entry.detail["person_ids"]


def test_committee_listing_is_an_audited_read_of_phones(scene):
    org_members.list_members(actor(scene.world.a.staff), scene.org.id, scene.a)
    db.session.commit()
    (entry,) = _audit("read")
    assert "phone" in entry.detail["fields"]


# --- adding ----------------------------------------------------------------------------------
def test_a_lead_adds_a_resident_of_the_community_by_phone(scene):
    lead = actor(scene.lead)
    number = scene.newcomer.phone
    spaced = f"+86 {number[:3]} {number[3:7]}-{number[7:]}"
    view = org_members.add_member(lead, scene.org.id, scene.a, spaced)
    db.session.commit()
    role = db.session.get(RoleAssignment, view["id"])
    assert (role.person_id, role.role, role.organization_id, role.community_id) == (
        scene.newcomer.id,
        "org_member",
        scene.org.id,
        scene.a,
    )
    assert role.leads_organization is False and role.granted_by_id == scene.lead.id
    assert view["phone"] != number  # the lead sees it masked
    # The newcomer now works for O in A (and nowhere else); they got a kind notice in Chinese.
    assert actor(scene.newcomer).organization_reach == {scene.org.id: frozenset({scene.a})}
    (note,) = _notices(scene.newcomer)
    assert note.kind == "org_member_added" and scene.org.name in note.title
    assert "加入" in note.title
    # Audited: whom it was about (the row itself by the request's flush hook: tests/api).
    (added,) = _audit("org_member_added")
    assert added.actor_person_id == scene.lead.id
    assert added.detail == {"person_id": scene.newcomer.id, "assignment_id": role.id}


def test_the_notice_is_in_the_persons_own_language(scene):
    scene.newcomer.locale = "en"
    db.session.commit()
    org_members.add_member(actor(scene.world.a.staff), scene.org.id, scene.a, scene.newcomer.phone)
    (note,) = _notices(scene.newcomer)
    assert note.title == f"You have joined {scene.org.name}"


@pytest.mark.parametrize("who", ["other_community", "unknown", "staff_account"])
def test_only_residents_of_the_community_can_be_added_and_the_answer_tells_nothing(scene, who):
    number = {
        "other_community": scene.world.b.resident.phone,
        "unknown": "13999999999",
        "staff_account": scene.world.a.staff.phone,
    }[who]
    with pytest.raises(NotFound) as raised:
        org_members.add_member(actor(scene.lead), scene.org.id, scene.a, number)
    assert str(raised.value.message) == "本社区没有使用这个手机号的居民。"
    assert raised.value.errors == {}


def test_a_resident_whose_account_is_off_cannot_be_added(scene):
    scene.newcomer.is_active = False
    db.session.commit()
    with pytest.raises(NotFound):
        org_members.add_member(actor(scene.lead), scene.org.id, scene.a, scene.newcomer.phone)


def test_a_bad_number_is_refused(scene):
    with pytest.raises(Invalid):
        org_members.add_member(actor(scene.lead), scene.org.id, scene.a, "12345")


def test_adding_a_member_twice_is_a_conflict(scene):
    with pytest.raises(Conflict):
        org_members.add_member(actor(scene.lead), scene.org.id, scene.a, scene.member.phone)
    # A member of another organization may join this one too.
    org_members.add_member(actor(scene.lead), scene.org.id, scene.a, scene.org2_role.person.phone)


# --- removing --------------------------------------------------------------------------------
def test_a_lead_removes_a_plain_member_who_is_told(scene):
    org_members.remove_member(actor(scene.lead), scene.org.id, scene.a, scene.member_role.id)
    db.session.commit()
    assert db.session.get(RoleAssignment, scene.member_role.id) is None
    assert actor(scene.member).organization_reach == {}
    (note,) = _notices(scene.member)
    assert note.kind == "org_member_removed"
    (removed,) = _audit("org_member_removed")
    assert removed.detail["person_id"] == scene.member.id and removed.community_id == scene.a


def test_what_a_lead_may_not_remove(scene):
    lead = actor(scene.lead)
    other_lead = membership(scene.newcomer, scene.org, scene.a, lead=True)
    db.session.commit()
    for target in (scene.lead_role.id, other_lead.id, scene.wide_role.id):
        with pytest.raises(Forbidden):
            org_members.remove_member(lead, scene.org.id, scene.a, target)
    # Another community's membership, another organization's, or not a membership at all: as if
    # there were no such record.
    resident_role = scene.member.roles[0].id
    for target in (scene.member_b_role.id, scene.org2_role.id, resident_role, 10**6):
        with pytest.raises(NotFound):
            org_members.remove_member(lead, scene.org.id, scene.a, target)
    assert all(
        db.session.get(RoleAssignment, r) is not None
        for r in (scene.lead_role.id, other_lead.id, scene.wide_role.id, scene.member_b_role.id)
    )


def test_committee_removes_any_membership_of_its_community_but_not_a_wider_one(scene):
    staff = actor(scene.world.a.staff)
    org_members.remove_member(staff, scene.org.id, scene.a, scene.lead_role.id)
    with pytest.raises(Forbidden):
        org_members.remove_member(staff, scene.org.id, scene.a, scene.wide_role.id)
    org_members.remove_member(actor(scene.world.admin), scene.org.id, scene.a, scene.wide_role.id)
    db.session.commit()
    assert db.session.get(RoleAssignment, scene.wide_role.id) is None


# --- leads -----------------------------------------------------------------------------------
def test_committee_appoints_a_lead_who_may_then_manage_and_stands_them_down(scene):
    staff = actor(scene.world.a.staff)
    view = org_members.set_lead(staff, scene.org.id, scene.a, scene.member_role.id, True)
    db.session.commit()
    assert view["is_lead"] is True
    assert _notices(scene.member)[-1].kind == "org_lead_changed"
    assert [e.detail["person_id"] for e in _audit("org_lead_appointed")] == [scene.member.id]
    org_members.list_members(actor(scene.member), scene.org.id, scene.a)
    # Appointing twice changes nothing and tells nobody again.
    org_members.set_lead(staff, scene.org.id, scene.a, scene.member_role.id, True)
    assert len(_notices(scene.member)) == 1
    org_members.set_lead(staff, scene.org.id, scene.a, scene.member_role.id, False)
    db.session.commit()
    with pytest.raises(Forbidden):
        org_members.list_members(actor(scene.member), scene.org.id, scene.a)
    assert len(_audit("org_lead_stood_down")) == 1


def test_a_lead_appoints_nobody_and_cannot_stand_themselves_down(scene):
    lead = actor(scene.lead)
    for target, value in ((scene.member_role.id, True), (scene.lead_role.id, False)):
        with pytest.raises(Forbidden):
            org_members.set_lead(lead, scene.org.id, scene.a, target, value)
    db.session.refresh(scene.lead_role)
    assert scene.lead_role.leads_organization is True


def test_only_an_admin_appoints_a_lead_for_every_community(scene):
    with pytest.raises(Forbidden):
        org_members.set_lead(
            actor(scene.world.a.staff), scene.org.id, scene.a, scene.wide_role.id, True
        )
    org_members.set_lead(actor(scene.world.admin), scene.org.id, scene.a, scene.wide_role.id, True)
    db.session.commit()
    wide = actor(scene.world.a.org_member)
    assert wide.led_organization_reach == {scene.org.id: frozenset({scene.a, scene.b})}


# --- scope -----------------------------------------------------------------------------------
def test_a_lead_in_one_community_has_no_say_in_another_the_organization_serves(scene):
    lead = actor(scene.lead)
    assert lead.led_organization_reach == {scene.org.id: frozenset({scene.a})}
    calls = [
        lambda: org_members.list_members(lead, scene.org.id, scene.b),
        lambda: org_members.add_member(lead, scene.org.id, scene.b, scene.world.b.resident.phone),
        lambda: org_members.remove_member(lead, scene.org.id, scene.b, scene.member_b_role.id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()


def test_a_lead_has_no_say_in_another_organization(scene):
    lead = actor(scene.lead)
    calls = [
        lambda: org_members.list_members(lead, scene.org2.id, scene.a),
        lambda: org_members.add_member(lead, scene.org2.id, scene.a, scene.newcomer.phone),
        lambda: org_members.remove_member(lead, scene.org2.id, scene.a, scene.org2_role.id),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()


def test_a_lead_loses_the_community_the_organization_stops_serving(scene):
    scene.org.communities.remove(scene.world.a.community)
    db.session.commit()
    with pytest.raises(NotFound):
        org_members.list_members(actor(scene.lead), scene.org.id, scene.a)
    assert actor(scene.lead).leads_any_organization  # the menu's cheap question still says yes
    assert org_members.led_places(actor(scene.lead)) == []


def test_committee_of_another_community_and_unknown_ids_get_not_found(scene):
    staff_b = actor(scene.world.b.staff)
    with pytest.raises(NotFound):
        org_members.list_members(staff_b, scene.org.id, scene.a)
    staff = actor(scene.world.a.staff)
    for org_id, community_id in ((10**6, scene.a), (scene.org.id, 10**6)):
        with pytest.raises(NotFound):
            org_members.list_members(staff, org_id, community_id)
    # An organization that does not serve the community.
    other = scene.world.b.organization
    with pytest.raises(NotFound):
        org_members.list_members(staff, other.id, scene.a)


@pytest.mark.parametrize(
    "who", ["member", "wide_member", "resident", "grid_worker", "official", "device", "anonymous"]
)
def test_nobody_else_may_do_anything(scene, who):
    world = scene.world
    subject = {
        "member": lambda: actor(scene.member),
        "wide_member": lambda: actor(world.a.org_member),
        "resident": lambda: actor(world.a.resident),
        "grid_worker": lambda: actor(world.a.grid_worker),
        "official": lambda: actor(world.official),
        "device": lambda: Actor.for_device(world.a.device),
        "anonymous": Actor.anonymous,
    }[who]()
    expected = Unauthorized if who == "anonymous" else Forbidden
    calls = [
        lambda: org_members.list_members(subject, scene.org.id, scene.a),
        lambda: org_members.add_member(subject, scene.org.id, scene.a, scene.newcomer.phone),
        lambda: org_members.remove_member(subject, scene.org.id, scene.a, scene.member_role.id),
        lambda: org_members.set_lead(subject, scene.org.id, scene.a, scene.member_role.id, True),
    ]
    for call in calls:
        with pytest.raises(expected):
            call()


def test_an_official_with_write_access_manages_like_the_committee(scene):
    writer = actor(scene.world.official_writer)
    org_members.add_member(writer, scene.org.id, scene.a, scene.newcomer.phone)
    org_members.set_lead(writer, scene.org.id, scene.a, scene.member_role.id, True)


def test_the_menu_questions_need_no_query(scene, app):
    from sqlalchemy import event

    # (我的组织, 组织与成员) in the menu.
    people = {
        "lead": (scene.lead, True, False),
        "staff": (scene.world.a.staff, False, True),
        "writer": (scene.world.official_writer, False, True),
        "official": (scene.world.official, False, False),
        "member": (scene.member, False, False),
        "admin": (scene.world.admin, False, True),
    }
    for person, leads, register in people.values():
        who = actor(person)
        statements = []

        def count(*args, _s=statements):
            _s.append(args)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert who.leads_any_organization is leads
            assert org_members.may_open_register(who) is register
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert statements == []
