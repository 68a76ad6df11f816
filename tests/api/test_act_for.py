"""Acting for a resident (X-Act-For): a resident id only, one limit for all channels."""

import pytest

from app.infra.errors import Invalid
from app.people.proxies import ACT_FOR_MAX_DIGITS, act_for_id


def test_act_for_id_takes_a_resident_id_only():
    assert act_for_id("42") == 42 and act_for_id(42) == 42
    assert act_for_id("9" * ACT_FOR_MAX_DIGITS) == int("9" * ACT_FOR_MAX_DIGITS)
    for bad in ("", "abc", "-1", "1.5", " 7", "9" * (ACT_FOR_MAX_DIGITS + 1), "²", "٣"):
        with pytest.raises(Invalid) as caught:
            act_for_id(bad, "X-Act-For")
        assert caught.value.errors == {"X-Act-For": ["must be a resident id"]}, bad


def test_a_malformed_act_for_header_is_refused(client, world, auth):
    headers = auth.headers(world.a.relative)
    for bad in ("abc", "9" * (ACT_FOR_MAX_DIGITS + 1)):
        response = client.get("/api/v1/me", headers={**headers, "X-Act-For": bad})
        assert response.status_code == 422
        assert "X-Act-For" in response.get_json()["errors"]
    acting = client.get("/api/v1/me", headers=auth.headers(world.a.relative, act_for=world.a.elder))
    assert acting.status_code == 200
