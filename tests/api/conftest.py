"""Fixtures for the API-wide tests (the document, and fuzzing by it)."""

from __future__ import annotations

import pytest


@pytest.fixture()
def records(client, auth, world):
    """Community A with its standard categories, a resident's case and an announcement;
    returns {path parameter name: a real id} per role and the bearer headers per role."""
    from app.affairs import categories
    from app.extensions import db
    from app.models import ProxyLink
    from tests.affairs.conftest import category, submit

    side = world.a
    categories.install_defaults(None, side.community.id)
    db.session.commit()
    case = submit(side)
    staff = auth.headers(side.staff)
    r = client.post(
        "/api/v1/announcements",
        headers=staff,
        json={"title": "停水通知", "body": "明天停水。", "priority": "normal"},
    )
    assert r.status_code == 201, r.get_json()
    common = {
        "community_id": side.community.id,
        "building_id": side.community.buildings[0].id,
        "device_id": side.device.id,
        "organization_id": side.organization.id,
        "category_id": category(side).id,
        "case_id": case.id,
        "announcement_id": r.get_json()["id"],
        "link_id": db.session.query(ProxyLink).filter_by(resident_id=side.elder.id).one().id,
    }
    return {
        "staff": (staff, {**common, "person_id": side.resident.id}),
        "resident": (auth.headers(side.resident), {**common, "person_id": side.resident.id}),
    }
