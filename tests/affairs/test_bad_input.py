"""Every affairs write refuses hostile text and wrong types with a 4xx envelope, storing nothing."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models.case import Case, CaseCategory, CaseEvent
from app.models.open311 import Open311Key
from tests.affairs.conftest import submit

HOSTILE = ["\x00", "a\x00b", "\u202eevil", "x" * 10_000, "\u2067x", "bell\x07"]
WRONG = [None, 12, 1.5, True, [], {}, ["a"], {"a": 1}, 2**70, -1]


def _state():
    return (
        db.session.query(Case).count(),
        db.session.query(CaseEvent).count(),
        db.session.query(CaseCategory).count(),
        db.session.query(Open311Key).count(),
    )


WRITES = [
    ("POST", "/api/v1/cases/{case}/notes", {"text": "说明", "public": True}),
    ("POST", "/api/v1/cases/{case}/transitions", {"action": "reject", "reason": "不归社区管"}),
    ("POST", "/api/v1/cases/{case}/transitions", {"action": "accept", "note": "已受理"}),
    ("POST", "/api/v1/cases/{case}/assignment", {"person_id": "{worker}", "note": "尽快"}),
    ("POST", "/api/v1/cases/{case}/merge", {"into_reference": "{other_ref}", "note": "重复"}),
    ("PATCH", "/api/v1/cases/{case}", {"address": "东门", "is_public": True}),
    (
        "POST",
        "/api/v1/communities/{community}/case-categories",
        {"code": "parking", "name": "停车", "notice": "请勿占用消防通道"},
    ),
    ("PATCH", "/api/v1/case-categories/{category}", {"name": "报修", "description": "水电"}),
    ("POST", "/api/v1/communities/{community}/open311-keys", {"name": "平台"}),
]


def _fill(value, ids):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


@pytest.mark.parametrize(
    ("method", "path", "good"), WRITES, ids=[f"{m} {p} {sorted(g)[0]}" for m, p, g in WRITES]
)
def test_hostile_values_and_wrong_types(client, cats, auth, method, path, good):
    case, other = submit(cats.a), submit(cats.a, by=cats.a.elder)
    ids = {
        "case": case.id,
        "worker": cats.a.grid_worker.id,
        "other_ref": other.reference,
        "community": cats.a.community.id,
        "category": db.session.query(CaseCategory)
        .filter_by(community_id=cats.a.community.id)
        .first()
        .id,
    }
    url = path.format(**ids)
    body = {k: _fill(v, ids) for k, v in good.items()}
    headers = auth.headers(cats.a.staff)
    before = _state()
    for field in body:
        for value in HOSTILE + [[], {}, ["a"], {"a": 1}]:
            r = client.open(url, method=method, json={**body, field: value}, headers=headers)
            assert 400 <= r.status_code < 500, (field, repr(value)[:30], r.status_code)
            assert r.get_json()["code"] == r.status_code
    db.session.expire_all()
    assert _state() == before
    for field in body:
        for value in WRONG:  # some are legal (null, a boolean): none may crash
            r = client.open(url, method=method, json={**body, field: value}, headers=headers)
            assert r.status_code < 500, (field, repr(value)[:30])
    before = _state()
    for raw in ["{bad", "[1,2", "\x00", "null", "[]", '"text"', "1", "{" * 5000]:
        r = client.open(
            url, method=method, data=raw, content_type="application/json", headers=headers
        )
        assert r.status_code in (400, 422), raw[:10]
    r = client.open(url, method=method, json={**body, "surprise": 1}, headers=headers)
    assert r.status_code == 422 and "surprise" in r.get_json()["errors"]
    db.session.expire_all()
    assert _state() == before


def test_answers_to_a_multiple_choice_question_must_be_option_keys(client, cats, auth):
    # [["a"]] could not even be put in a set: it was a 500.
    from app.affairs import categories
    from tests.affairs.conftest import actor

    categories.create_category(
        actor(cats.a.staff),
        cats.a.community.id,
        code="kinds",
        name="多选",
        attributes=[
            {
                "code": "kinds",
                "datatype": "multivaluelist",
                "description": "哪些？",
                "values": [{"key": "a", "name": "甲"}, {"key": "b", "name": "乙"}],
            }
        ],
    )
    db.session.commit()
    headers = auth.headers(cats.a.resident)
    before = _state()
    for answer in ([["a"]], [{}], [1], ["a", ["b"]], ["c"], {"a": 1}):
        r = client.post(
            "/api/v1/cases",
            json={
                "category_code": "kinds",
                "description": "楼道灯",
                "attributes": {"kinds": answer},
            },
            headers=headers,
        )
        assert r.status_code == 422, (answer, r.get_json())
        assert "attributes" in r.get_json()["errors"]
    db.session.expire_all()
    assert _state() == before
    ok = client.post(
        "/api/v1/cases",
        json={
            "category_code": "kinds",
            "description": "楼道灯",
            "attributes": {"kinds": ["a", "b"]},
        },
        headers=headers,
    )
    assert ok.status_code == 201, ok.get_json()
