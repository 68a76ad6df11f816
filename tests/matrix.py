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
