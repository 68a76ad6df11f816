"""One-tap acknowledgements and the follow-up list for grid workers."""

from app.models import AuditLog, Building, Grid, Household
from tests import factories as f


def test_ack_once_and_again(client, auth, world, post):
    item = post(title="燃气检修", priority="urgent")
    h = auth.headers(world.a.resident)
    url = f"/api/v1/announcements/{item['id']}/ack"
    first = client.post(url, headers=h)
    assert first.status_code == 200
    again = client.post(url, headers=h)
    assert again.status_code == 200 and again.get_json()["acked_at"] == first.get_json()["acked_at"]
    got = client.get(f"/api/v1/announcements/{item['id']}", headers=h).get_json()
    assert got["acknowledged"] is True


def test_proxy_acknowledges_for_the_elder(client, auth, world, post):
    item = post(title="燃气检修", priority="urgent")
    h = auth.headers(world.a.relative, act_for=world.a.elder)
    assert client.post(f"/api/v1/announcements/{item['id']}/ack", headers=h).status_code == 200
    follow = client.get(
        f"/api/v1/announcements/{item['id']}/follow-up", headers=auth.headers(world.a.staff)
    ).get_json()
    assert world.a.elder.id not in {p["person_id"] for p in follow["pending"]}


def test_only_the_audience_can_acknowledge(client, auth, world, post, db):
    b = Building(community=world.a.community, name="8号楼")
    h = Household(building=b, unit="1", room="101")
    db.session.add_all([b, h])
    db.session.flush()
    outsider = f.resident(world.a.community, household=h)
    db.session.commit()
    item = post(
        title="一号楼停电", priority="urgent", building_ids=[world.a.community.buildings[0].id]
    )
    url = f"/api/v1/announcements/{item['id']}/ack"
    assert client.post(url, headers=auth.headers(outsider)).status_code == 404
    assert client.post(url, headers=auth.headers(world.a.staff)).status_code == 403
    assert client.post(url, headers=auth.headers(device=world.a.device)).status_code == 403


def _people(db, world):
    c = world.a.community
    home = c.buildings[0].households[0]
    return {
        "alone_1950": f.resident(
            c, name="独居甲", care_flags=["lives_alone"], birth_year=1950, household=home
        ),
        "old_1930": f.resident(c, name="长者乙", birth_year=1930, household=home),
        "alone_1945": f.resident(
            c, name="独居丙", care_flags=["lives_alone"], birth_year=1945, household=home
        ),
        "unknown": f.resident(c, name="无年份丁", household=home),
    }


def test_follow_up_puts_elderly_living_alone_first_then_the_oldest(client, auth, world, post, db):
    people = _people(db, world)
    db.session.commit()
    item = post(title="燃气检修", priority="urgent")
    client.post(f"/api/v1/announcements/{item['id']}/ack", headers=auth.headers(world.a.resident))
    r = client.get(
        f"/api/v1/announcements/{item['id']}/follow-up", headers=auth.headers(world.a.staff)
    )
    assert r.status_code == 200
    body = r.get_json()
    order = [p["person_id"] for p in body["pending"]]
    # world.a.elder lives alone, born 1940.
    assert order == [
        world.a.elder.id,
        people["alone_1945"].id,
        people["alone_1950"].id,
        people["old_1930"].id,
        people["unknown"].id,
    ]
    assert world.a.resident.id not in order  # acknowledged
    assert body["audience"] == len(order) + 1 and body["acknowledged"] == 1
    first = body["pending"][0]
    assert first["phone"] == world.a.elder.phone and first["lives_alone"] is True
    # Reading contacts and care flags is recorded.
    entry = (
        db.session.query(AuditLog)
        .filter_by(action="read", target_type="announcement_follow_up")
        .one()
    )
    assert entry.actor_person_id == world.a.staff.id
    assert entry.detail["fields"] == ["care_flags", "phone"]


