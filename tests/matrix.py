"""What the authorization matrices share: the expected status of a call, and its check.

Each feature's matrix maps (method, rule) to a spec: ``allowed`` roles get ``success``; others
get ``overrides[role]`` or ``others`` (default 403); an anonymous caller gets ``anonymous``
(default 401). Every error must come in the one error envelope with its status as ``code``.
"""

from __future__ import annotations

ANON = "anonymous"
# Every signed-in role of the `world` fixture a matrix states a route's spec for.
ROLES = [
    "resident",
    "elder",
    "relative",
    "staff",
    "grid_worker",
    "org_member",
    "official",
    "official_writer",
    "admin",
    "device",
]


def expected_status(spec: dict, role: str) -> int:
    if role == ANON:
        return spec.get("anonymous", 401)
    if role in spec["allowed"]:
        return spec["success"]
    return spec.get("overrides", {}).get(role, spec.get("others", 403))


def check_status(response, expected: int) -> None:
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected >= 400:
        assert response.get_json()["code"] == expected


def route(success, allowed, others=403, body=None, overrides=None, foreign=404, **extra) -> dict:
    """One route's spec. ``body(scene)`` makes the JSON body; ``foreign`` is the status for the
    other community's records (None: the route has none); ``extra`` keys are the matrix's own."""
    return {
        "success": success,
        "allowed": frozenset(allowed),
        "others": others,
        "body": body,
        "overrides": overrides or {},
        "foreign": foreign,
        **extra,
    }


def own_cases(routes: dict) -> list[tuple[str, str, str]]:
    """Every route × anonymous and every role, in their own community."""
    return [(m, r, role) for (m, r) in routes for role in [ANON, *ROLES]]


def foreign_cases(routes: dict) -> list[tuple[str, str, str]]:
    """Every route with records of a community × every role but the admin (who sees all)."""
    return [
        (m, r, role)
        for (m, r), spec in routes.items()
        if spec["foreign"] is not None
        for role in ROLES
        if role != "admin"
    ]


def parametrize(cases: list[tuple[str, str, str]]):
    """The cases as (method, rule, role) parameters, named "METHOD rule role"."""
    import pytest

    return pytest.mark.parametrize(
        ("method", "rule", "role"), cases, ids=[f"{m} {r} {role}" for m, r, role in cases]
    )


def send(client, method: str, path: str, headers: dict, spec: dict, scene):
    """Call the route (its rule's placeholders already filled in) with the spec's body."""
    kwargs = {"headers": headers}
    if spec["body"] is not None:
        kwargs["json"] = spec["body"](scene)
    return client.open(path, method=method, **kwargs)
