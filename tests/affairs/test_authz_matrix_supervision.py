"""Authorization of the 督办 routes (tests/api/test_authz_matrix.py finds SUPERVISION_ROUTES): each
role on an escalated case of its own community (assigned to the community's organization, with an
open 督办), and the other community's case reported as not found to everyone but the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.affairs import supervision, workflow
from app.affairs.deadlines import evaluate_case
from app.extensions import db
from app.models.base import utcnow
from app.models.supervision import CaseSupervision
from tests.affairs.conftest import actor, backdate, submit
from tests.matrix import ANON, ROLES, check_status, expected_status

READERS = frozenset({"staff", "grid_worker", "org_member", "official", "official_writer", "admin"})
OFFICIALS = frozenset({"official", "official_writer"})
ANSWERERS = frozenset({"staff", "official_writer", "admin", "org_member"})


def _scene(side, official):
    case = submit(side, description="楼道灯不亮")
    workflow.assign_case(actor(side.staff), case.id, organization_id=side.organization.id)
    db.session.commit()
    backdate(case, due_at=timedelta(days=4))
    evaluate_case(case)
    item = supervision.supervise_case(
        actor(official), case.id, instruction="三日内修好", due_at=utcnow() + timedelta(days=3)
    )
    db.session.commit()
    return case, item


def _future() -> str:
    return (utcnow() + timedelta(days=2)).isoformat()


BASE = "/api/v1/cases/<case_id>/supervisions"
SUPERVISION_ROUTES = {
    ("GET", BASE): (200, READERS, None),
    ("POST", BASE): (201, OFFICIALS, lambda: {"instruction": "请尽快处理", "due_at": _future()}),
    ("POST", BASE + "/<supervision_id>/fulfilment"): (200, ANSWERERS, lambda: {"note": "已修好"}),
}


def _call(client, headers, method, rule, case, item, body):
    path = rule.replace("<case_id>", str(case.id)).replace("<supervision_id>", str(item.id))
    return client.open(path, method=method, headers=headers, json=body() if body else None)


OWN = [(m, r, role) for (m, r) in SUPERVISION_ROUTES for role in [ANON, *ROLES]]


@pytest.mark.parametrize(
    ("method", "rule", "role"), OWN, ids=[f"{m} {r} {role}" for m, r, role in OWN]
)
def test_own_community(client, cats, auth, method, rule, role):
    success, allowed, body = SUPERVISION_ROUTES[(method, rule)]
    case, item = _scene(cats.a, cats.official)
    response = _call(client, auth.for_role(cats, role), method, rule, case, item, body)
    check_status(response, expected_status({"success": success, "allowed": allowed}, role))
    if response.status_code < 300 and method == "GET":
        assert [row["instruction"] for row in response.get_json()] == ["三日内修好"]


FOREIGN = [(m, r, role) for (m, r) in SUPERVISION_ROUTES for role in ROLES if role != "admin"]


@pytest.mark.parametrize(
    ("method", "rule", "role"), FOREIGN, ids=[f"{m} {r} {role}" for m, r, role in FOREIGN]
)
def test_other_community_records_are_not_found(client, cats, auth, method, rule, role):
    _success, _allowed, body = SUPERVISION_ROUTES[(method, rule)]
    case, item = _scene(cats.b, cats.office_b_official)
    response = _call(client, auth.for_role(cats, role), method, rule, case, item, body)
    check_status(response, 404)
    db.session.expire_all()
    assert db.session.get(CaseSupervision, item.id).status == "open"
    assert db.session.query(CaseSupervision).count() == 1
