"""Who sees which announcement: residents by building/grid, workers everything of their community,
another community nothing (404)."""

from app.models import Building, Household
from tests import factories as f


def _second_building(db, community, grid=None):
    b = Building(community=community, grid=grid, name="2号楼")
    db.session.add(b)
    h = Household(building=b, unit="1", room="201")
    db.session.add(h)
    db.session.flush()
    return b, h


def _titles(client, headers, **query):
    r = client.get("/api/v1/announcements", headers=headers, query_string=query)
    assert r.status_code == 200, r.get_json()
    return {a["title"] for a in r.get_json()["items"]}


def test_residents_see_what_reaches_their_building(client, auth, world, post, db):
    a = world.a
    other_building, other_home = _second_building(db, a.community)
    neighbour = f.resident(a.community, household=other_home)
    db.session.commit()
    post(title="全社区")
    post(title="一号楼", building_ids=[a.community.buildings[0].id])
    post(title="二号楼", building_ids=[other_building.id])
    post(title="第一网格", grid_ids=[a.community.grids[0].id])
    post(title="只在大屏", channels=["kiosk"])
    post(title="草稿", draft=True)
    mine = _titles(client, auth.headers(a.resident))
    assert mine == {"全社区", "一号楼", "第一网格"}
    theirs = _titles(client, auth.headers(neighbour))
    assert theirs == {"全社区", "二号楼"}  # building 2 has no grid
    # Staff see everything of their community, drafts too.
    assert _titles(client, auth.headers(a.staff)) == {
        "全社区",
        "一号楼",
        "二号楼",
        "第一网格",
        "只在大屏",
        "草稿",
    }
    assert _titles(client, auth.headers(a.staff), status="draft") == {"草稿"}


def test_a_resident_outside_the_audience_gets_404(client, auth, world, post, db):
    other_building, other_home = _second_building(db, world.a.community)
    neighbour = f.resident(world.a.community, household=other_home)
    db.session.commit()
    item = post(title="一号楼", building_ids=[world.a.community.buildings[0].id])
    url = f"/api/v1/announcements/{item['id']}"
    assert client.get(url, headers=auth.headers(world.a.resident)).status_code == 200
    assert client.get(url, headers=auth.headers(neighbour)).status_code == 404


def test_another_community_learns_nothing(client, auth, world, post):
    item = post(title="A 的公告")
    draft = post(title="A 的草稿", draft=True)
    for who in (world.b.resident, world.b.staff, world.b.grid_worker, world.office_b_official):
        h = auth.headers(who)
        assert "A 的公告" not in _titles(client, h)
        for target in (item, draft):
            base = f"/api/v1/announcements/{target['id']}"
            assert client.get(base, headers=h).status_code == 404
            assert client.patch(base, json={"title": "x"}, headers=h).status_code == 404
            assert client.post(base + "/withdraw", headers=h).status_code == 404
            assert client.post(base + "/ack", headers=h).status_code == 404
            assert client.get(base + "/follow-up", headers=h).status_code == 404
            assert client.get(base + "/revisions", headers=h).status_code == 404
        r = client.get(
            "/api/v1/announcements", headers=h, query_string={"community_id": world.a.community.id}
        )
        assert r.status_code == 404
    assert client.get(f"/api/v1/announcements/{item['id']}").status_code == 401


def test_residents_never_learn_of_drafts(client, auth, world, post):
    draft = post(title="草稿", draft=True)
    h = auth.headers(world.a.resident)
    base = f"/api/v1/announcements/{draft['id']}"
    assert client.get(base, headers=h).status_code == 404
    assert client.patch(base, json={"title": "x"}, headers=h).status_code == 404
    assert client.get(base + "/revisions", headers=h).status_code == 404
    assert client.get(base + "/follow-up", headers=h).status_code == 404
    assert client.post(base + "/publish", headers=h).status_code == 404


def test_family_proxy_reads_for_the_elder(client, auth, world, post):
    post(title="给老人的通知", building_ids=[world.a.community.buildings[0].id])
    h = auth.headers(world.a.relative, act_for=world.a.elder)
    assert _titles(client, h) == {"给老人的通知"}
    # Without acting for anyone the relative lives nowhere in the community.
    assert _titles(client, auth.headers(world.a.relative)) == set()


def test_residents_see_no_author(client, auth, world, post):
    item = post()
    r = client.get(f"/api/v1/announcements/{item['id']}", headers=auth.headers(world.a.resident))
    assert "created_by_id" not in r.get_json()
