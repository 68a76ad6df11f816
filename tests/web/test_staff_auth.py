"""Staff console sign-in: CSRF, secure cookies, safe redirects, lockout."""

from tests import factories as f
from tests.pages import csrf_token as _csrf


def test_login_without_csrf_token_is_refused(client, world):
    r = client.post("/staff/login", data={"login": world.a.staff.username, "password": f.PASSWORD})
    assert r.status_code == 400


def test_login_logout_and_cookie_flags(client, world):
    r = client.post(
        "/staff/login",
        data={"login": world.a.staff.username, "password": f.PASSWORD, "csrf_token": _csrf(client)},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = client.get("/staff/")
    assert home.status_code == 200 and world.a.community.name in home.get_data(as_text=True)
    assert world.b.community.name not in home.get_data(as_text=True)
    out = client.post("/staff/logout", data={"csrf_token": _csrf(client, "/staff/")})
    assert out.status_code == 302
    assert client.get("/staff/").status_code == 302


def test_open_redirect_is_refused(client, world):
    r = client.post(
        "/staff/login?next=//evil.example/x",
        data={"login": world.a.staff.username, "password": f.PASSWORD, "csrf_token": _csrf(client)},
    )
    assert r.headers["Location"].endswith("/staff/")


def test_wrong_password_shows_a_message_and_locks_after_five(client, world):
    for _ in range(5):
        r = client.post(
            "/staff/login",
            data={
                "login": world.a.staff.username,
                "password": "wrong-password",
                "csrf_token": _csrf(client),
            },
        )
        assert r.status_code == 401
        assert "密码不对" in r.get_data(as_text=True)
    r = client.post(
        "/staff/login",
        data={"login": world.a.staff.username, "password": f.PASSWORD, "csrf_token": _csrf(client)},
    )
    assert r.status_code == 423


def test_audit_page_shows_committee_staff_their_own_community(client, world):
    client.post(
        "/staff/login",
        data={"login": world.a.staff.username, "password": f.PASSWORD, "csrf_token": _csrf(client)},
    )
    # Without a community: their own (the menu links there); another community's: not found.
    r = client.get("/staff/audit")
    assert r.status_code == 200 and world.a.community.name in r.get_data(as_text=True)
    r = client.get(f"/staff/audit?community_id={world.a.community.id}")
    assert r.status_code == 200
    assert client.get(f"/staff/audit?community_id={world.b.community.id}").status_code == 404


def test_secure_cookies_in_production(tmp_path):
    from app import create_app

    app = create_app(
        {
            "ENV_OVERRIDES": {
                "LINLI_ENV": "production",
                "SECRET_KEY": "k" * 40,
                "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                "LINLI_INSTANCE_PATH": str(tmp_path),
            }
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


def test_production_refuses_to_start_without_secret_or_database(tmp_path):
    import pytest

    from app import create_app
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(
            {
                "ENV_OVERRIDES": {
                    "LINLI_ENV": "production",
                    "SECRET_KEY": "",
                    "DATABASE_URL": "sqlite://",
                    "LINLI_INSTANCE_PATH": str(tmp_path),
                }
            }
        )
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app(
            {
                "ENV_OVERRIDES": {
                    "LINLI_ENV": "production",
                    "SECRET_KEY": "k" * 40,
                    "DATABASE_URL": "",
                    "LINLI_INSTANCE_PATH": str(tmp_path),
                }
            }
        )
