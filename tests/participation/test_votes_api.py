"""The consultations API: residents (and a family proxy) vote, the committee manages."""

from __future__ import annotations

from app.extensions import db
from app.models import Building, Household
from tests import factories


def _open(client, auth, side, **body):
    body = {"title": "加装电梯", "options": ["同意", "不同意", "弃权"], **body}
    r = client.post("/api/v1/consultations", json=body, headers=auth.headers(side.staff))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_resident_votes_and_changes_then_close_is_409(client, auth, world):
    c = _open(client, auth, world.a)
    me = auth.headers(world.a.resident)
    listed = client.get("/api/v1/consultations?open_only=true", headers=me).get_json()
    assert [x["id"] for x in listed] == [c["id"]] and listed[0]["can_vote"]
    assert "一户一票" in listed[0]["rule"]  # the default language: Chinese
    url = f"/api/v1/consultations/{c['id']}/votes"
    r = client.post(url, json={"position": 1}, headers=me)
    assert r.status_code == 200 and r.get_json()["replaced"] is False
    r = client.post(url, json={"option_id": c["options"][1]["id"]}, headers=me)
    body = r.get_json()
    assert body["replaced"] is True and body["consultation"]["my_vote"]["position"] == 2
    assert client.post(url, json={}, headers=me).status_code == 422
    r = client.post(f"/api/v1/consultations/{c['id']}/close", headers=auth.headers(world.a.staff))
    assert r.status_code == 200 and r.get_json()["status"] == "closed"
    r = client.post(url, json={"position": 1}, headers=me)
    assert r.status_code == 409 and r.get_json()["code"] == 409
    results = client.get(f"/api/v1/consultations/{c['id']}/results", headers=me).get_json()
    assert [o["votes"] for o in results["options"]] == [0, 1, 0]


def test_a_proxy_votes_for_the_elder_and_replaces_the_household_vote(client, auth, world):
    c = _open(client, auth, world.a)
    url = f"/api/v1/consultations/{c['id']}/votes"
    client.post(url, json={"position": 1}, headers=auth.headers(world.a.resident))
    proxy = auth.headers(world.a.relative, act_for=world.a.elder)
    r = client.post(url, json={"position": 3}, headers=proxy)
    assert r.status_code == 200 and r.get_json()["replaced"] is True
    mine = r.get_json()["consultation"]["my_vote"]
    assert mine["by_me"] is True and mine["position"] == 3
    seen = client.get(f"/api/v1/consultations/{c['id']}", headers=auth.headers(world.a.resident))
    assert seen.get_json()["my_vote"]["by_me"] is False  # another member changed it
    assert (
        client.post(url, json={"position": 1}, headers=auth.headers(world.a.relative)).status_code
        == 404
    )


def test_scope_and_other_community(client, auth, world):
    side = world.a
    b2 = Building(community=side.community, name="2号楼")
    h2 = Household(building=b2, unit="1", room="303")
    db.session.add_all([b2, h2])
    db.session.flush()
    neighbour = factories.resident(side.community, household=h2)
    db.session.commit()
    c = _open(client, auth, side, scope="building", building_id=side.community.buildings[0].id)
    url = f"/api/v1/consultations/{c['id']}/votes"
    assert (
        client.post(url, json={"position": 1}, headers=auth.headers(neighbour)).status_code == 404
    )
    assert (
        client.post(url, json={"position": 1}, headers=auth.headers(world.b.resident)).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/consultations/{c['id']}/results", headers=auth.headers(world.b.staff)
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/consultations/{c['id']}/close", headers=auth.headers(world.b.staff)
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/consultations/{c['id']}/close", headers=auth.headers(side.resident)
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/consultations/{c['id']}/close", headers=auth.headers(side.grid_worker)
        ).status_code
        == 403
    )
    r = client.post(
        "/api/v1/consultations",
        json={"title": "x", "community_id": side.community.id},
        headers=auth.headers(world.b.staff),
    )
    assert r.status_code == 404


def test_decision_and_comments(client, auth, world):
    c = _open(client, auth, world.a, invited=["property"])
    staff = auth.headers(world.a.staff)
    r = client.post(
        f"/api/v1/consultations/{c['id']}/comments",
        json={"body": "物业支持"},
        headers=auth.headers(world.a.org_member),
    )
    assert r.status_code == 201 and r.get_json()["party"] == "property"
    assert "display_name" not in r.get_json() and "author_id" not in r.get_json()
    r = client.put(
        f"/api/v1/consultations/{c['id']}/decision", json={"decision": "加装"}, headers=staff
    )
    assert r.status_code == 409
    client.post(f"/api/v1/consultations/{c['id']}/close", headers=staff)
    r = client.put(
        f"/api/v1/consultations/{c['id']}/decision",
        json={"decision": "同意加装", "minutes": "到会30户"},
        headers=staff,
    )
    assert r.status_code == 200 and r.get_json()["status"] == "decided"
    assert r.get_json()["announcement_id"]


def test_proposal_and_seconds(client, auth, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "CONSULTATION_SECONDS", 1)
    r = client.post(
        "/api/v1/consultations/proposals",
        json={"title": "小区停车改造"},
        headers=auth.headers(world.a.resident),
    )
    assert r.status_code == 201 and r.get_json()["status"] == "open"
    assert [o["label"] for o in r.get_json()["options"]] == ["同意", "不同意", "弃权"]
