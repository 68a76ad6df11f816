"""Dispatch and follow-up: assignment, inboxes, notes, duplicates, merge, "me too", notices."""

from __future__ import annotations

import re
from datetime import timedelta

from app.affairs import workflow
from app.extensions import db
from app.models import AuditLog
from app.models.base import utcnow
from app.models.case import Case, CaseSupport
from app.models.notification import Notification
from tests import factories as f
from tests.affairs.conftest import actor, category, put_in_state, submit


def _notes(person, kind=None):
    query = db.session.query(Notification).filter_by(person_id=person.id)
    if kind:
        query = query.filter_by(kind=kind)
    return query.order_by(Notification.id).all()


def test_assign_to_an_organization_fills_its_members_inbox(client, cats, auth):
    world = cats
    case = submit(world.a)
    colleague = f.staff("org_member", organization_id=world.a.organization.id)
    db.session.commit()
    r = client.post(
        f"/api/v1/cases/{case.id}/assignment",
        headers=auth.headers(world.a.staff),
        json={"organization_id": world.a.organization.id, "note": "今天处理"},
    )
    assert r.status_code == 200
    assert r.get_json()["assignee"] == {
        "kind": "organization",
        "id": world.a.organization.id,
        "name": world.a.organization.name,
    }
    for member in (world.a.org_member, colleague):
        inbox = client.get("/api/v1/inbox", headers=auth.headers(member)).get_json()
        assert [c["id"] for c in inbox["items"]] == [case.id]
        [notice] = _notes(member, "case_assigned")
        assert case.reference in notice.title
    # Others have an empty inbox; another community's organization cannot be chosen.
    assert (
        client.get("/api/v1/inbox", headers=auth.headers(world.b.org_member)).get_json()["total"]
        == 0
    )
    r = client.post(
        f"/api/v1/cases/{case.id}/assignment",
        headers=auth.headers(world.a.staff),
        json={"organization_id": world.b.organization.id},
    )
    assert r.status_code == 422


def test_assign_to_a_grid_worker_with_a_deadline(client, cats, auth):
    world = cats
    case = submit(world.a)
    due = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    r = client.post(
        f"/api/v1/cases/{case.id}/assignment",
        headers=auth.headers(world.a.staff),
        json={"person_id": world.a.grid_worker.id, "due_at": due.isoformat()},
    )
    assert r.status_code == 200, r.get_json()
    db.session.expire_all()
    assert case.assignee_person_id == world.a.grid_worker.id and case.due_at == due
    worker = auth.headers(world.a.grid_worker)
    assert client.get("/api/v1/inbox", headers=worker).get_json()["items"][0]["id"] == case.id
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions", json={"action": "start"}, headers=worker
    )
    assert r.status_code == 200 and r.get_json()["status"] == "in_progress"
    # Only workers of this community can be assigned; a deadline must lie ahead.
    for body in (
        {"person_id": world.b.grid_worker.id},
        {"person_id": world.a.resident.id},
        {"person_id": world.a.grid_worker.id, "due_at": "2001-01-01T00:00:00+00:00"},
        {"person_id": world.a.grid_worker.id, "organization_id": world.a.organization.id},
        {},
    ):
        r = client.post(
            f"/api/v1/cases/{case.id}/assignment", headers=auth.headers(world.a.staff), json=body
        )
        assert r.status_code == 422, body


def test_the_assignee_updates_adds_photos_and_resolves(client, cats, auth):
    from tests.affairs.conftest import image_bytes
    from tests.affairs.test_attachments import _upload

    world = cats
    case = submit(world.a)
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    org = auth.headers(world.a.org_member)
    r = client.post(
        f"/api/v1/cases/{case.id}/notes", headers=org, json={"text": "配件明天到", "public": True}
    )
    assert r.status_code == 201 and r.get_json()["public"] is True
    assert _upload(client, org, case.id, image_bytes()).status_code == 201
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        headers=org,
        json={"action": "resolve", "note": "已修好"},
    )
    assert r.status_code == 200
    notices = _notes(world.a.resident)
    assert any("配件明天到" in n.body for n in notices)
    assert any(n.kind == "case_status" and case.reference in n.title for n in notices)
    # The reporter's own view shows the public note but not who at the company wrote it.
    view = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident))
    notes = [e for e in view.get_json()["timeline"] if e["kind"] == "note"]
    assert notes[0]["note"] == "配件明天到"
    assert world.a.org_member.display_name not in str(view.get_json()["timeline"])


