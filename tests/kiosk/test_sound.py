"""A screen reports whether it can make sound by itself (the browser's autoplay policy): the
heartbeat's `sound` is stored, shown to the community's staff (API and Screens page) and nobody
else, and anything but ok / blocked / unknown is refused."""

from __future__ import annotations

import pytest

from app.models.kiosk import DeviceState
from tests.pages import staff_login


@pytest.fixture()
def screen(auth, world):
    """Bearer headers of community A's screen."""
    return auth.headers(device=world.a.device)


def _status(client, auth, world, person=None):
    url = f"/api/v1/communities/{world.a.community.id}/devices/status"
    return client.get(url, headers=auth.headers(person or world.a.staff))


def test_sound_is_stored_and_shown_to_staff(client, screen, auth, world, db):
    row = _status(client, auth, world).get_json()[0]
    assert row["sound"] == "unknown"  # never said
    for value in ("blocked", "ok", "unknown", "blocked"):
        r = client.post("/kiosk/api/heartbeat", headers=screen, json={"version": 0, "sound": value})
        assert r.status_code == 200, r.get_json()
        assert db.session.get(DeviceState, world.a.device.id).sound == value
        assert _status(client, auth, world).get_json()[0]["sound"] == value
    # A heartbeat without the field leaves it as it was.
    assert client.post("/kiosk/api/heartbeat", headers=screen, json={}).status_code == 200
    assert db.session.get(DeviceState, world.a.device.id).sound == "blocked"


@pytest.mark.parametrize("bad", ["OK", "muted", "", "ok ", 1, True, ["ok"], {"v": "ok"}])
def test_other_sound_values_are_refused_in_the_one_envelope(client, screen, world, db, bad):
    r = client.post("/kiosk/api/heartbeat", headers=screen, json={"sound": bad})
    assert r.status_code == 422
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 422 and "sound" in body["errors"]
    state = db.session.get(DeviceState, world.a.device.id)
    assert state is None or state.sound is None


def test_the_service_refuses_unknown_values_too(app, world, db):
    from app.infra.errors import Invalid
    from app.people.actors import Actor
    from app.screens import kiosk

    with pytest.raises(Invalid) as caught:
        kiosk.heartbeat(Actor.for_device(world.a.device), sound="loud")
    assert "sound" in caught.value.errors


def test_screens_page_has_a_sound_column(app, client, screen, world):
    device = app.test_client()  # the screen: its own client, no staff cookie
    device.post("/kiosk/api/heartbeat", headers=screen, json={"sound": "blocked"})
    staff_login(client, world.a.staff)
    page = client.get("/staff/devices").get_data(as_text=True)
    assert '<th scope="col">声音</th>' in page
    assert "被浏览器阻止" in page and 'data-sound="blocked"' in page
    r = device.post("/kiosk/api/heartbeat", headers=screen, json={"sound": "ok"})
    assert r.status_code == 200, r.get_json()
    page = client.get("/staff/devices").get_data(as_text=True)
    assert 'data-sound="ok"' in page and "被浏览器阻止" not in page
    assert "正常" in page
    english = client.get("/staff/devices?lang=en").get_data(as_text=True)
    assert '<th scope="col">Sound</th>' in english and "Sound works" in english
    edit = client.get(f"/staff/devices/{world.a.device.id}/edit").get_data(as_text=True)
    assert "声音: 正常" in edit


def test_another_communitys_staff_cannot_see_it(client, screen, auth, world):
    client.post("/kiosk/api/heartbeat", headers=screen, json={"sound": "blocked"})
    assert _status(client, auth, world, world.b.staff).status_code == 404
    assert _status(client, auth, world, world.a.resident).status_code == 403
    staff_login(client, world.b.staff)
    page = client.get(f"/staff/devices?community_id={world.a.community.id}")
    assert page.status_code in (403, 404)
    assert "被浏览器阻止" not in page.get_data(as_text=True)
    own = client.get("/staff/devices").get_data(as_text=True)
    assert world.a.device.name not in own and "被浏览器阻止" not in own
