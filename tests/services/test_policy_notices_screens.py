"""One policy call per aggregate, for announcements (`app.notices.policy.may`/`ensure`) and lobby
screens (`app.screens.policy`): outsiders never learn a record exists (404), insiders without
the right are refused (403), and the channels read the same answers."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.infra.errors import Forbidden, NotFound, Unauthorized
from app.notices import announcements
from app.notices import policy as notice_policy
from app.people.actors import Actor
from app.screens import policy as screens


def _person(p, act_for=None):
    return Actor.for_person(p, on_behalf_of=act_for)


def _post(side, **kw):
    a = announcements.create_announcement(_person(side.staff), community_id=side.community.id, **kw)
    db.session.commit()
    return a


def _raises(module, error, who, action, record):
    with pytest.raises(error):
        module.ensure(who, action, record)
    assert module.may(who, action, record) is False


def test_a_draft_is_not_found_outside_the_committees_workers(world):
    draft = _post(world.a, title="草稿", draft=True)
    for who in (
        _person(world.a.resident),
        _person(world.a.relative, world.a.elder),
        Actor.for_device(world.a.device),
        _person(world.b.staff),
    ):
        for action in ("read", "manage"):
            _raises(notice_policy, NotFound, who, action, draft)
    _raises(notice_policy, Unauthorized, Actor.anonymous(), "read", draft)
    grid_worker = _person(world.a.grid_worker)
    assert notice_policy.may(grid_worker, "read_internal", draft)
    _raises(notice_policy, Forbidden, grid_worker, "manage", draft)  # looks, does not touch
    _raises(notice_policy, Forbidden, _person(world.official), "manage", draft)
    assert notice_policy.may(_person(world.a.staff), "manage", draft)
    assert notice_policy.may(_person(world.official_writer), "manage", draft)


def test_residents_read_and_acknowledge_a_live_one_but_never_its_inside(world):
    live = _post(world.a, title="燃气检修", body="请家中留人。", priority="urgent")
    for who in (_person(world.a.resident), _person(world.a.relative, world.a.elder)):
        assert notice_policy.may(who, "read", live)
        assert notice_policy.may(who, "acknowledge", live)
        _raises(notice_policy, Forbidden, who, "read_internal", live)
        _raises(notice_policy, NotFound, who, "manage", live)
    screen = Actor.for_device(world.a.device)
    assert notice_policy.may(screen, "read", live)
    _raises(notice_policy, Forbidden, screen, "acknowledge", live)  # people only
    _raises(notice_policy, Forbidden, _person(world.a.staff), "acknowledge", live)  # not told
    _raises(notice_policy, NotFound, _person(world.b.resident), "acknowledge", live)
    announcements.withdraw_announcement(_person(world.a.staff), live.id)
    db.session.commit()
    assert not notice_policy.may(_person(world.a.resident), "read", live)
    assert notice_policy.may(_person(world.a.staff), "read_internal", live)


def test_a_screen_reads_itself_and_its_committee_manages_it(world):
    device, other = world.a.device, world.b.device
    screen = Actor.for_device(device)
    assert screens.may(screen, "read", device)
    _raises(screens, Forbidden, screen, "manage", device)
    _raises(screens, NotFound, screen, "read", other)
    _raises(screens, Forbidden, _person(world.a.resident), "read", device)
    _raises(screens, NotFound, _person(world.b.staff), "read", device)
    _raises(screens, NotFound, _person(world.b.staff), "manage", device)
    assert screens.may(_person(world.a.grid_worker), "read", device)
    _raises(screens, Forbidden, _person(world.a.grid_worker), "manage", device)
    _raises(screens, Forbidden, _person(world.official), "manage", device)
    for who in (world.a.staff, world.official_writer, world.admin):
        assert screens.may(_person(who), "manage", device)
    _raises(screens, Unauthorized, Actor.anonymous(), "read", device)
    with pytest.raises(ValueError):
        screens.may(_person(world.a.staff), "delete", device)