def test_internal_notes_stay_internal_and_residents_notes_are_for_the_committee(client, cats, auth):
    world = cats
    case = submit(world.a)
    staff = auth.headers(world.a.staff)
    client.post(
        f"/api/v1/cases/{case.id}/notes",
        headers=staff,
        json={"text": "这户老人耳背，请大声说话", "public": False},
    )
    r = client.post(
        f"/api/v1/cases/{case.id}/notes",
        headers=auth.headers(world.a.resident),
        json={"text": "下午三点后在家", "public": False},
    )
    assert r.status_code == 201 and r.get_json()["public"] is False
    mine = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident))
    assert "耳背" not in str(mine.get_json()) and "下午三点后在家" in str(mine.get_json())
    public = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.elder))
    assert "耳背" not in str(public.get_json()) and "下午三点后在家" not in str(public.get_json())
    full = str(client.get(f"/api/v1/cases/{case.id}", headers=staff).get_json())
    assert "耳背" in full and "下午三点后在家" in full
    # A read-only street official reads but does not write.
    official = auth.headers(cats.official)
    assert client.get(f"/api/v1/cases/{case.id}", headers=official).status_code == 200
    r = client.post(f"/api/v1/cases/{case.id}/notes", headers=official, json={"text": "x"})
    assert r.status_code == 403


_TIME_OR_REFERENCE = re.compile(r"^(\d{4}-\d{2}-\d{2}T[\d:.]+([+-]\d{2}:\d{2}|Z)?|\d{4}-\d{6})$")


def _strings(value) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_public_view_never_shows_the_reporter(client, cats, auth):
    world = cats
    case = submit(world.a, description="三楼王大妈家门口漏水")
    for headers in (auth.headers(world.a.elder), auth.headers(device=world.a.device)):
        body = client.get(f"/api/v1/cases/{case.id}", headers=headers).get_json()
        assert body["level"] == "public"
        # Every text of the view but times and the reference, which are made of digits that
        # can hold "101" or the phone's last four by chance (a timestamp's microseconds did).
        texts = [t for t in _strings(body) if not _TIME_OR_REFERENCE.match(t)]
        for secret in (
            world.a.resident.display_name,
            world.a.resident.phone,
            world.a.resident.phone[-4:],
            "王大妈",
            "101",
        ):
            assert not [t for t in texts if secret in t], secret
        assert set(body) >= {"category", "status", "location", "timeline"}
        assert "reporter" not in body and "description" not in body
        assert body["location"] == {
            "building_id": case.building_id,
            "building": "1号楼",
            "latitude": None,
            "longitude": None,
        }


def test_staff_see_the_reporter_masked_or_not_and_the_read_is_audited(client, cats, auth):
    world = cats
    case = submit(world.a)
    staff = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.staff))
    assert staff.get_json()["reporter"]["phone"] == world.a.resident.phone
    org = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.org_member))
    assert org.get_json()["level"] == "public"  # not assigned to them (yet)
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    db.session.commit()
    org = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.org_member))
    reporter = org.get_json()["reporter"]
    assert reporter["phone"] == world.a.resident.phone[:3] + "****" + world.a.resident.phone[-4:]
    reads = db.session.query(AuditLog).filter_by(action="read", target_type="case").all()
    who = {(e.actor_person_id, tuple(e.detail["fields"])) for e in reads}
    assert (world.a.staff.id, ("reporter", "reporter_phone")) in who
    assert (world.a.org_member.id, ("reporter",)) in who
    # The reporter reading their own case is not an audited read; lists never show reporters.
    client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident))
    listing = client.get("/api/v1/cases", headers=auth.headers(world.a.staff)).get_json()
    assert "reporter" not in listing["items"][0]
    assert db.session.query(AuditLog).filter_by(action="read", target_type="case").count() == 2


