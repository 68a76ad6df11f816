"""Text hygiene (issue #9): lone surrogates and C1 controls never reach the database; names made
only of invisible characters are refused on every path that sets a name; bidi marks and
zero-width spaces are dropped from names."""

from __future__ import annotations

import pytest

from app.infra.errors import Invalid
from app.infra.text import clean_name, clean_text
from app.models import Device, Organization, Person
from app.people import people
from app.people.actors import Actor
from tests import factories as f

INVISIBLE_NAMES = [
    "\u200b",
    "\u200c\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u2028",
    "\u2029",
    "\x85",
    "\x9f",
    "\u0301",
    "\u0301\u0308",
    " \u200b \u200f ",
    "\u3164",
    "\u2800",
    "\u200b\u3000\u200d",
]


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", "\udc00x", "a\x80b", "a\x9fb"])
def test_clean_text_refuses_lone_surrogates_and_c1_controls(value):
    for multiline in (False, True):
        with pytest.raises(Invalid):
            clean_text(value, "description", max_length=100, multiline=multiline)


def test_line_separators_are_line_breaks():
    assert (
        clean_text("一\u2028二\u2029三\x85四", "d", max_length=20, multiline=True)
        == "一\n二\n三\n四"
    )
    with pytest.raises(Invalid):
        clean_text("一\u2028二", "title", max_length=20)


@pytest.mark.parametrize("value", INVISIBLE_NAMES)
def test_invisible_names_are_refused(value):
    with pytest.raises(Invalid) as caught:
        clean_name(value, "display_name", max_length=80)
    assert "display_name" in caught.value.errors


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("\u200f王奶奶\u200e", "王奶奶"),
        ("王\u200b奶奶", "王奶奶"),
        ("\ufeffLi Lei", "Li Lei"),
        ("Zoë", "Zoë"),
        ("Zoe\u0308", "Zoë"),
        ("👩\u200d👩\u200d👧", "👩\u200d👩\u200d👧"),
        ("A", "A"),
        ("7", "7"),
        ("李·明", "李·明"),
    ],
)
def test_names_lose_bidi_marks_and_zero_width_spaces(raw, kept):
    assert clean_name(raw, "display_name", max_length=80) == kept


def test_a_lone_surrogate_never_reaches_the_database(world, db):
    """PostgreSQL refuses a lone surrogate (a 500 before); it stops at the service."""
    staff = Actor.for_person(world.a.staff)
    for value in ("\ud800", "王\udc00"):
        with pytest.raises(Invalid):
            people.update_person(staff, world.a.resident.id, {"display_name": value})
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Person, world.a.resident.id).display_name == world.a.resident.display_name


@pytest.fixture()
def staff(world, auth):
    return auth.headers(world.a.staff)


def _refused(response, field):
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "name", ["\u200b\u200d", "\u202e", "\u2028", "\x85\x9f", "\u0301", "\u200f\u200e"]
)
def test_every_path_that_sets_a_name_refuses_invisible_ones(
    client, world, auth, staff, db, runner, name
):
    community = world.a.community.id
    people_before = db.session.query(Person).count()
    # Joining with an invitation.
    code = client.post(
        f"/api/v1/communities/{community}/invitations", json={}, headers=staff
    ).get_json()["code"]
    _refused(
        client.post(
            "/api/v1/auth/join",
            json={"code": code, "display_name": name, "phone": f.phone(), "pin": "258147"},
        ),
        "display_name",
    )
    # Staff register a resident, and rename one.
    _refused(
        client.post(
            f"/api/v1/communities/{community}/people",
            headers=staff,
            json={"display_name": name, "phone": f.phone(), "pin": "258147"},
        ),
        "display_name",
    )
    _refused(
        client.patch(
            f"/api/v1/people/{world.a.resident.id}", headers=staff, json={"display_name": name}
        ),
        "display_name",
    )
    # A person renames themself.
    _refused(
        client.patch(
            "/api/v1/me", headers=auth.headers(world.a.resident), json={"display_name": name}
        ),
        "display_name",
    )
    # Screens, organizations, the community itself.
    _refused(
        client.post(
            f"/api/v1/communities/{community}/devices",
            headers=staff,
            json={"name": name, "orientation": "portrait"},
        ),
        "name",
    )
    _refused(
        client.post(
            f"/api/v1/communities/{community}/organizations",
            headers=staff,
            json={"name": name, "kind": "property"},
        ),
        "name",
    )
    _refused(
        client.patch(f"/api/v1/communities/{community}", headers=staff, json={"name": name}), "name"
    )
    # flask create-user.
    result = runner.invoke(
        args=[
            "create-user",
            "--username",
            "ghost",
            "--name",
            name,
            "--password",
            "a-long-password",
            "--role",
            "platform_admin",
        ]
    )
    assert result.exit_code != 0
    db.session.expire_all()
    assert db.session.query(Person).count() == people_before
    assert db.session.get(Person, world.a.resident.id).display_name == world.a.resident.display_name
    assert db.session.query(Device).filter(Device.name == name).count() == 0
    assert db.session.query(Organization).filter(Organization.name == name).count() == 0


def test_bidi_marks_are_dropped_from_names_set_through_the_api(client, world, auth, db):
    r = client.patch(
        "/api/v1/me",
        headers=auth.headers(world.a.resident),
        json={"display_name": "\u200f王\u200b奶奶\u200e"},
    )
    assert r.status_code == 200, r.get_json()
    db.session.expire_all()
    assert db.session.get(Person, world.a.resident.id).display_name == "王奶奶"
