"""Sign-ins end on the server: sign-out, a new PIN, an account turned off, expiry.

The cookies carry a random key of a recorded sign-in (web_session), never the person's id, so
a copy of them stops working once the sign-in ends.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models import WebSession
from app.models.base import utcnow
from app.people.auth import hash_secret
from tests import factories as f
from tests.easy.conftest import EasyClient, csrf_of
from tests.pages import csrf_token, staff_login

COOKIES = ("session", "remember_token")


@pytest.fixture(autouse=True)
def _browsers_do_not_share_csrf_tokens(monkeypatch):
    # Requests of a test share one app context (and g), where Flask-WTF keeps the token it
    # made for a session: forget it before each request, since these tests use several clients.
    from flask import g
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def open_(self, *args, **kwargs):
        g.pop("csrf_token", None)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FlaskClient, "open", open_)


def _jar(client) -> dict[str, str]:
    jar = {}
    for name in COOKIES:
        cookie = client.get_cookie(name)
        if cookie is not None:
            jar[name] = cookie.value
    return jar


def _replay(app, jar: dict[str, str], only: tuple[str, ...] = COOKIES):
    """A fresh browser with a copy of the cookies."""
    other = app.test_client()
    for name, value in jar.items():
        if name in only:
            other.set_cookie(name, value)
    return other


def _easy_in(client, person) -> dict[str, str]:
    EasyClient(client).sign_in(person)
    assert client.get("/easy/").status_code == 200
    return _jar(client)


def _signed_out_of_easy(response) -> bool:
    return response.status_code == 302 and "/easy/login" in response.headers["Location"]


def _signed_out_of_staff(response) -> bool:
    return response.status_code == 302 and "/staff/login" in response.headers["Location"]


# --- easy mode ------------------------------------------------------------------------------------
def test_easy_sign_out_ends_the_sign_in_for_a_copied_cookie_too(app, client, world):
    jar = _easy_in(client, world.a.elder)
    assert set(jar) == set(COOKIES)
    EasyClient(client).post("/easy/logout")
    assert _signed_out_of_easy(client.get("/easy/"))
    for only in (COOKIES, ("session",), ("remember_token",)):
        assert _signed_out_of_easy(_replay(app, jar, only).get("/easy/")), only


def test_easy_remember_cookie_is_a_new_random_key_not_the_person(app, client, world, db):
    first = _easy_in(client, world.a.elder)
    second = _easy_in(app.test_client(), world.a.elder)
    assert first["remember_token"] != second["remember_token"]
    for jar in (first, second):
        value = jar["remember_token"]
        assert not value.startswith(("p:", f"{world.a.elder.id}")) and value.startswith("s:")
        assert len(value.split("|")[0]) > 40
    rows = db.session.query(WebSession).filter_by(person_id=world.a.elder.id).all()
    assert len(rows) == 2 and all(r.kind == "easy" for r in rows)
    # Only the hash is stored.
    assert not any(first["remember_token"][2:].split("|")[0] in r.key_hash for r in rows)
    # Each copy still works on its own: two phones, two sign-ins.
    assert _replay(app, first, ("remember_token",)).get("/easy/").status_code == 200
    assert _replay(app, second, ("remember_token",)).get("/easy/").status_code == 200


def test_an_old_signed_person_id_cookie_no_longer_signs_in(app, client, world):
    from flask.sessions import SecureCookieSessionInterface
    from flask_login.utils import _create_identifier, encode_cookie

    with app.test_request_context():
        forged_remember = encode_cookie(f"p:{world.a.elder.id}")
        serializer = SecureCookieSessionInterface().get_signing_serializer(app)
        forged_session = serializer.dumps(
            {"_user_id": f"p:{world.a.elder.id}", "_fresh": True, "_id": _create_identifier()}
        )
    other = _replay(app, {"remember_token": forged_remember, "session": forged_session})
    assert _signed_out_of_easy(other.get("/easy/"))


def test_easy_sign_in_lasts_a_year_and_an_expired_one_is_refused(app, client, world, db):
    jar = _easy_in(client, world.a.elder)
    row = db.session.query(WebSession).filter_by(person_id=world.a.elder.id).one()
    assert timedelta(days=364) < row.expires_at - row.created_at <= timedelta(days=365)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert _signed_out_of_easy(client.get("/easy/"))
    assert _signed_out_of_easy(_replay(app, jar, ("remember_token",)).get("/easy/"))


def test_pin_reset_by_staff_ends_the_residents_cookies_and_tokens(app, client, world, auth):
    jar = _easy_in(client, world.a.elder)
    token_headers = auth.headers(world.a.elder)
    assert client.get("/api/v1/me", headers=token_headers).status_code == 200
    r = app.test_client().put(
        f"/api/v1/people/{world.a.elder.id}/pin",
        json={"pin": "371592"},
        headers=auth.headers(world.a.staff),
    )
    assert r.status_code == 204
    assert _signed_out_of_easy(_replay(app, jar).get("/easy/"))
    assert _signed_out_of_easy(_replay(app, jar, ("remember_token",)).get("/easy/"))
    assert app.test_client().get("/api/v1/me", headers=token_headers).status_code == 401


def test_pin_reset_by_a_family_member_ends_the_elders_sign_ins(app, client, world, auth):
    jar = _easy_in(client, world.a.elder)
    relative = EasyClient(app.test_client())
    relative.sign_in(world.a.relative)
    r = relative.post(
        f"/easy/family/{world.a.elder.id}/pin", {"pin": "371592", "pin_again": "371592"}
    )
    assert r.status_code == 302
    assert _signed_out_of_easy(_replay(app, jar).get("/easy/"))
    # The relative's own sign-in goes on.
    assert relative.client.get("/easy/").status_code == 200


def test_turning_an_account_off_ends_its_sign_ins_for_good(app, client, world, auth, db):
    jar = _easy_in(client, world.a.elder)
    staff = auth.headers(world.a.staff)
    path = f"/api/v1/people/{world.a.elder.id}"
    assert (
        app.test_client().patch(path, json={"is_active": False}, headers=staff).status_code == 200
    )
    assert _signed_out_of_easy(_replay(app, jar).get("/easy/"))
    assert app.test_client().patch(path, json={"is_active": True}, headers=staff).status_code == 200
    assert _signed_out_of_easy(_replay(app, jar).get("/easy/"))
    assert db.session.query(WebSession).filter(WebSession.revoked_at.is_(None)).count() == 0


# --- changing one's own PIN -----------------------------------------------------------------------
def _own_pin(client, person, body: dict, headers: dict):
    return client.put(f"/api/v1/people/{person.id}/pin", json=body, headers=headers)


@pytest.mark.parametrize(
    "body",
    [
        {"pin": "371592"},
        {"pin": "371592", "current_pin": ""},
        {"pin": "371592", "current_pin": "999999"},
    ],
)
def test_own_pin_change_needs_the_current_pin(client, world, auth, body):
    r = _own_pin(client, world.a.resident, body, auth.headers(world.a.resident))
    assert r.status_code == 422 and "current_pin" in r.get_json()["errors"]
    assert (
        client.post(
            "/api/v1/auth/token", json={"login": world.a.resident.phone, "pin": "371592"}
        ).status_code
        == 401
    )


def test_wrong_current_pins_are_counted_like_sign_ins(client, world, auth):
    headers = auth.headers(world.a.resident)
    for _ in range(5):
        r = _own_pin(client, world.a.resident, {"pin": "371592", "current_pin": "999999"}, headers)
        assert r.status_code == 422
    r = _own_pin(client, world.a.resident, {"pin": "371592", "current_pin": f.PIN}, headers)
    assert r.status_code == 423


def test_own_pin_change_by_token_keeps_that_token_and_ends_the_rest(app, client, world, auth):
    jar = _easy_in(client, world.a.resident)
    other_token = auth.headers(world.a.resident)
    mine = auth.headers(world.a.resident)
    r = _own_pin(app.test_client(), world.a.resident, {"pin": "371592", "current_pin": f.PIN}, mine)
    assert r.status_code == 204
    fresh = app.test_client()
    assert fresh.get("/api/v1/me", headers=mine).status_code == 200
    assert fresh.get("/api/v1/me", headers=other_token).status_code == 401
    assert _signed_out_of_easy(_replay(app, jar).get("/easy/"))


def test_own_pin_change_in_a_cookie_session_keeps_that_session(app, client, world, auth):
    _easy_in(client, world.a.resident)
    other_phone = _easy_in(app.test_client(), world.a.resident)
    token = auth.headers(world.a.resident)
    csrf = csrf_of(client.get("/easy/settings").get_data(as_text=True))
    r = _own_pin(
        client, world.a.resident, {"pin": "371592", "current_pin": f.PIN}, {"X-CSRFToken": csrf}
    )
    assert r.status_code == 204
    assert client.get("/easy/").status_code == 200
    assert _signed_out_of_easy(_replay(app, other_phone).get("/easy/"))
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401


# --- staff console --------------------------------------------------------------------------------
def test_staff_sign_out_ends_the_sign_in_for_a_copied_cookie_too(app, client, world):
    staff_login(client, world.a.staff)
    jar = _jar(client)
    assert "session" in jar and "remember_token" not in jar
    assert client.get("/staff/").status_code == 200
    assert _replay(app, jar).get("/staff/").status_code == 200
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert _signed_out_of_staff(client.get("/staff/"))
    assert _signed_out_of_staff(_replay(app, jar).get("/staff/"))


def test_staff_sign_ins_are_different_keys_and_last_a_shift(app, client, world, db):
    staff_login(client, world.a.staff)
    other = app.test_client()
    staff_login(other, world.a.staff)
    assert _jar(client)["session"] != _jar(other)["session"]
    rows = db.session.query(WebSession).filter_by(person_id=world.a.staff.id).all()
    assert len(rows) == 2 and {r.kind for r in rows} == {"staff"}
    assert all(r.expires_at - r.created_at == timedelta(hours=12) for r in rows)
    rows[0].expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    expired = client if rows[0].id < rows[1].id else other
    assert _signed_out_of_staff(expired.get("/staff/"))


def test_turning_a_staff_account_off_ends_its_console_sign_in(app, client, world, auth, db):
    staff_login(client, world.a.staff)
    jar = _jar(client)
    world.a.staff.is_active = False
    from app.people.auth import sign_out_everywhere

    sign_out_everywhere(world.a.staff)
    db.session.commit()
    world.a.staff.is_active = True
    db.session.commit()
    assert _signed_out_of_staff(_replay(app, jar).get("/staff/"))


def test_a_new_password_from_the_command_line_ends_console_sign_ins(
    app, client, world, auth, runner
):
    staff_login(client, world.a.staff)
    jar = _jar(client)
    token = auth.headers(world.a.staff)
    result = runner.invoke(
        args=[
            "set-password",
            "--username",
            world.a.staff.username,
            "--password",
            "a-new-long-password-1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert _signed_out_of_staff(_replay(app, jar).get("/staff/"))
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401
    fresh = app.test_client()
    r = fresh.post(
        "/staff/login",
        data={
            "login": world.a.staff.username,
            "password": "a-new-long-password-1",
            "csrf_token": csrf_token(fresh),
        },
    )
    assert r.status_code == 302


def test_set_password_refuses_an_unknown_account_and_a_short_password(runner, world):
    assert (
        runner.invoke(
            args=["set-password", "--username", "nobody", "--password", "long-enough-password"]
        ).exit_code
        != 0
    )
    assert (
        runner.invoke(
            args=["set-password", "--username", world.a.staff.username, "--password", "short"]
        ).exit_code
        != 0
    )


def test_a_sign_in_records_its_browser_and_when_it_was_last_used(app, client, world, db):
    client.get("/easy/login", headers={"User-Agent": "TestPhone/1.0"})
    EasyClient(client).post(
        "/easy/login",
        {"phone": world.a.elder.phone, "pin": f.PIN},
        headers={"User-Agent": "TestPhone/1.0"},
    )
    row = db.session.query(WebSession).filter_by(person_id=world.a.elder.id).one()
    assert row.user_agent == "TestPhone/1.0" and row.revoked_at is None
    an_hour_ago = utcnow() - timedelta(hours=1)
    row.last_seen_at = an_hour_ago
    db.session.commit()
    assert client.get("/easy/").status_code == 200  # a page that only reads
    seen = _last_seen_committed(db, row.id)
    assert seen > an_hour_ago + timedelta(minutes=59)
    assert client.get("/easy/").status_code == 200  # not written again within minutes
    assert _last_seen_committed(db, row.id) == seen


def _last_seen_committed(db, row_id):
    # On another connection: what the request committed, not what its session holds.
    from sqlalchemy import select

    with db.engine.connect() as connection:
        value = connection.scalar(select(WebSession.last_seen_at).where(WebSession.id == row_id))
    return value


def test_an_ended_sign_ins_cookies_are_cleared(app, client, world, auth):
    jar = _easy_in(client, world.a.elder)
    EasyClient(client).post("/easy/logout")
    old = _replay(app, jar, ("remember_token",))
    response = old.get("/easy/")
    assert _signed_out_of_easy(response)
    cleared = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0]
    assert old.get_cookie("remember_token") is None
    # Flask-Login tries a remember cookie instead of the bearer token: gone now, the token works.
    assert old.get("/api/v1/me", headers=auth.headers(world.a.elder)).status_code == 200


# --- an easy-mode sign-in is a resident's -------------------------------------------------------
@pytest.fixture()
def worker_with_pin(world, db):
    """A's grid worker, who also has a PIN for easy mode."""
    worker = world.a.grid_worker
    worker.pin_hash = hash_secret(f.PIN)
    db.session.commit()
    return worker


def test_an_easy_mode_sign_in_does_not_open_the_console(app, client, world, worker_with_pin):
    EasyClient(client).sign_in(worker_with_pin)
    assert client.get("/easy/").status_code == 200
    page = client.get("/staff/cases/")
    assert page.status_code == 302 and "/staff/login" in page.headers["Location"]
    assert "next=" in page.headers["Location"]
    # Its API calls act for the resident only: the register is a worker's.
    register = client.get(f"/api/v1/communities/{world.a.community.id}/people")
    assert register.status_code in (403, 404)
    # The console's own sign-in opens it, in the same browser.
    staff_login(client, worker_with_pin)
    assert client.get("/staff/cases/").status_code == 200
    assert client.get(f"/api/v1/communities/{world.a.community.id}/people").status_code == 200


def test_a_bearer_token_keeps_the_workers_roles(client, world, auth, worker_with_pin):
    r = client.get(
        f"/api/v1/communities/{world.a.community.id}/people",
        headers=auth.headers(worker_with_pin),
    )
    assert r.status_code == 200
