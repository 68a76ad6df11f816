"""Sign-in throttling: per address (429) before per account (423); short, growing account locks;
concurrent wrong PINs counted exactly (SQLite and PostgreSQL)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update

from app.models import LoginThrottle, RateLimit
from app.models.base import utcnow
from tests import factories as f
from tests.pages import csrf_token

TOKEN = "/api/v1/auth/token"
ATTACKER = "203.0.113.7"
HOME = "198.51.100.20"


def _post(client, login, pin, ip):
    return client.post(TOKEN, json={"login": login, "pin": pin}, environ_base={"REMOTE_ADDR": ip})


def _row(db, login):
    db.session.expire_all()
    return db.session.get(LoginThrottle, login)


def _concurrently(app, n, login, ips):
    barrier = threading.Barrier(n)

    def one(i):
        client = app.test_client()
        barrier.wait(timeout=30)
        return _post(client, login, "999999", ips[i % len(ips)]).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_wrong_pins_are_all_counted(app, db, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 100)
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 100)
    login = world.a.resident.phone
    for _ in range(3):  # three rounds: the row is new in the first, existing after
        assert _concurrently(app, 8, login, [ATTACKER]) == [401] * 8
    assert _row(db, login).failures == 24
    assert db.session.query(RateLimit).one().hits == 24  # the address's count too


def test_concurrent_wrong_pins_lock_exactly_at_the_limit(app, db, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 8)
    login = world.a.resident.phone
    ips = [f"192.0.2.{i}" for i in range(1, 9)]
    assert _concurrently(app, 8, login, ips) == [401] * 8
    row = _row(db, login)
    assert row.locked_until is not None and row.lock_count == 1 and row.failures == 0
    assert _post(app.test_client(), login, f.PIN, HOME).status_code == 423


def test_one_address_hammering_many_accounts_gets_429_before_any_account_locks(client, db, world):
    people = [
        world.a.resident,
        world.a.elder,
        world.a.relative,
        world.b.resident,
        world.b.elder,
        world.b.relative,
    ]
    logins = [p.phone for p in people] + ["13700000001", "13700000002", "noone", "nobody"]
    for login in logins:  # 10 wrong PINs, never more than 1 per account
        assert _post(client, login, "999999", ATTACKER).status_code == 401
    r = _post(client, world.a.resident.phone, "999999", ATTACKER)
    assert r.status_code == 429
    body = r.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests" and body["message"]
    assert 14 * 60 < int(r.headers["Retry-After"]) <= 15 * 60 + 1
    # Even the right PIN is refused from there for now; no account got locked.
    assert _post(client, world.a.resident.phone, f.PIN, ATTACKER).status_code == 429
    db.session.expire_all()
    assert all(row.locked_until is None for row in db.session.query(LoginThrottle))


def test_victim_whose_attacker_is_throttled_still_signs_in_from_another_address(client, db, world):
    victim = world.a.elder.phone
    for _ in range(4):
        assert _post(client, victim, "999999", ATTACKER).status_code == 401
    for i in range(6):
        assert _post(client, f"1370000000{i}", "999999", ATTACKER).status_code == 401
    for _ in range(20):  # throttled: these are not checked, so they count against nobody
        assert _post(client, victim, "999999", ATTACKER).status_code == 429
    assert _row(db, victim).failures == 4 and _row(db, victim).locked_until is None
    assert _post(client, victim, f.PIN, HOME).status_code == 201
    assert _row(db, victim).failures == 0


def test_account_locks_are_short_at_first_and_grow(client, db, world, app):
    login = world.a.resident.phone
    expected = [60, 120, 240, 480, 900, 900]  # LOGIN_LOCKOUT_MINUTES (15) is the longest
    for round_, seconds in enumerate(expected):
        for i in range(5):  # from different addresses: only the account counts here
            assert (
                _post(client, login, "999999", f"192.0.2.{round_ * 5 + i + 1}").status_code == 401
            )
        locked = _post(client, login, f.PIN, HOME)
        assert locked.status_code == 423
        assert seconds - 5 < int(locked.headers["Retry-After"]) <= seconds + 1, round_
        db.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.login == login)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    # A successful sign-in starts over: the next lock is short again.
    assert _post(client, login, f.PIN, HOME).status_code == 201
    assert _row(db, login).lock_count == 0
    for i in range(5):
        _post(client, login, "999999", f"198.51.100.{i + 1}")
    assert int(_post(client, login, f.PIN, HOME).headers["Retry-After"]) <= 61


def test_addresses_of_one_ipv6_network_count_together(client, world):
    for i in range(10):
        assert (
            _post(client, f"1370000001{i}", "999999", f"2001:db8:1:2::{i + 1:x}").status_code == 401
        )
    assert _post(client, world.a.resident.phone, f.PIN, "2001:db8:1:2:ffff::1").status_code == 429
    assert _post(client, world.a.resident.phone, f.PIN, "2001:db8:1:3::1").status_code == 201


def test_a_typed_login_cannot_reach_another_counter(client, db, world):
    # "pairing:<staff id>" is the kiosk pairing counter of that staff member.
    key = f"pairing:{world.a.staff.id}"
    for i in range(6):
        _post(client, key, "999999", f"192.0.2.{i + 1}")
    assert db.session.get(LoginThrottle, key) is None


def test_easy_and_staff_sign_in_pages_are_throttled_per_address(client, world):
    for i in range(10):
        _post(client, f"1370000002{i}", "999999", ATTACKER)
    token = csrf_token(client, "/easy/login")
    easy = client.post(
        "/easy/login",
        data={"phone": world.a.elder.phone, "pin": f.PIN, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ATTACKER},
    )
    assert easy.status_code == 429 and easy.headers["Retry-After"]
    assert "分钟后再试" in easy.get_data(as_text=True)
    staff = client.post(
        "/staff/login",
        data={"login": world.a.staff.username, "password": f.PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ATTACKER},
    )
    assert staff.status_code == 429
    ok = client.post(
        "/easy/login",
        data={"phone": world.a.elder.phone, "pin": f.PIN, "csrf_token": token},
        environ_base={"REMOTE_ADDR": HOME},
    )
    assert ok.status_code == 302
