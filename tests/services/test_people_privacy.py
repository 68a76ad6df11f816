"""Phones are masked, care flags hidden, and sensitive reads audited — decided in the service."""

from app.models import AuditLog
from app.people import people
from app.people.actors import Actor


def _view(who, target):
    return people.person_view(Actor.for_person(who), target)


def test_staff_see_phone_and_care_flags_and_the_read_is_audited(world, db):
    before = db.session.query(AuditLog).filter_by(action="read").count()
    view = _view(world.a.staff, world.a.elder)
    assert view["phone"] == world.a.elder.phone
    assert view["care_flags"] == ["lives_alone"]
    db.session.flush()
    entries = db.session.query(AuditLog).filter_by(action="read").all()
    assert len(entries) == before + 1
    assert entries[-1].actor_person_id == world.a.staff.id
    assert entries[-1].target_id == str(world.a.elder.id)
    assert entries[-1].detail == {"fields": ["care_flags", "phone"]}


def test_grid_worker_of_the_grid_sees_care_flags(world):
    view = _view(world.a.grid_worker, world.a.elder)
    assert view["care_flags"] == ["lives_alone"] and view["phone"] == world.a.elder.phone


def test_official_sees_masked_phone_and_no_care_flags(world):
    view = _view(world.official, world.a.elder)
    phone = world.a.elder.phone
    assert view["phone"] == f"{phone[:3]}****{phone[-4:]}"
    assert view["care_flags"] is None and view["birth_year"] is None


def test_org_member_and_neighbour_see_masked_phone_only(world):
    for who in (world.a.org_member, world.a.resident):
        view = _view(who, world.a.elder)
        assert "****" in view["phone"] and view["care_flags"] is None


def test_a_person_sees_their_own_phone_but_not_their_care_flags(world, db):
    view = _view(world.a.elder, world.a.elder)
    assert view["phone"] == world.a.elder.phone
    assert view["care_flags"] is None
    db.session.flush()
    assert db.session.query(AuditLog).filter_by(action="read").count() == 0


def test_confirmed_proxy_sees_the_elders_phone(world):
    actor = Actor.for_person(world.a.relative, on_behalf_of=world.a.elder)
    view = people.person_view(actor, world.a.elder)
    assert view["phone"] == world.a.elder.phone and view["care_flags"] is None


def test_pending_proxy_cannot_act(client, world, auth, db):
    from tests import factories as f

    stranger = f.resident(world.a.community)
    f.proxy_link(stranger, world.a.resident, status="pending")
    db.session.commit()
    r = client.get(
        f"/api/v1/people/{world.a.resident.id}",
        headers=auth.headers(stranger, act_for=world.a.resident),
    )
    assert r.status_code == 403


def test_staff_changes_are_audited_with_fields_not_values(client, world, auth, db):
    h = auth.headers(world.a.staff)
    r = client.patch(
        f"/api/v1/people/{world.a.resident.id}",
        headers=h,
        json={"display_name": "李阿姨", "care_flags": ["needs_help"]},
    )
    assert r.status_code == 200
    entry = (
        db.session.query(AuditLog)
        .filter_by(action="update", target_type="person", target_id=str(world.a.resident.id))
        .one()
    )
    assert entry.actor_person_id == world.a.staff.id
    assert entry.community_id == world.a.community.id
    assert entry.detail == {"fields": ["care_flags", "display_name"]}
    assert "李阿姨" not in str(entry.detail)


def test_residents_own_changes_are_not_staff_audit_entries(client, world, auth, db):
    r = client.patch(
        "/api/v1/me",
        headers=auth.headers(world.a.resident),
        json={"speech_rate": "slow", "text_size": "xlarge"},
    )
    assert r.status_code == 200
    assert db.session.query(AuditLog).filter_by(actor_person_id=world.a.resident.id).count() == 0


def test_pin_reset_by_staff_revokes_old_tokens(client, world, auth):
    resident_h = auth.headers(world.a.resident)
    r = client.put(
        f"/api/v1/people/{world.a.resident.id}/pin",
        json={"pin": "371592"},
        headers=auth.headers(world.a.staff),
    )
    assert r.status_code == 204
    assert client.get("/api/v1/me", headers=resident_h).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/token", json={"login": world.a.resident.phone, "pin": "371592"}
        ).status_code
        == 201
    )


def test_admin_reads_audit_log_through_the_api(client, world, auth):
    client.patch(
        f"/api/v1/communities/{world.a.community.id}",
        json={"phone": "010-8888 8888"},
        headers=auth.headers(world.a.staff),
    )
    r = client.get(
        f"/api/v1/audit-logs?community_id={world.a.community.id}", headers=auth.headers(world.admin)
    )
    assert r.status_code == 200
    actions = [(e["action"], e["target_type"]) for e in r.get_json()["items"]]
    assert ("update", "community") in actions


def test_care_flag_filter_counts_only_matching_people(client, world, auth):
    from tests import factories as f

    for _ in range(3):
        f.resident(world.a.community)
    f.db.session.commit()
    r = client.get(
        f"/api/v1/communities/{world.a.community.id}/people?care_flag=lives_alone&per_page=1",
        headers=auth.headers(world.a.staff),
    )
    body = r.get_json()
    assert r.status_code == 200
    assert body["total"] == 1 and [p["id"] for p in body["items"]] == [world.a.elder.id]
    denied = client.get(
        f"/api/v1/communities/{world.a.community.id}/people?care_flag=lives_alone",
        headers=auth.headers(world.official),
    )
    assert denied.status_code == 403


def test_a_row_removed_from_a_delete_orphan_collection_is_an_audited_delete(world, db):
    """Removing a role from `person.roles` deletes it by the orphan cascade alone: the flush
    hook records it like an explicit delete (session.deleted never holds it)."""
    from app.infra import audit
    from app.models import RoleAssignment
    from app.models.person import RESIDENT

    person = world.a.resident
    role = RoleAssignment(role=RESIDENT, community_id=world.b.community.id)
    person.roles.append(role)
    db.session.commit()
    role_id = role.id
    audit.bind_actor(Actor.for_person(world.a.staff))
    person.roles.remove(role)
    db.session.commit()
    assert db.session.get(RoleAssignment, role_id) is None
    entry = (
        db.session.query(AuditLog)
        .filter_by(action="delete", target_type="role_assignment", target_id=str(role_id))
        .one()
    )
    assert entry.actor_person_id == world.a.staff.id


def test_deletes_noted_by_a_flush_that_failed_are_forgotten_on_rollback(world, db):
    """A flush that fails half-way has noted some deletes but never reaches the after-flush
    hook: the rollback forgets them, so the next flush does not audit deletes that never were."""
    from app.infra import audit

    audit.bind_actor(Actor.for_person(world.a.staff))
    db.session.info[audit._DELETED] = [world.a.resident.roles[0]]
    db.session.rollback()
    assert audit._DELETED not in db.session.info
    before = db.session.query(AuditLog).filter_by(action="delete").count()
    world.a.resident.display_name = "王阿姨"
    db.session.commit()
    assert db.session.query(AuditLog).filter_by(action="delete").count() == before