def test_private_cases_are_not_found_for_neighbours(client, cats, auth):
    world = cats
    case = submit(world.a, code="dispute", description="楼上噪音")
    assert not case.is_public
    assert (
        client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.elder)).status_code
        == 404
    )
    listing = client.get("/api/v1/cases", headers=auth.headers(world.a.elder)).get_json()
    assert listing["total"] == 0
    # The reporter may also keep a public-category case private.
    private = submit(world.a, is_public=False)
    assert (
        client.get(f"/api/v1/cases/{private.id}", headers=auth.headers(world.a.elder)).status_code
        == 404
    )


def test_similar_cases_are_suggested_on_submit(client, cats, auth):
    world = cats
    first = submit(world.a, description="楼道灯坏了")
    submit(world.a, code="environment", description="别的类别")
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(world.a.elder),
        json={"category_code": "repair", "description": "楼道灯也不亮", "with_similar": True},
    )
    assert r.status_code == 201, r.get_json()
    similar = r.get_json()["similar"]
    assert [c["id"] for c in similar] == [first.id]
    assert "description" not in similar[0]
    # Not asked: the answer has no similar key (not an empty list that would say "none").
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(world.a.elder),
        json={"category_code": "repair", "description": "楼道灯还是不亮"},
    )
    assert r.status_code == 201, r.get_json()
    assert "similar" not in r.get_json()
    r = client.post(
        "/api/v1/cases",
        headers=auth.headers(world.a.elder),
        json={"category_code": "repair", "description": "楼道灯还是不亮", "with_similar": "maybe"},
    )
    assert r.status_code == 422
    assert "with_similar" in r.get_json()["errors"]
    r = client.get(
        "/api/v1/cases/similar",
        headers=auth.headers(world.a.elder),
        query_string={"category_id": category(world.a).id, "building_id": first.building_id},
    )
    assert {c["id"] for c in r.get_json()} >= {first.id}
    # Nearby by coordinates, without a building.
    near = submit(
        world.a,
        code="environment",
        description="广场积水",
        address="中心广场",
        latitude=39.90000,
        longitude=116.40000,
    )
    r = client.get(
        "/api/v1/cases/similar",
        headers=auth.headers(world.a.resident),
        query_string={
            "category_id": category(world.a, "environment").id,
            "latitude": 39.9005,
            "longitude": 116.4003,
        },
    )
    assert near.id in [c["id"] for c in r.get_json()]
    far = client.get(
        "/api/v1/cases/similar",
        headers=auth.headers(world.a.resident),
        query_string={
            "category_id": category(world.a, "environment").id,
            "latitude": 39.95,
            "longitude": 116.45,
        },
    )
    assert near.id not in [c["id"] for c in far.get_json()]


def test_me_too_once_per_person(client, cats, auth):
    world = cats
    case = submit(world.a)
    elder = auth.headers(world.a.elder)
    for _ in range(2):
        r = client.post(f"/api/v1/cases/{case.id}/support", headers=elder)
        assert r.status_code == 200
        assert r.get_json()["support_count"] == 1 and r.get_json()["supported_by_me"] is True
    # The family proxy acting for the same elder is the same person.
    r = client.post(
        f"/api/v1/cases/{case.id}/support",
        headers=auth.headers(world.a.relative, act_for=world.a.elder),
    )
    assert r.get_json()["support_count"] == 1
    assert (
        client.post(
            f"/api/v1/cases/{case.id}/support", headers=auth.headers(world.a.resident)
        ).status_code
        == 403
    )  # own case
    assert (
        client.post(
            f"/api/v1/cases/{case.id}/support", headers=auth.headers(world.b.resident)
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/cases/{case.id}/support", headers=auth.headers(device=world.a.device)
        ).status_code
        == 403
    )
    assert db.session.query(CaseSupport).count() == 1
    put_in_state(case, world.a, "closed")
    other = f.resident(world.a.community)
    db.session.commit()
    assert (
        client.post(f"/api/v1/cases/{case.id}/support", headers=auth.headers(other)).status_code
        == 409
    )


