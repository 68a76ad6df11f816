"""The organization-membership API: what a lead and the committee see and do, attacks beyond the
matrix (another organization, forged ids, revoked rights on the next request), the audit trail,
and bad input in the one error envelope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, RoleAssignment
from tests.services.org_members_scene import make_scene


@pytest.fixture()
def scene(world):
    return make_scene(world)


def _members(org_id):
    return f"/api/v1/organizations/{org_id}/members"


def _q(community_id):
    return {"community_id": community_id}


def _envelope(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) <= {"code", "status", "message", "errors"}
    assert body["code"] == status and body["message"]
    return body


def test_a_lead_adds_lists_and_removes_a_resident(client, auth, scene):
    headers = auth.headers(scene.lead)
    url = _members(scene.org.id)
    added = client.post(
        url, query_string=_q(scene.a), json={"phone": scene.newcomer.phone}, headers=headers
    )
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    assert body["display_name"] == "李新人" and body["is_lead"] is False
    assert body["community_id"] == scene.a and body["can_remove"] is True
    assert "****" in body["phone"]
    listed = client.get(url, query_string=_q(scene.a), headers=headers).get_json()
    assert [m["id"] for m in listed] == sorted(m["id"] for m in listed)
    assert body["id"] in {m["id"] for m in listed}
    assert all("****" in m["phone"] for m in listed if m["person_id"] != scene.lead.id)
    gone = client.delete(f"{url}/{body['id']}", query_string=_q(scene.a), headers=headers)
    assert gone.status_code == 204
    listed = client.get(url, query_string=_q(scene.a), headers=headers).get_json()
    assert body["id"] not in {m["id"] for m in listed}


def test_every_change_and_listing_is_in_the_audit_log(client, auth, scene):
    headers = auth.headers(scene.world.a.staff)
    url = _members(scene.org.id)
    q = _q(scene.a)
    new = client.post(url, query_string=q, json={"phone": scene.newcomer.phone}, headers=headers)
    new_id = new.get_json()["id"]
    assert client.put(f"{url}/{new_id}/lead", query_string=q, headers=headers).status_code == 200
    assert client.delete(f"{url}/{new_id}/lead", query_string=q, headers=headers).status_code == 200
    assert client.delete(f"{url}/{new_id}", query_string=q, headers=headers).status_code == 204
    listed = client.get(url, query_string=q, headers=headers).get_json()
    assert {m["phone"] for m in listed} >= {scene.member.phone}  # the committee: full numbers
    entries = db.session.scalars(
        select(AuditLog).where(AuditLog.community_id == scene.a).order_by(AuditLog.id)
    ).all()
    steps = [(e.action, e.target_type) for e in entries]
    assert steps == [
        ("create", "role_assignment"),
        ("org_member_added", "organization"),
        ("update", "role_assignment"),
        ("org_lead_appointed", "organization"),
        ("update", "role_assignment"),
        ("org_lead_stood_down", "organization"),
        ("org_member_removed", "organization"),
        ("delete", "role_assignment"),
        ("read", "organization"),
    ]
    assert all(e.actor_person_id == scene.world.a.staff.id for e in entries)
    assert entries[2].detail == {"fields": ["leads_organization"]}
    assert entries[-1].detail["fields"] == ["members", "phone"]


@pytest.mark.parametrize("action", ["list", "add", "remove", "appoint"])
def test_a_lead_has_no_say_in_another_organization_of_their_community(client, auth, scene, action):
    headers = auth.headers(scene.lead)
    url, q = _members(scene.org2.id), _q(scene.a)
    target = f"{url}/{scene.org2_role.id}"
    response = {
        "list": lambda: client.get(url, query_string=q, headers=headers),
        "add": lambda: client.post(
            url, query_string=q, json={"phone": scene.newcomer.phone}, headers=headers
        ),
        "remove": lambda: client.delete(target, query_string=q, headers=headers),
        "appoint": lambda: client.put(f"{target}/lead", query_string=q, headers=headers),
    }[action]()
    _envelope(response, 403)
    db.session.expire_all()
    assert db.session.get(RoleAssignment, scene.org2_role.id) is not None


@pytest.mark.parametrize("who", ["lead", "staff"])
@pytest.mark.parametrize("forged", ["other_community", "other_org", "not_membership", "missing"])
def test_forged_membership_ids_are_not_found(client, auth, scene, who, forged):
    headers = auth.headers(scene.lead if who == "lead" else scene.world.a.staff)
    target = {
        "other_community": scene.member_b_role.id,
        "other_org": scene.org2_role.id,
        "not_membership": scene.world.a.staff.roles[0].id,
        "missing": 2**31 - 1,
    }[forged]
    url = f"{_members(scene.org.id)}/{target}"
    responses = (
        client.delete(url, query_string=_q(scene.a), headers=headers),
        client.put(f"{url}/lead", query_string=_q(scene.a), headers=headers),
    )
    # A lead may never appoint: refused before any id is looked at, the same for every id.
    answers = (404, 403) if who == "lead" else (404, 404)
    for response, status in zip(responses, answers, strict=True):
        body = _envelope(response, status)
        assert str(scene.b) not in body["message"]
    db.session.expire_all()
    assert db.session.get(RoleAssignment, scene.member_b_role.id) is not None


def test_a_lead_stood_down_loses_the_right_on_the_next_request(client, auth, scene):
    lead = auth.headers(scene.lead)
    staff = auth.headers(scene.world.a.staff)
    url, q = _members(scene.org.id), _q(scene.a)
    assert client.get(url, query_string=q, headers=lead).status_code == 200
    stood_down = client.delete(f"{url}/{scene.lead_role.id}/lead", query_string=q, headers=staff)
    assert stood_down.status_code == 200 and stood_down.get_json()["is_lead"] is False
    # The same token: still a member of A (403), no longer its lead.
    _envelope(client.get(url, query_string=q, headers=lead), 403)
    _envelope(
        client.post(url, query_string=q, json={"phone": scene.newcomer.phone}, headers=lead), 403
    )


def test_a_removed_member_loses_the_organization_on_the_next_request(client, auth, scene):
    lead = auth.headers(scene.lead)
    member = auth.headers(scene.member)
    staff = auth.headers(scene.world.a.staff)
    url, q = _members(scene.org.id), _q(scene.a)
    assert "org_member" in client.get("/api/v1/me", headers=member).get_json()["roles"]
    assert (
        client.delete(f"{url}/{scene.member_role.id}", query_string=q, headers=lead).status_code
        == 204
    )
    assert "org_member" not in client.get("/api/v1/me", headers=member).get_json()["roles"]
    # The lead's own membership ended by the committee: A is no longer theirs at all.
    assert (
        client.delete(f"{url}/{scene.lead_role.id}", query_string=q, headers=staff).status_code
        == 204
    )
    _envelope(client.get(url, query_string=q, headers=lead), 404)


def test_a_lead_cannot_remove_their_own_lead_membership_or_role(client, auth, scene):
    lead = auth.headers(scene.lead)
    url, q = _members(scene.org.id), _q(scene.a)
    _envelope(client.delete(f"{url}/{scene.lead_role.id}", query_string=q, headers=lead), 403)
    _envelope(client.delete(f"{url}/{scene.lead_role.id}/lead", query_string=q, headers=lead), 403)
    db.session.expire_all()
    assert db.session.get(RoleAssignment, scene.lead_role.id).leads_organization is True


def test_adding_someone_twice_or_from_elsewhere(client, auth, scene):
    headers = auth.headers(scene.lead)
    url, q = _members(scene.org.id), _q(scene.a)
    body = _envelope(
        client.post(url, query_string=q, json={"phone": scene.member.phone}, headers=headers), 409
    )
    assert "phone" in body["errors"]
    elsewhere = client.post(
        url, query_string=q, json={"phone": scene.world.b.resident.phone}, headers=headers
    )
    unknown = client.post(url, query_string=q, json={"phone": "13999999999"}, headers=headers)
    # The same answer for a resident of another community as for a number nobody has.
    assert _envelope(elsewhere, 404) == _envelope(unknown, 404)


BAD_BODIES = [
    {},
    {"phone": None},
    {"phone": 13800000000},
    {"phone": ["13800000000"]},
    {"phone": {"n": 1}},
    {"phone": True},
    {"phone": "x" * 10_000},
    {"phone": "\u202e13800000000"},
    {"phone": "12345"},
    {"phone": "13800000000", "role": "platform_admin"},
    {"phone": "13800000000", "leads_organization": True},
    ["13800000000"],
    "13800000000",
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[repr(b)[:30] for b in BAD_BODIES])
def test_bad_bodies_are_refused_in_the_envelope(client, auth, scene, body):
    before = db.session.query(RoleAssignment).count()
    response = client.post(
        _members(scene.org.id),
        query_string=_q(scene.a),
        json=body,
        headers=auth.headers(scene.world.a.staff),
    )
    _envelope(response, 422)
    assert db.session.query(RoleAssignment).count() == before


def test_malformed_json_is_refused(client, auth, scene):
    headers = auth.headers(scene.world.a.staff)
    before = db.session.query(RoleAssignment).count()
    for raw in ('{"phone": ', '{"phone": "1", "phone": "2"}', "\xff\xfe", '{"phone": NaN}'):
        response = client.post(
            _members(scene.org.id),
            query_string=_q(scene.a),
            data=raw.encode("latin-1"),
            content_type="application/json",
            headers=headers,
        )
        assert 400 <= response.status_code < 500
        _envelope(response, response.status_code)
    assert db.session.query(RoleAssignment).count() == before


@pytest.mark.parametrize(
    "query", [{}, {"community_id": "abc"}, {"community_id": 0}, {"community_id": 2**40}]
)
def test_a_bad_community_id_is_refused(client, auth, scene, query):
    headers = auth.headers(scene.world.a.staff)
    for response in (
        client.get(_members(scene.org.id), query_string=query, headers=headers),
        client.delete(
            f"{_members(scene.org.id)}/{scene.member_role.id}", query_string=query, headers=headers
        ),
        client.put(
            f"{_members(scene.org.id)}/{scene.member_role.id}/lead",
            query_string=query,
            headers=headers,
        ),
    ):
        _envelope(response, 422)


def test_out_of_range_ids_in_the_path_are_not_found(client, auth, scene):
    headers = auth.headers(scene.world.a.staff)
    for path in (
        "/api/v1/organizations/0/members",
        f"/api/v1/organizations/{2**31}/members",
        f"{_members(scene.org.id)}/0",
        f"{_members(scene.org.id)}/-1/lead",
    ):
        response = client.open(
            path,
            method="GET" if path.endswith("members") else "DELETE",
            query_string=_q(scene.a),
            headers=headers,
        )
        _envelope(response, 404)


def test_english_messages_for_an_english_caller(client, auth, scene):
    response = client.post(
        _members(scene.org.id),
        query_string=_q(scene.a),
        json={"phone": "13999999999"},
        headers={**auth.headers(scene.lead), "Accept-Language": "en"},
    )
    body = _envelope(response, 404)
    assert body["message"] == "No resident of this community has this mobile number."


@pytest.mark.parametrize("role", ["org_member", "grid_worker", "committee_staff"])
def test_a_lead_grants_no_role_through_the_people_api(client, auth, scene, role):
    body = {
        "org_member": {"organization_id": scene.org.id, "community_id": scene.a},
        "grid_worker": {"grid_id": scene.world.a.community.grids[0].id},
        "committee_staff": {"community_id": scene.a},
    }[role]
    before = len(scene.newcomer.roles)
    response = client.post(
        f"/api/v1/people/{scene.newcomer.id}/roles",
        json={"role": role, **body},
        headers=auth.headers(scene.lead),
    )
    # The lead is no worker of A's register: the resident is not even found for them.
    _envelope(response, 404)
    db.session.expire_all()
    assert len(scene.newcomer.roles) == before
