"""督办 over the API: issue, list, answer; the errors in the one envelope; never to residents."""

from __future__ import annotations

from datetime import timedelta

from app.models.base import utcnow
from tests.affairs.conftest import submit
from tests.affairs.test_supervision import escalated


def _when(hours: float) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


def test_the_full_chain_over_the_api(client, cats, auth):
    world = cats
    case = escalated(world.a)
    url = f"/api/v1/cases/{case.id}/supervisions"
    official = auth.headers(world.official)
    r = client.post(url, headers=official, json={"instruction": "周五前修好", "due_at": _when(72)})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["status"] == "open" and made["overdue"] is False
    assert made["issued_by"] == world.official.display_name and made["reference"] == case.reference
    # The handler (the organization's member) sees it, and answers it.
    listed = client.get(url, headers=auth.headers(world.a.org_member)).get_json()
    assert [s["id"] for s in listed] == [made["id"]]
    r = client.post(
        f"{url}/{made['id']}/fulfilment",
        headers=auth.headers(world.a.org_member),
        json={"note": "已更换灯管"},
    )
    assert r.status_code == 200 and r.get_json()["status"] == "fulfilled"
    assert r.get_json()["fulfilment_note"] == "已更换灯管"
    again = client.post(
        f"{url}/{made['id']}/fulfilment", headers=auth.headers(world.a.staff), json={"note": "再"}
    )
    assert again.status_code == 409 and again.get_json()["code"] == 409
    # The timeline shows both steps to the committee, neither to the reporter.
    staff_view = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.staff))
    kinds = [e["kind"] for e in staff_view.get_json()["timeline"]]
    assert kinds[-2:] == ["supervised", "supervision_fulfilled"]
    mine = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident))
    text = mine.get_data(as_text=True)
    assert "周五前修好" not in text and "已更换灯管" not in text and "supervis" not in text
    assert client.get(url, headers=auth.headers(world.a.resident)).status_code == 403


def test_bad_requests_get_clear_errors(client, cats, auth):
    world = cats
    case = escalated(world.a)
    url = f"/api/v1/cases/{case.id}/supervisions"
    official = auth.headers(world.official)
    cases = [
        ({"instruction": "x", "due_at": _when(-1)}, 422, "due_at"),  # in the past
        ({"instruction": "x", "due_at": "2030-01-01T10:00:00"}, 422, "due_at"),  # no zone
        ({"instruction": "   ", "due_at": _when(5)}, 422, "instruction"),
        ({"due_at": _when(5)}, 422, "instruction"),
        ({"instruction": "x", "due_at": _when(5), "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        r = client.post(url, headers=official, json=body)
        assert r.status_code == status, (body, r.get_json())
        payload = r.get_json()
        assert payload["code"] == status and field in str(payload["errors"]), payload
    calm = submit(world.a)  # within its deadline: not escalated
    r = client.post(
        f"/api/v1/cases/{calm.id}/supervisions",
        headers=official,
        json={"instruction": "x", "due_at": _when(5)},
    )
    assert r.status_code == 409 and r.get_json()["code"] == 409
    foreign = escalated(world.b)
    r = client.post(
        f"/api/v1/cases/{foreign.id}/supervisions",
        headers=official,
        json={"instruction": "x", "due_at": _when(5)},
    )
    assert r.status_code == 404
    r = client.post(
        f"{url}/999/fulfilment", headers=auth.headers(world.a.staff), json={"note": "x"}
    )
    assert r.status_code == 404