def test_merge_moves_followers_and_tells_the_reporter(client, cats, auth):
    world = cats
    target = submit(world.a, description="电梯坏了")
    duplicate = submit(world.a, by=world.a.elder, description="电梯又坏了")
    neighbour = f.resident(world.a.community)
    db.session.commit()
    workflow.support_case(actor(neighbour), duplicate.id)
    db.session.commit()
    r = client.post(
        f"/api/v1/cases/{duplicate.id}/merge",
        headers=auth.headers(world.a.staff),
        json={"into_reference": target.reference, "note": "同一部电梯"},
    )
    assert r.status_code == 200 and r.get_json()["id"] == target.id
    db.session.expire_all()
    assert duplicate.status == "closed" and duplicate.closed_reason == "merged"
    assert duplicate.merged_into_id == target.id
    assert target.support_count == 2  # the elder (reporter of the duplicate) and the neighbour
    assert {s.person_id for s in db.session.query(CaseSupport).filter_by(case_id=target.id)} == {
        world.a.elder.id,
        neighbour.id,
    }
    assert any(target.reference in n.body for n in _notes(world.a.elder, "case_merged"))
    mine = client.get(f"/api/v1/cases/{duplicate.id}", headers=auth.headers(world.a.elder))
    assert mine.get_json()["merged_into"] == target.reference
    # Merging into itself, into a closed case or across communities is refused.
    other = submit(world.a)
    assert (
        client.post(
            f"/api/v1/cases/{other.id}/merge",
            headers=auth.headers(world.a.staff),
            json={"into_id": other.id},
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/cases/{other.id}/merge",
            headers=auth.headers(world.a.staff),
            json={"into_id": duplicate.id},
        ).status_code
        == 409
    )
    foreign = submit(world.b)
    assert (
        client.post(
            f"/api/v1/cases/{other.id}/merge",
            headers=auth.headers(world.a.staff),
            json={"into_id": foreign.id},
        ).status_code
        == 404
    )


def test_staff_correct_category_location_and_visibility(client, cats, auth):
    world = cats
    case = submit(world.a, code="environment")
    r = client.patch(
        f"/api/v1/cases/{case.id}",
        headers=auth.headers(world.a.staff),
        json={"category_id": category(world.a, "dispute").id, "address": "2号楼后面"},
    )
    assert r.status_code == 200
    body = r.get_json()
    assert body["category"]["code"] == "dispute" and body["is_public"] is False
    assert body["location"]["address"] == "2号楼后面"
    db.session.expire_all()
    assert case.due_at == case.created_at + timedelta(hours=120)
    assert (
        client.patch(
            f"/api/v1/cases/{case.id}",
            headers=auth.headers(world.a.resident),
            json={"is_public": True},
        ).status_code
        == 403
    )


