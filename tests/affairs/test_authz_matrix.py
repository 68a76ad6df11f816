"""Authorization of every community-affairs route: each role in its own community, and every
record of the other community reported as not found.

Written in the shape of tests/api/test_authz_matrix.py (AFFAIRS_ROUTES can be merged into its
ROUTES once that harness resolves these path parameters).
"""

from __future__ import annotations

import io

import pytest

from app.affairs import attachments, counts, open311, workflow
from app.extensions import db
from app.models.notification import Notification
from tests.affairs.conftest import actor, category, image_bytes, submit
from tests.matrix import ANON, ROLES, check_status, expected_status

ALL = frozenset(ROLES)
INTERNAL = frozenset({"staff", "grid_worker", "official", "official_writer", "admin"})
MANAGERS = frozenset({"staff", "official_writer", "admin"})
PERSONS = ALL - {"device"}
WORKERS = MANAGERS | {"grid_worker", "org_member"}


class Scene:
    """Records of one side, made when first needed: a public repair case reported by the side's
    resident and assigned to the side's organization, with a private photo."""

    def __init__(self, world, side):
        self.world, self.side, self._case = world, side, None

    @property
    def case(self):
        if self._case is None:
            self._case = submit(self.side, description="楼道灯不亮")
            workflow.assign_case(
                actor(self.side.staff), self._case.id, organization_id=self.side.organization.id
            )
            db.session.commit()
        return self._case

    def attachment(self):
        row = attachments.store(self.case, attachments.prepare(image_bytes()))
        db.session.commit()
        return row.id

    def other_case(self):
        return submit(self.side, by=self.side.elder, description="同一盏灯").id

    def notification(self):
        self.case  # noqa: B018 (its submission notified the resident)
        return db.session.query(Notification).filter_by(person_id=self.side.resident.id).first().id

    def key(self):
        _plain, row = open311.issue_key(actor(self.side.staff), self.side.community.id, "平台")
        db.session.commit()
        return row.id


PARAMS = {
    "community_id": lambda s: s.side.community.id,
    "case_id": lambda s: s.case.id,
    "attachment_id": lambda s: s.attachment(),
    "category_id": lambda s: category(s.side).id,
    "notification_id": lambda s: s.notification(),
    "key_id": lambda s: s.key(),
}


def R(
    success, allowed, others=403, *, body=None, query=None, files=None, overrides=None, foreign=True
):
    """One route's expectations."""
    return {
        "success": success,
        "allowed": frozenset(allowed),
        "others": others,
        "body": body,
        "query": query,
        "files": files,
        "overrides": overrides or {},
        "foreign": foreign,
    }


