"""Who may take over an account: a PIN, a phone number, a family link, an easy-mode sign-in.

Committee staff look after the residents of their community. A resident who is also staff
elsewhere (or an administrator) is not theirs: resetting that account's PIN or phone number, or
confirming a family link to it, would hand them the other community's rights.
"""

from __future__ import annotations

import pytest

from app.people import people
from tests import factories as f
from tests.easy.conftest import EasyClient
from tests.web.test_sessions import _browsers_do_not_share_csrf_tokens  # noqa: F401

NEW_PIN = "371592"


def _signs_in_with(client, person, pin: str) -> bool:
    r = client.post("/api/v1/auth/token", json={"login": person.phone, "pin": pin})
    assert r.status_code in (201, 401), r.get_json()
    return r.status_code == 201


@pytest.fixture(params=["committee_staff_of_b", "platform_admin"])
def works_elsewhere(request, world, db):
    """A resident of A who also holds a role beyond A."""
    person = world.a.resident
    if request.param == "committee_staff_of_b":
        people.grant_role(None, person, "committee_staff", community_id=world.b.community.id)
    else:
        people.grant_role(None, person, "platform_admin")
    db.session.commit()
    return person


def test_staff_cannot_reset_the_pin_of_someone_who_works_elsewhere(
    client, world, auth, works_elsewhere
):
    r = client.put(
        f"/api/v1/people/{works_elsewhere.id}/pin",
        json={"pin": NEW_PIN},
        headers=auth.headers(world.a.staff),
    )
    assert r.status_code == 403 and r.get_json()["code"] == 403
    assert not _signs_in_with(client, works_elsewhere, NEW_PIN)
    assert _signs_in_with(client, works_elsewhere, f.PIN)
    # Their own residents' PINs stay theirs to reset; an administrator may reset this one.
    plain = client.put(
        f"/api/v1/people/{world.a.elder.id}/pin",
        json={"pin": NEW_PIN},
        headers=auth.headers(world.a.staff),
    )
    assert plain.status_code == 204 and _signs_in_with(client, world.a.elder, NEW_PIN)
    admin = client.put(
        f"/api/v1/people/{works_elsewhere.id}/pin",
        json={"pin": NEW_PIN},
        headers=auth.headers(world.admin),
    )
    assert admin.status_code == 204 and _signs_in_with(client, works_elsewhere, NEW_PIN)


def test_staff_cannot_change_the_phone_of_someone_who_works_elsewhere(
    client, world, auth, works_elsewhere, db
):
    before = works_elsewhere.phone
    path = f"/api/v1/people/{works_elsewhere.id}"
    staff = auth.headers(world.a.staff)
    r = client.patch(path, json={"phone": "13912345678"}, headers=staff)
    assert r.status_code == 403
    db.session.expire_all()
    assert works_elsewhere.phone == before
    # The rest of the register entry is still theirs to keep.
    assert client.patch(path, json={"birth_year": 1950}, headers=staff).status_code == 200
    plain = client.patch(
        f"/api/v1/people/{world.a.elder.id}", json={"phone": "13912345678"}, headers=staff
    )
    assert plain.status_code == 200 and plain.get_json()["phone"] == "13912345678"


def test_staff_cannot_confirm_their_own_family_link(client, world, auth):
    staff = auth.headers(world.a.staff)
    asked = client.post(
        "/api/v1/proxy-links", json={"resident_phone": world.a.resident.phone}, headers=staff
    )
    assert asked.status_code == 201, asked.get_json()
    link_id = asked.get_json()["id"]
    r = client.post(f"/api/v1/proxy-links/{link_id}/confirm", headers=staff)
    assert r.status_code == 403
    # Nor act for the resident through it.
    acting = client.put(
        f"/api/v1/people/{world.a.resident.id}/pin",
        json={"pin": NEW_PIN},
        headers={**auth.headers(world.a.staff), "X-Act-For": str(world.a.resident.id)},
    )
    assert acting.status_code == 403
    # The resident, or another member of the committee, may confirm it.
    colleague = f.staff("committee_staff", community_id=world.a.community.id)
    ok = client.post(f"/api/v1/proxy-links/{link_id}/confirm", headers=auth.headers(colleague))
    assert ok.status_code == 200 and ok.get_json()["status"] == "confirmed"


def test_staff_cannot_confirm_a_link_to_someone_who_works_elsewhere(
    client, world, auth, works_elsewhere
):
    relative = auth.headers(world.a.relative)
    asked = client.post(
        "/api/v1/proxy-links", json={"resident_phone": works_elsewhere.phone}, headers=relative
    )
    assert asked.status_code == 201
    link_id = asked.get_json()["id"]
    r = client.post(f"/api/v1/proxy-links/{link_id}/confirm", headers=auth.headers(world.a.staff))
    assert r.status_code == 403
    # The person themselves may.
    mine = client.post(
        f"/api/v1/proxy-links/{link_id}/confirm", headers=auth.headers(works_elsewhere)
    )
    assert mine.status_code == 200


