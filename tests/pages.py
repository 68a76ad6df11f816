"""Server-rendered pages in tests: the form's CSRF token, and signing in to the staff console."""

from __future__ import annotations

import re

from tests import factories as f


def csrf_token(client, path: str = "/staff/login") -> str:
    """The CSRF token of the form on the page at `path`."""
    return hidden_fields(client, path)["csrf_token"]


def hidden_fields(client, path: str) -> dict[str, str]:
    """The hidden inputs (CSRF token, one-time token, …) of the forms on the page at `path`."""
    page = client.get(path).get_data(as_text=True)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def staff_login(client, person) -> None:
    """Sign `person` in to the staff console with the factories' password."""
    r = client.post(
        "/staff/login",
        data={"login": person.username, "password": f.PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
