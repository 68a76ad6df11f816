"""Security hardening: forwarded addresses, redirects after sign-in, headers, CSRF with tokens."""

from __future__ import annotations

import pytest


def _production_app(tmp_path, **env):
    from app import create_app

    return create_app({"ENV_OVERRIDES": {"LINLI_ENV": "production", "SECRET_KEY": "k" * 40,
                                        "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                                        "LINLI_INSTANCE_PATH": str(tmp_path),
                                        "VOICE_BACKGROUND": "0", **env}})


def _seen_address(app, headers) -> str:
    @app.get("/_test/address")
    def _address():
        from flask import request

        from app.services import audit

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
        "198.51.100.7" if hops == "2" else "203.0.113.9")
