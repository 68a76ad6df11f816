"""Easy-mode page tests: sign in through the real form (CSRF included) and read the pages."""

from __future__ import annotations

import re

import pytest

from tests.factories import PIN

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page carries in its <meta>."""
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class EasyClient:
    """A test client that signs in like a resident and posts forms with their CSRF token."""

    def __init__(self, client):
        self.client = client

    def page(self, path: str, status: int = 200, **kw) -> str:
        """GET a page, check its status, return its HTML."""
        response = self.client.get(path, **kw)
        assert response.status_code == status, (
            path,
            response.status_code,
            response.get_data(as_text=True)[:300],
        )
        return response.get_data(as_text=True)

    def token(self) -> str:
        """The session's CSRF token, from a page that carries it."""
        response = self.client.get("/easy/login")
        if response.status_code == 302:
            response = self.client.get("/easy/settings")
        return csrf_of(response.get_data(as_text=True))

    def post(self, path: str, data: dict | None = None, **kw):
        """POST a form the way the page does (with its CSRF token)."""
        return self.client.post(path, data={"csrf_token": self.token(), **(data or {})}, **kw)

    def sign_in(self, person, pin: str = PIN):
        """Sign in through the sign-in form."""
        response = self.post("/easy/login", {"phone": person.phone, "pin": pin})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response


@pytest.fixture()
def easy(client):
    """The easy-mode test client."""
    return EasyClient(client)