def test_a_relative_cannot_reset_the_pin_of_an_account_that_works_elsewhere(
    app, client, world, auth, db
):
    # world.a.relative's link to the elder is confirmed; the elder then joins B's committee.
    people.grant_role(None, world.a.elder, "committee_staff", community_id=world.b.community.id)
    db.session.commit()
    r = client.put(
        f"/api/v1/people/{world.a.elder.id}/pin",
        json={"pin": NEW_PIN},
        headers=auth.headers(world.a.relative, act_for=world.a.elder),
    )
    assert r.status_code == 403
    relative = EasyClient(app.test_client())
    relative.sign_in(world.a.relative)
    page = relative.post(
        f"/easy/family/{world.a.elder.id}/pin", {"pin": NEW_PIN, "pin_again": NEW_PIN}
    )
    assert page.status_code in (403, 422)  # the page says why, in its error lines
    assert not _signs_in_with(client, world.a.elder, NEW_PIN)


def test_own_pin_needs_the_current_one_while_acting_for_someone(client, world, auth):
    # The relative acts for the elder (X-Act-For) and changes their own PIN without the current.
    r = client.put(
        f"/api/v1/people/{world.a.relative.id}/pin",
        json={"pin": NEW_PIN},
        headers=auth.headers(world.a.relative, act_for=world.a.elder),
    )
    assert r.status_code == 422 and "current_pin" in r.get_json()["errors"]
    assert not _signs_in_with(client, world.a.relative, NEW_PIN)
    ok = client.put(
        f"/api/v1/people/{world.a.relative.id}/pin",
        json={"pin": NEW_PIN, "current_pin": f.PIN},
        headers=auth.headers(world.a.relative, act_for=world.a.elder),
    )
    assert ok.status_code == 204 and _signs_in_with(client, world.a.relative, NEW_PIN)


def _home_in_another_grid(community, db):
    """A household in a new grid of `community`, which the side's grid worker does not work."""
    from app.models import Building, Grid, Household

    grid = Grid(community=community, name="另一网格")
    building = Building(community=community, grid=grid, name="9号楼")
    household = Household(building=building, unit="1", room="901")
    db.session.add_all([grid, building, household])
    db.session.flush()
    return household


def test_a_grid_worker_counts_only_the_care_flags_of_their_own_grids(client, world, auth, db):
    a = world.a.community
    household = _home_in_another_grid(a, db)
    f.resident(a, name="王奶奶", care_flags=["lives_alone"], household=household)
    db.session.commit()
    path = f"/api/v1/communities/{a.id}/people?care_flag=lives_alone"
    mine = client.get(path, headers=auth.headers(world.a.grid_worker)).get_json()
    # Only the elder of their own grid: the other grid's flag is neither shown nor counted.
    assert [p["id"] for p in mine["items"]] == [world.a.elder.id]
    assert mine["total"] == 1
    found = client.get(path + "&q=王奶奶", headers=auth.headers(world.a.grid_worker)).get_json()
    assert found["items"] == [] and found["total"] == 0
    # Committee staff see both.
    staff = client.get(path, headers=auth.headers(world.a.staff)).get_json()
    assert staff["total"] == 2
    # A grid worker of community B may not ask in A at all.
    other = client.get(path, headers=auth.headers(world.b.grid_worker))
    assert other.status_code in (403, 404)


def test_phone_digits_find_only_people_whose_number_the_searcher_may_see(client, world, auth, db):
    # A search is an oracle: a masked 138****5678 would come back digit by digit.
    elder, resident = world.a.elder, world.a.resident
    path = f"/api/v1/communities/{world.a.community.id}/people"

    def found(who, q: str) -> set[int]:
        r = client.get(path, query_string={"q": q}, headers=auth.headers(who))
        assert r.status_code == 200, r.get_json()
        return {p["id"] for p in r.get_json()["items"]}

    digits = resident.phone[-6:]
    assert resident.id in found(world.a.staff, digits)
    assert resident.id not in found(world.official, digits)  # reads the register, masked
    assert resident.id in found(world.official, resident.display_name)  # names still find
    # A grid worker: the numbers of their own grid's people only.
    assert resident.id in found(world.a.grid_worker, digits)
    # The elder moves to a grid the worker does not work.
    elder.household = _home_in_another_grid(world.a.community, db)
    db.session.commit()
    assert elder.id not in found(world.a.grid_worker, elder.phone[-6:])