def test_notification_inbox(client, cats, auth):
    world = cats
    case = submit(world.a)
    workflow.transition(actor(world.a.staff), case.id, "accept", note="马上安排")
    db.session.commit()
    headers = auth.headers(world.a.resident)
    listing = client.get("/api/v1/notifications", headers=headers).get_json()
    assert listing["total"] == 2  # received + accepted
    counts = client.get("/api/v1/notifications/unread-count", headers=headers).get_json()
    assert counts["unread"] == 2
    newest = listing["items"][0]
    assert "马上安排" in newest["body"] and newest["read_at"] is None
    r = client.post(f"/api/v1/notifications/{newest['id']}/read", headers=headers)
    assert r.status_code == 200 and r.get_json()["read_at"]
    assert client.get("/api/v1/notifications?unread=true", headers=headers).get_json()["total"] == 1
    # Someone else's notice is not found; a screen has no inbox.
    assert (
        client.post(
            f"/api/v1/notifications/{newest['id']}/read", headers=auth.headers(world.a.elder)
        ).status_code
        == 404
    )
    assert (
        client.get("/api/v1/notifications", headers=auth.headers(device=world.a.device)).status_code
        == 403
    )
    assert client.post("/api/v1/notifications/read-all", headers=headers).get_json() == {
        "marked": 1
    }
    # A family proxy reads the resident's inbox.
    proxy_case = submit(world.a, by=actor(world.a.relative, act_for=world.a.elder))
    assert proxy_case.reporter_id == world.a.elder.id
    proxied = client.get(
        "/api/v1/notifications", headers=auth.headers(world.a.relative, act_for=world.a.elder)
    )
    assert proxied.get_json()["total"] == 1


def test_notices_follow_the_persons_language(cats):
    world = cats
    world.a.resident.locale = "en"
    db.session.commit()
    case = submit(world.a)
    [notice] = _notes(world.a.resident)
    assert notice.title == "We have received your request"
    assert case.reference in notice.body
    world.a.elder.locale = "zh_CN"
    db.session.commit()
    submit(world.a, by=world.a.elder)
    [zh] = _notes(world.a.elder)
    assert zh.title == "我们已收到您的诉求"


def test_case_listing_filters(client, cats, auth):
    world = cats
    a = submit(world.a)
    b = submit(world.a, code="environment", by=actor(device=world.a.device))
    put_in_state(b, world.a, "assigned")
    staff = auth.headers(world.a.staff)

    def ids(**query):
        r = client.get("/api/v1/cases", headers=staff, query_string=query)
        assert r.status_code == 200, r.get_json()
        return [c["id"] for c in r.get_json()["items"]]

    assert ids() == [b.id, a.id]
    assert ids(status="submitted") == [a.id]
    assert ids(channel="kiosk") == [b.id]
    assert ids(category_id=category(world.a).id) == [a.id]
    assert ids(grid_id=world.a.community.grids[0].id) == [b.id, a.id]
    assert ids(q=a.reference) == [a.id]
    assert ids(overdue=True) == []
    assert (
        client.get("/api/v1/cases", headers=staff, query_string={"status": "nonsense"}).status_code
        == 422
    )
    mine = client.get(
        "/api/v1/cases", headers=auth.headers(world.a.resident), query_string={"mine": "true"}
    ).get_json()
    assert [c["id"] for c in mine["items"]] == [a.id]
    counts = client.get("/api/v1/cases", headers=staff).get_json()["counts"]
    assert counts["submitted"] == 1 and counts["assigned"] == 1 and counts["open"] == 2
    assert db.session.query(Case).count() == 2


def test_a_relative_whose_link_was_revoked_hears_no_more_of_the_case(client, cats, auth):
    # Filed for the elder by their relative; the elder then ended the link. The relative may
    # not read the case any more, and its news no longer reaches them either.
    from app.models import ProxyLink
    from tests.affairs.conftest import actor, category

    world = cats
    relative = auth.headers(world.a.relative, act_for=world.a.elder)
    r = client.post(
        "/api/v1/cases",
        json={"category_id": category(world.a).id, "description": "楼道灯不亮了"},
        headers=relative,
    )
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    link = db.session.query(ProxyLink).filter_by(proxy_id=world.a.relative.id).one()
    link.status = "revoked"
    db.session.commit()
    workflow.transition(actor(world.a.staff), case_id, "accept", note="已受理")
    db.session.commit()

    def told(person):
        return (
            db.session.query(Notification)
            .filter_by(person_id=person.id, kind="case_status")
            .count()
        )

    assert told(world.a.elder) == 1
    assert told(world.a.relative) == 0
