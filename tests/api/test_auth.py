"""Sign-in, tokens, lockout, joining with an invitation."""

from app.models import AuditLog, LoginThrottle
from tests import factories as f


def test_resident_signs_in_with_phone_and_pin(client, world):
    r = client.post("/api/v1/auth/token", json={"login": world.a.resident.phone, "pin": f.PIN})
    assert r.status_code == 201
    body = r.get_json()
    assert body["token_type"] == "Bearer" and len(body["token"]) > 30
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == world.a.resident.id
    # Their own phone is shown to them unmasked.
    assert me.get_json()["phone"] == world.a.resident.phone


def test_phone_accepted_in_any_common_format(client, world):
    p = world.a.resident.phone
    formatted = f"+86 {p[:3]}-{p[3:7]}-{p[7:]}"
    r = client.post("/api/v1/auth/token", json={"login": formatted, "pin": f.PIN})
    assert r.status_code == 201


def test_staff_signs_in_with_password_and_sign_in_is_audited(client, world, db):
    r = client.post(
        "/api/v1/auth/token", json={"login": world.a.staff.username, "password": f.PASSWORD}
    )
    assert r.status_code == 201
    assert (
        db.session.query(AuditLog)
        .filter_by(action="sign_in", actor_person_id=world.a.staff.id)
        .count()
        == 1
    )


def test_wrong_pin_is_401_in_the_envelope(client, world):
    r = client.post("/api/v1/auth/token", json={"login": world.a.resident.phone, "pin": "999999"})
    assert r.status_code == 401
    body = r.get_json()
    assert set(body) >= {"code", "status", "message"} and body["code"] == 401


def test_repeated_wrong_pins_lock_the_login_even_for_the_right_pin(client, world, db):
    login = world.a.resident.phone
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/token", json={"login": login, "pin": "999999"}).status_code
            == 401
        )
    locked = client.post("/api/v1/auth/token", json={"login": login, "pin": f.PIN})
    assert locked.status_code == 423
    assert 50 < int(locked.headers["Retry-After"]) <= 61  # the first lock is short
    assert db.session.get(LoginThrottle, login).locked_until is not None


def test_unknown_login_is_throttled_too(client, db):
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"login": "13700000000", "pin": "999999"})
    r = client.post("/api/v1/auth/token", json={"login": "13700000000", "pin": "999999"})
    assert r.status_code == 423


def test_revoked_token_no_longer_works(client, world):
    token = client.post(
        "/api/v1/auth/token", json={"login": world.a.resident.phone, "pin": f.PIN}
    ).get_json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=h).status_code == 204
    r = client.get("/api/v1/me", headers=h)
    assert r.status_code == 401


def test_forged_token_is_401(client, world):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer forged-" + "x" * 40})
    assert r.status_code == 401
    assert r.get_json()["code"] == 401


def test_revoked_device_token_stops_working(client, world, auth):
    h = auth.headers(device=world.a.device)
    assert client.get("/api/v1/me", headers=h).get_json()["roles"] == ["kiosk"]
    staff = auth.headers(world.a.staff)
    assert client.delete(f"/api/v1/devices/{world.a.device.id}", headers=staff).status_code == 200
    assert client.get("/api/v1/me", headers=h).status_code == 401


def test_join_with_invitation_code_once(client, world, auth):
    staff = auth.headers(world.a.staff)
    inv = client.post(
        f"/api/v1/communities/{world.a.community.id}/invitations", json={}, headers=staff
    )
    assert inv.status_code == 201
    code = inv.get_json()["code"]
    body = {"code": code.lower(), "display_name": "新居民", "phone": f.phone(), "pin": "258147"}
    r = client.post("/api/v1/auth/join", json=body)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["person"]["community_id"] == world.a.community.id
    again = client.post("/api/v1/auth/join", json={**body, "phone": f.phone()})
    assert again.status_code == 422
    assert "code" in again.get_json()["errors"]


def test_weak_pin_rejected_on_join(client, world, auth):
    staff = auth.headers(world.a.staff)
    code = client.post(
        f"/api/v1/communities/{world.a.community.id}/invitations", json={}, headers=staff
    ).get_json()["code"]
    r = client.post(
        "/api/v1/auth/join",
        json={"code": code, "display_name": "x", "phone": f.phone(), "pin": "111111"},
    )
    assert r.status_code == 422 and "pin" in r.get_json()["errors"]


FULL = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def test_full_width_digits_from_an_input_method_mean_the_same_phone_and_pin(
    client, world, auth, db
):
    # A Chinese IME in full-width mode types １３９… : the same number, the same PIN.
    code = client.post(
        f"/api/v1/communities/{world.a.community.id}/invitations",
        json={},
        headers=auth.headers(world.a.staff),
    ).get_json()["code"]
    phone = f.phone()
    r = client.post(
        "/api/v1/auth/join",
        json={
            "code": code,
            "display_name": "全角",
            "phone": phone.translate(FULL),
            "pin": "258147".translate(FULL),
        },
    )
    assert r.status_code == 201, r.get_json()
    person = db.session.get(f.Person, r.get_json()["person"]["id"])
    assert person.phone == phone  # stored plain
    for login, pin in (
        (phone, "258147"),
        (phone.translate(FULL), "258147".translate(FULL)),
        ("+86 " + phone.translate(FULL), "258147"),
    ):
        assert (
            client.post("/api/v1/auth/token", json={"login": login, "pin": pin}).status_code == 201
        ), (login, pin)


def test_a_pin_stored_in_full_width_still_works_and_is_stored_plain(client, world, db):
    from app.people.auth import hash_secret, verify_secret

    person = world.a.resident
    person.pin_hash = hash_secret("258147".translate(FULL))  # set before digits were made plain
    db.session.commit()
    assert (
        client.post(
            "/api/v1/auth/token", json={"login": person.phone, "pin": "258147".translate(FULL)}
        ).status_code
        == 201
    )
    db.session.refresh(person)
    assert verify_secret(person.pin_hash, "258147")
    assert (
        client.post("/api/v1/auth/token", json={"login": person.phone, "pin": "258147"}).status_code
        == 201
    )


def test_a_trailing_newline_is_not_part_of_a_valid_pin(client, world, auth):
    # Python's "$" also matches before a final newline; the rules match the whole value.
    code = client.post(
        f"/api/v1/communities/{world.a.community.id}/invitations",
        json={},
        headers=auth.headers(world.a.staff),
    ).get_json()["code"]
    r = client.post(
        "/api/v1/auth/join",
        json={"code": code, "display_name": "换行", "phone": f.phone(), "pin": "258147\n"},
    )
    assert r.status_code == 422 and "pin" in r.get_json()["errors"]