CASE = "/api/v1/cases/<case_id>"
AFFAIRS_ROUTES = {
    ("GET", "/api/v1/cases"): R(200, ALL, query=lambda s: {"community_id": s.side.community.id}),
    ("POST", "/api/v1/cases"): R(
        201,
        ALL - {"org_member", "official"},
        body=lambda s: {
            "community_id": s.side.community.id,
            "category_code": "environment",
            "description": "东门垃圾桶满了",
        },
    ),
    ("GET", "/api/v1/cases/similar"): R(
        200,
        ALL,
        query=lambda s: {
            "community_id": s.side.community.id,
            "category_id": category(s.side).id,
            "building_id": s.side.community.buildings[0].id,
        },
    ),
    ("GET", "/api/v1/cases/by-reference"): R(
        200, ALL, query=lambda s: {"reference": s.case.reference}
    ),
    ("GET", "/api/v1/cases/status-text"): R(
        200, ALL, query=lambda s: {"reference": s.case.reference}
    ),
    ("GET", CASE): R(200, ALL),
    ("PATCH", CASE): R(200, MANAGERS, body=lambda s: {"is_public": False}),
    ("POST", CASE + "/transitions"): R(
        200, MANAGERS | {"org_member"}, body=lambda s: {"action": "start"}
    ),
    ("POST", CASE + "/assignment"): R(
        200, MANAGERS, body=lambda s: {"person_id": s.side.grid_worker.id}
    ),
    ("POST", CASE + "/notes"): R(
        201, WORKERS | {"resident"}, body=lambda s: {"text": "补充说明", "public": True}
    ),
    ("POST", CASE + "/merge"): R(200, MANAGERS, body=lambda s: {"into_id": s.other_case()}),
    ("POST", CASE + "/support"): R(200, {"elder", "relative"}),
    ("POST", CASE + "/rating"): R(
        200, set(), body=lambda s: {"rating": 5}, overrides={"resident": 409}
    ),
    ("POST", CASE + "/attachments"): R(
        201,
        WORKERS | {"resident"},
        files=lambda s: {"file": (io.BytesIO(image_bytes()), "p.jpg", "image/jpeg")},
    ),
    ("GET", CASE + "/attachments/<attachment_id>"): R(
        200, INTERNAL | {"org_member", "resident"}, others=404
    ),
    ("PATCH", CASE + "/attachments/<attachment_id>"): R(
        200, MANAGERS, body=lambda s: {"public": True}
    ),
    ("GET", "/api/v1/inbox"): R(200, PERSONS),
    ("GET", "/api/v1/communities/<community_id>/case-counts"): R(200, INTERNAL),
    ("GET", "/api/v1/communities/<community_id>/case-figures"): R(200, ALL),
    ("GET", "/api/v1/communities/<community_id>/case-assignees"): R(200, MANAGERS),
    ("GET", "/api/v1/communities/<community_id>/open311-keys"): R(200, MANAGERS),
    ("POST", "/api/v1/communities/<community_id>/open311-keys"): R(
        201, MANAGERS, body=lambda s: {"name": "区网格化平台"}
    ),
    ("DELETE", "/api/v1/open311-keys/<key_id>"): R(200, MANAGERS),
    ("GET", "/api/v1/communities/<community_id>/case-categories"): R(200, ALL),
    ("POST", "/api/v1/communities/<community_id>/case-categories"): R(
        201, MANAGERS, body=lambda s: {"code": "parking", "name": "停车管理"}
    ),
    ("POST", "/api/v1/communities/<community_id>/case-categories/defaults"): R(201, MANAGERS),
    ("GET", "/api/v1/case-categories/<category_id>"): R(200, ALL),
    ("PATCH", "/api/v1/case-categories/<category_id>"): R(
        200, MANAGERS, body=lambda s: {"deadline_hours": 24}
    ),
    ("GET", "/api/v1/notifications"): R(200, PERSONS),
    ("GET", "/api/v1/notifications/unread-count"): R(200, PERSONS),
    ("POST", "/api/v1/notifications/read-all"): R(200, PERSONS),
    ("POST", "/api/v1/notifications/<notification_id>/read"): R(
        200, {"resident"}, others=404, overrides={"device": 403}
    ),
    ("POST", "/api/v1/notifications/<notification_id>/acknowledge"): R(
        200, {"resident"}, others=404, overrides={"device": 403}
    ),
}
# Routes whose records are all the caller's own: nothing of the other community to name.
NO_FOREIGN = {
    ("GET", "/api/v1/inbox"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/unread-count"),
    ("POST", "/api/v1/notifications/read-all"),
}
BLUEPRINTS = {"cases", "categories", "notifications"}


def _headers(auth, world, role):
    return auth.for_role(world, role)


def _call(client, scene, method, rule, headers, spec):
    path = rule
    for name, resolve in PARAMS.items():
        if f"<{name}>" in path:
            path = path.replace(f"<{name}>", str(resolve(scene)))
    kwargs = {"headers": headers}
    if spec["query"] is not None:
        kwargs["query_string"] = spec["query"](scene)
    if spec["body"] is not None:
        kwargs["json"] = spec["body"](scene)
    if spec["files"] is not None:
        kwargs.update(data=spec["files"](scene), content_type="multipart/form-data")
    db.session.commit()
    return client.open(path, method=method, buffered=True, **kwargs)


def test_matrix_covers_every_affairs_route(app):
    rules = set()
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint not in BLUEPRINTS:
            continue
        plain = rule.rule
        for name in PARAMS:
            plain = plain.replace(f"<id:{name}>", f"<{name}>")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            rules.add((method, plain))
    assert rules == set(AFFAIRS_ROUTES)


OWN = [(m, r, role) for (m, r) in AFFAIRS_ROUTES for role in [ANON, *ROLES]]


@pytest.mark.parametrize(
    ("method", "rule", "role"), OWN, ids=[f"{m} {r} {role}" for m, r, role in OWN]
)
def test_own_community(client, cats, auth, method, rule, role):
    spec = AFFAIRS_ROUTES[(method, rule)]
    response = _call(client, Scene(cats, cats.a), method, rule, _headers(auth, cats, role), spec)
    check_status(response, expected_status(spec, role))


FOREIGN = [
    (m, r, role)
    for (m, r) in AFFAIRS_ROUTES
    if (m, r) not in NO_FOREIGN
    for role in ROLES
    if role != "admin"
]


@pytest.mark.parametrize(
    ("method", "rule", "role"), FOREIGN, ids=[f"{m} {r} {role}" for m, r, role in FOREIGN]
)
def test_other_community_records_are_not_found(client, cats, auth, method, rule, role):
    spec = AFFAIRS_ROUTES[(method, rule)]
    scene = Scene(cats, cats.b)
    scene.case  # noqa: B018 (made before counting)
    before = counts.status_counts(actor(cats.b.staff), cats.b.community.id)
    response = _call(client, scene, method, rule, _headers(auth, cats, role), spec)
    expected = 403 if "notification_id" in rule and role == "device" else 404
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    assert response.get_json()["code"] == expected
    db.session.expire_all()
    after = counts.status_counts(actor(cats.b.staff), cats.b.community.id)
    # Nothing changed on the other side (the merge target is the one case the body adds).
    added = 1 if rule.endswith("/merge") else 0
    assert after["submitted"] == before["submitted"] + added
    assert after["assigned"] == before["assigned"] and after["closed"] == before["closed"]


# --- reach through an organization serving two communities ----------------------------------------
def _shared_case(world):
    """An organization serving both communities, and a case of B (with a private note) it works."""
    from tests import factories

    org = factories.organization(world.a.community, name="两社区共用物业")
    org.communities.append(world.b.community)
    victim = submit(world.b, description="我家门锁坏了，门口密码是 4321")
    workflow.assign_case(actor(world.b.staff), victim.id, organization_id=org.id)
    workflow.add_note(actor(world.b.staff), victim.id, "内部：住户独居", public=False)
    db.session.commit()
    return org, victim


def _grant(client, headers, person, **body):
    return client.post(
        f"/api/v1/people/{person.id}/roles", headers=headers, json={"role": "org_member", **body}
    )


def test_staff_cannot_reach_another_community_through_a_shared_organization(client, cats, auth):
    world = cats
    org, victim = _shared_case(world)
    accomplice = world.a.resident
    staff_a = auth.headers(world.a.staff)
    # Naming the other community, or none (every community the organization serves): refused.
    other = _grant(
        client, staff_a, accomplice, community_id=world.b.community.id, organization_id=org.id
    )
    check_status(other, 404)
    everywhere = _grant(client, staff_a, accomplice, organization_id=org.id)
    check_status(everywhere, 403)
    # Their own community (the organization serves it too): allowed, and it reaches A only.
    granted = _grant(
        client, staff_a, accomplice, community_id=world.a.community.id, organization_id=org.id
    )
    assert granted.status_code == 201, granted.get_json()
    assert granted.get_json()["community_id"] == world.a.community.id
    own = submit(world.a, description="东门灯不亮")
    workflow.assign_case(actor(world.a.staff), own.id, organization_id=org.id)
    db.session.commit()

    them = auth.headers(accomplice)
    path = f"/api/v1/cases/{victim.id}"
    check_status(client.get(path, headers=them), 404)
    check_status(
        client.get(f"/api/v1/cases/by-reference?reference={victim.reference}", headers=them), 404
    )
    check_status(
        client.get(f"/api/v1/cases?community_id={world.b.community.id}", headers=them), 404
    )
    check_status(client.post(path + "/notes", headers=them, json={"text": "已处理"}), 404)
    check_status(client.post(path + "/transitions", headers=them, json={"action": "resolve"}), 404)
    inbox = client.get("/api/v1/inbox", headers=them).get_json()
    assert [c["id"] for c in inbox["items"]] == [own.id]
    # The grant works where it was given: A's case assigned to the organization.
    assert client.get(f"/api/v1/cases/{own.id}", headers=them).status_code == 200
    assert (
        client.post(
            f"/api/v1/cases/{own.id}/transitions", headers=them, json={"action": "start"}
        ).status_code
        == 200
    )
    db.session.expire_all()
    assert db.session.get(type(victim), victim.id).status == "assigned"


def test_a_manager_of_both_communities_grants_membership_in_both(client, cats, auth):
    from app.models import RoleAssignment
    from tests import factories

    world = cats
    org, victim = _shared_case(world)
    # An official with write access over both communities' street offices.
    official = factories.staff(
        "street_official", can_write=True, street_office_id=world.a.community.street_office_id
    )
    official.roles.append(
        RoleAssignment(
            role="street_official",
            can_write=True,
            street_office_id=world.b.community.street_office_id,
        )
    )
    db.session.commit()
    for c in (world.a.community, world.b.community):
        response = _grant(
            client,
            auth.headers(official),
            world.a.resident,
            community_id=c.id,
            organization_id=org.id,
        )
        assert response.status_code == 201, response.get_json()
    # The administrator: organization-wide (every community it serves).
    response = _grant(client, auth.headers(world.admin), world.a.elder, organization_id=org.id)
    assert response.status_code == 201, response.get_json()
    for member in (world.a.resident, world.a.elder):
        seen = client.get(f"/api/v1/cases/{victim.id}", headers=auth.headers(member))
        assert seen.status_code == 200, seen.get_json()
