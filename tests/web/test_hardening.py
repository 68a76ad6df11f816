"""Security hardening: forwarded addresses, redirects after sign-in, headers, CSRF with tokens."""

from __future__ import annotations

import pytest


def _production_app(tmp_path, **env):
    from app import create_app

    return create_app(
        {
            "ENV_OVERRIDES": {
                "LINLI_ENV": "production",
                "SECRET_KEY": "k" * 40,
                "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                "LINLI_INSTANCE_PATH": str(tmp_path),
                "VOICE_BACKGROUND": "0",
                **env,
            }
        }
    )


def _seen_address(app, headers) -> str:
    @app.get("/_test/address")
    def _address():
        from flask import request

        from app.infra import audit

        return {"remote_addr": request.remote_addr, "audit": audit._client_ip()}

    return app.test_client().get("/_test/address", headers=headers).get_json()


FORGED = {"X-Forwarded-For": "203.0.113.9"}


def test_a_forged_forwarded_for_is_ignored_without_a_configured_proxy(tmp_path):
    seen = _seen_address(_production_app(tmp_path), FORGED)
    assert seen == {"remote_addr": "127.0.0.1", "audit": "127.0.0.1"}


@pytest.mark.parametrize("hops", ["1", "2"])
def test_the_configured_proxy_hops_are_believed(tmp_path, hops):
    app = _production_app(tmp_path, LINLI_PROXY_HOPS=hops)
    headers = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9" if hops == "2" else "203.0.113.9"}
    assert _seen_address(app, headers)["remote_addr"] == (
        "198.51.100.7" if hops == "2" else "203.0.113.9"
    )


HOSTILE_NEXT = [
    "//evil.example/x",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0a/x",
    "/%00/x",
    "/\\evil.example",
    "/%5Cevil.example",
    "/%2F/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%20/evil.example",
    "/%E3%80%80/evil.example",
    "/%7F/x",
    "%2F%2Fevil.example",
    "evil.example",
    "/%252F%252Fevil.example",
    "/ /evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_staff_sign_in_never_redirects_to_a_hostile_next(client, world, target):
    from tests import factories as f
    from tests.pages import csrf_token

    r = client.post(
        f"/staff/login?next={target}",
        data={
            "login": world.a.staff.username,
            "password": f.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert r.status_code == 302 and r.headers["Location"] == "/staff/"


@pytest.mark.parametrize("target", HOSTILE_NEXT + ["/easy%09/evil.example", "/easy/%0a"])
def test_easy_sign_in_never_redirects_to_a_hostile_next(client, world, target):
    from tests.easy.conftest import EasyClient
    from tests.factories import PIN

    easy = EasyClient(client)
    r = easy.post(f"/easy/login?next={target}", {"phone": world.a.elder.phone, "pin": PIN})
    assert r.status_code == 302 and r.headers["Location"] == "/easy/"
    # Signed in already: the sign-in page sends a GET onwards too.
    r = client.get(f"/easy/login?next={target}")
    assert r.status_code == 302 and r.headers["Location"] == "/easy/"


@pytest.mark.parametrize("target", ["/staff/cases?status=open", "/staff/audit"])
def test_staff_sign_in_keeps_a_same_site_next(client, world, target):
    from tests import factories as f
    from tests.pages import csrf_token

    r = client.post(
        f"/staff/login?next={target}",
        data={
            "login": world.a.staff.username,
            "password": f.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert r.headers["Location"] == target


def test_read_notice_goes_back_only_inside_easy_mode(client, world):
    from app.web.easy import safe_next

    with client.application.test_request_context():
        assert safe_next("/easy/announcements") == "/easy/announcements"
        for target in HOSTILE_NEXT:
            assert safe_next(target, "easy.announcements_page") == "/easy/announcements"


@pytest.mark.parametrize("authorization", ["Bearer x", "Bearer ", "bearer forged-token-value"])
def test_a_bogus_bearer_header_does_not_skip_csrf_for_a_cookie_session(
    client, world, db, authorization
):
    from app.models import Grid
    from tests.pages import staff_login

    staff_login(client, world.a.staff)
    before = db.session.query(Grid).count()
    r = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids",
        json={"name": "跨站网格"},
        headers={"Authorization": authorization},
    )
    assert r.status_code == 400 and "csrf_token" in r.get_json()["errors"]
    db.session.expire_all()
    assert db.session.query(Grid).count() == before


def test_a_real_bearer_token_still_needs_no_csrf_header(client, world, auth):
    r = client.post(
        f"/api/v1/communities/{world.a.community.id}/grids",
        json={"name": "接口网格"},
        headers=auth.headers(world.a.staff),
    )
    assert r.status_code == 201


HTML_PAGES = ["/staff/login", "/easy/login", "/easy/offline", "/api/docs", "/no-such-page"]


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", HTML_PAGES)
def test_security_headers_on_every_page_in_production(tmp_path, path):
    response = _production_app(tmp_path).test_client().get(path)
    assert response.mimetype == "text/html"
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["frame-ancestors"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]


def test_headers_in_development_too_but_no_hsts_over_plain_http(client):
    response = client.get("/staff/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response.headers
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"


def test_no_page_needs_inline_script_or_javascript_urls():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    templates = [*root.glob("app/templates/**/*.html"), *root.glob("kiosk/templates/**/*.html")]
    assert templates
    for template in templates:
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (template, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), template
        assert "javascript:" not in html, template


def test_error_page_goes_back_with_a_plain_link(client):
    page = client.get("/no-such-page", headers={"Referer": "http://localhost/staff/login"})
    html = page.get_data(as_text=True)
    assert page.status_code == 404 and 'href="/staff/login"' in html
    elsewhere = client.get("/no-such-page", headers={"Referer": "https://evil.example/x"})
    assert "evil.example" not in elsewhere.get_data(as_text=True)
