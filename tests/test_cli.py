"""flask seed-demo (idempotent, --json) and flask create-user."""

import json

from app.models import ApiToken, AuditLog, Community, Device, Person, ProxyLink
from tests import factories as f


def _seed_json(runner):
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_seed_demo_json_and_twice_duplicates_nothing(runner, db, client):
    first = _seed_json(runner)
    counts = [db.session.query(m).count() for m in (Person, Community, Device, ApiToken, ProxyLink)]
    second = _seed_json(runner)
    assert [
        db.session.query(m).count() for m in (Person, Community, Device, ApiToken, ProxyLink)
    ] == counts
    # The same logins, screen token and Open311 key every time (counters may differ).
    for key in ("accounts", "kiosk_token", "kiosk_url", "open311"):
        assert first[key] == second[key]
    roles = {a["role"] for a in first["accounts"]}
    assert {
        "platform_admin",
        "street_official",
        "committee_staff",
        "grid_worker",
        "org_member",
        "resident",
        "family_proxy",
    } <= roles
    assert db.session.query(Community).count() == 2
    assert db.session.query(Person).filter(Person.care_flags.isnot(None)).count() > 30
    # Every demo login works, with its password or PIN.
    for account in first["accounts"]:
        secret = (
            {"password": account["password"]} if "password" in account else {"pin": account["pin"]}
        )
        r = client.post("/api/v1/auth/token", json={"login": account["login"], **secret})
        assert r.status_code == 201, account
    # The kiosk token is a real device token.
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {first['kiosk_token']}"})
    assert me.status_code == 200 and me.get_json()["roles"] == ["kiosk"]


def test_seed_demo_plain_output_tells_where_to_go(runner, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    for where in ("/easy", "/kiosk?token=", "/staff/", "/api/docs", "heping_staff"):
        assert where in result.output


def test_create_user_with_role(runner, db, client):
    office = f.street_office(code="xinhua")
    f.community(office, code="dongfeng")
    db.session.commit()
    result = runner.invoke(
        args=[
            "create-user",
            "--username",
            "Zhou",
            "--name",
            "周主任",
            "--password",
            "a-long-password",
            "--role",
            "committee_staff",
            "--community",
            "dongfeng",
        ]
    )
    assert result.exit_code == 0, result.output
    r = client.post("/api/v1/auth/token", json={"login": "zhou", "password": "a-long-password"})
    assert r.status_code == 201
    assert r.get_json()["person"]["roles"] == ["committee_staff"]


def test_create_user_refuses_unknown_community_and_short_password(runner, db):
    bad = runner.invoke(
        args=[
            "create-user",
            "--username",
            "x1",
            "--name",
            "x",
            "--password",
            "a-long-password",
            "--role",
            "committee_staff",
            "--community",
            "nowhere",
        ]
    )
    assert bad.exit_code != 0 and "nowhere" in bad.output
    short = runner.invoke(
        args=[
            "create-user",
            "--username",
            "x2",
            "--name",
            "x",
            "--password",
            "short",
            "--role",
            "platform_admin",
        ]
    )
    assert short.exit_code != 0
    assert db.session.query(Person).filter(Person.username.in_(["x1", "x2"])).count() == 0
    assert db.session.query(AuditLog).count() == 0


def test_create_user_refuses_a_role_without_its_scope(runner, db):
    office = f.street_office(code="xinhua")
    f.community(office, code="dongfeng")
    db.session.commit()
    for role, extra in (
        ("grid_worker", []),
        ("org_member", []),
        ("street_official", []),
        ("committee_staff", []),
        ("org_member", ["--can-write"]),
    ):
        result = runner.invoke(
            args=[
                "create-user",
                "--username",
                "scoped",
                "--name",
                "x",
                "--password",
                "a-long-password",
                "--role",
                role,
                *extra,
            ]
        )
        assert result.exit_code != 0, (role, result.output)
    assert db.session.query(Person).filter_by(username="scoped").count() == 0