def test_follow_up_privacy_by_role(client, auth, world, post, db):
    people = _people(db, world)
    other_grid = Grid(community=world.a.community, name="第二网格")
    db.session.add(other_grid)
    db.session.flush()
    other_worker = f.staff("grid_worker", grid_id=other_grid.id)
    db.session.commit()
    item = post(title="燃气检修", priority="urgent")
    url = f"/api/v1/announcements/{item['id']}/follow-up"
    # The grid worker of these residents sees them with phones.
    mine = client.get(url, headers=auth.headers(world.a.grid_worker)).get_json()
    assert {p["person_id"] for p in mine["pending"]} >= {p.id for p in people.values()}
    assert all("****" not in (p["phone"] or "") for p in mine["pending"])
    # Another grid's worker sees nobody of this grid.
    assert client.get(url, headers=auth.headers(other_worker)).get_json()["pending"] == []
    # A street official sees the list but masked, without care flags, and not ordered by them.
    official = client.get(url, headers=auth.headers(world.official)).get_json()["pending"]
    assert official and all("****" in p["phone"] for p in official)
    assert all(
        p["care_flags"] is None and p["lives_alone"] is None and p["birth_year"] is None
        for p in official
    )
    assert [p["person_id"] for p in official] == sorted(p["person_id"] for p in official)
    for who in (world.a.resident, world.a.org_member):
        assert client.get(url, headers=auth.headers(who)).status_code == 403
    assert client.get(url, headers=auth.headers(device=world.a.device)).status_code == 403
    assert client.get(url, headers=auth.headers(world.b.staff)).status_code == 404


def test_the_overviews_elders_to_follow_up_in_a_fixed_number_of_queries(
    client, auth, world, post, db
):
    from app.affairs.overview import elder_follow_ups
    from app.notices.acknowledgements import follow_up
    from app.people.actors import Actor
    from tests.affairs.test_query_count import statements

    people = _people(db, world)
    worker = Actor.for_person(world.a.grid_worker)
    db.session.commit()

    def expected() -> list[tuple[int, list[int]]]:
        """What each announcement's own follow-up says, gathered per elder (not recorded)."""
        rows: dict[int, list[int]] = {}
        for item in sorted(items, key=lambda i: -i["id"]):
            for row in follow_up(worker, item["id"])["pending"]:
                if row["lives_alone"]:
                    rows.setdefault(row["person_id"], []).append(item["id"])
        db.session.rollback()
        return list(rows.items())

    def run() -> tuple[list, list[str]]:
        assert worker.person.id  # the signed-in person is loaded, as in a request
        with statements() as seen:
            found = elder_follow_ups(worker)
        db.session.commit()
        return [(r["person_id"], [a["id"] for a in r["announcements"]]) for r in found], seen

    items = [post(title=f"燃气检修{n}", priority="urgent") for n in range(2)]
    post(title="普通通知")  # not urgent: not followed up
    # The elder acknowledged the first one.
    assert (
        client.post(
            f"/api/v1/announcements/{items[0]['id']}/ack", headers=auth.headers(world.a.elder)
        ).status_code
        == 200
    )
    run()  # the worker's roles load once, as in any request
    recorded = db.session.query(AuditLog).filter_by(
        action="read", target_type="announcement_follow_up", target_id=None
    )
    before = recorded.count()
    found, few = run()
    assert found == expected()
    # Living alone, the oldest first; the elder only for the one not acknowledged.
    assert found == [
        (world.a.elder.id, [items[1]["id"]]),
        (people["alone_1945"].id, [items[1]["id"], items[0]["id"]]),
        (people["alone_1950"].id, [items[1]["id"], items[0]["id"]]),
    ]
    # One audit entry per load (one community), with what was shown.
    entries = recorded.order_by(AuditLog.id).all()
    assert len(entries) == before + 1
    assert entries[-1].community_id == world.a.community.id
    assert entries[-1].actor_person_id == world.a.grid_worker.id
    assert entries[-1].detail == {
        "fields": ["care_flags", "phone"],
        "announcement_ids": sorted(i["id"] for i in items),
    }
    # Three times the announcements, the same statements: announcements, residents, acks.
    items += [post(title=f"停电{n}", priority="urgent") for n in range(4)]
    found, many = run()
    assert found == expected()
    assert all(len(ids) == 6 for pid, ids in found if pid != world.a.elder.id)
    assert len(many) == len(few) == 3, many
