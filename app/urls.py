"""Where this service is reached from outside: PUBLIC_BASE_URL when it is set, else the host the
request came to (behind a proxy, its X-Forwarded-Host/Proto count only with LINLI_PROXY_HOPS),
else the local address gunicorn binds by default."""

from __future__ import annotations

from flask import current_app, has_request_context, request

LOCAL_BASE_URL = "http://127.0.0.1:8000"


def public_base_url() -> str:
    """The base URL links and QR codes are built from, without a trailing slash."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return LOCAL_BASE_URL
