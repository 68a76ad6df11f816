"""One policy call per case: `policy.may(actor, action, case)` and `policy.ensure`, which raises
what the channels answer (401 anonymous, 404 unreadable, 403 insiders without the right, 409
wrong state). The combinations below are the ones a hand-written check gets wrong."""

from __future__ import annotations

import pytest

from app.affairs import policy, rules, workflow
from app.extensions import db
from app.infra.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from app.models.case import CASE_STATUSES
from app.people.actors import Actor
from tests.affairs.conftest import actor, put_in_state, submit


def _raises(error, who, action, case):
    with pytest.raises(error):
        policy.ensure(who, action, case)
    assert policy.may(who, action, case) is False


def test_another_communitys_case_is_not_found_for_every_action(cats):
    world = cats
    case = submit(world.a)
    for who in (
        actor(world.b.staff),
        actor(world.b.resident),
        actor(device=world.b.device),
        actor(world.office_b_official),
    ):
        for action in ("read", "accept", "note", "attach", "support", "update", "see_contact"):
            _raises(NotFound, who, action, case)
    _raises(Unauthorized, Actor.anonymous(), "read", case)


def test_a_private_case_is_not_found_for_a_neighbour_but_read_by_its_reporter(cats):
    world = cats
    case = submit(world.a, is_public=False)
    _raises(NotFound, actor(world.a.elder), "read", case)
    _raises(NotFound, actor(world.a.elder), "support", case)
    assert policy.may(actor(world.a.resident), "read", case)
    assert policy.level(actor(world.a.resident), case) == "reporter"
    assert not policy.may(actor(world.a.resident), "read_internal", case)


def test_a_read_only_official_sees_everything_and_changes_nothing(cats):
    world = cats
    case = submit(world.a)
    official = actor(world.official)
    assert policy.may(official, "read_internal", case)
    assert policy.may(official, "see_reporter", case)
    assert not policy.may(official, "see_contact", case)  # the phone stays masked
    for action in (
        "accept",
        "reject",
        "assign",
        "merge",
        "update",
        "note",
        "attach",
        "publish_attachment",
    ):
        _raises(Forbidden, official, action, case)
    writer = actor(world.official_writer)
    assert policy.may(writer, "accept", case) and policy.may(writer, "update", case)


def test_the_wrong_state_is_a_conflict_only_for_those_with_the_right(cats):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "closed")
    _raises(Conflict, actor(world.a.staff), "accept", case)
    _raises(Conflict, actor(world.a.staff), "update", case)
    _raises(Conflict, actor(world.a.resident), "confirm", case)  # no confirming a closed case
    assert policy.may(actor(world.a.staff), "reopen", case)
    _raises(Forbidden, actor(world.a.resident), "reopen", case)  # closed: the committee only


def test_a_merged_case_cannot_be_reopened_nor_rated(cats):
    world = cats
    staff = actor(world.a.staff)
    case, target = submit(world.a), submit(world.a, description="同一个问题，另一条。")
    workflow.merge_case(staff, case.id, target.id)
    db.session.commit()
    _raises(Conflict, staff, "reopen", case)
    assert "reopen" not in policy.allowed_actions(staff, case)
    _raises(Conflict, actor(world.a.resident), "rate", case)


def test_confirm_and_rate_are_the_reporters_and_its_proxys(cats):
    world = cats
    case = submit(world.a, by=actor(world.a.relative, act_for=world.a.elder))
    put_in_state(case, world.a, "resolved")
    for who in (actor(world.a.elder), actor(world.a.relative, act_for=world.a.elder)):
        assert policy.may(who, "confirm", case)
        _raises(Conflict, who, "rate", case)  # not closed yet
    _raises(Forbidden, actor(world.a.staff), "confirm", case)
    _raises(NotFound, actor(world.a.relative), "confirm", case)  # not acting for the elder
    put_in_state(case, world.a, "closed")
    assert policy.may(actor(world.a.elder), "rate", case)
    _raises(Forbidden, actor(world.a.staff), "rate", case)


def test_only_the_screen_that_filed_an_anonymous_case_acts_as_its_reporter(cats):
    world = cats
    screen = actor(device=world.a.device)
    case = submit(world.a, by=screen, anonymous=True, code="environment")
    assert policy.may(screen, "attach", case)  # while submitted
    put_in_state(case, world.a, "resolved")
    assert policy.may(screen, "confirm", case)
    _raises(Forbidden, screen, "attach", case)
    _raises(Forbidden, actor(world.a.resident), "confirm", case)
    _raises(Forbidden, screen, "support", case)  # a screen never says "me too"


def test_support_is_for_neighbours_not_the_reporter(cats):
    world = cats
    case = submit(world.a)
    assert policy.may(actor(world.a.elder), "support", case)
    assert policy.may(actor(world.a.relative, act_for=world.a.elder), "support", case)
    _raises(Forbidden, actor(world.a.resident), "support", case)
    _raises(Forbidden, actor(world.a.staff), "support", case)  # not a resident of it
    put_in_state(case, world.a, "resolved")
    _raises(Conflict, actor(world.a.elder), "support", case)


def test_the_assignee_works_the_case_but_does_not_manage_it(cats):
    world = cats
    case = submit(world.a)
    put_in_state(case, world.a, "assigned")  # to the side's organization
    member = actor(world.a.org_member)
    assert policy.level(member, case) == "assignee"
    for action in ("start", "resolve", "note", "attach", "read_internal", "see_reporter"):
        assert policy.may(member, action, case), action
    for action in ("assign", "update", "publish_attachment"):
        _raises(Forbidden, member, action, case)
    for action in ("accept", "close"):  # not while assigned, whoever asks
        _raises(Conflict, member, action, case)


def test_contact_details_follow_the_people_rules(cats):
    world = cats
    case = submit(world.a)
    assert policy.may(actor(world.a.staff), "see_contact", case)
    assert policy.may(actor(world.admin), "see_contact", case)
    assert policy.may(actor(world.a.resident), "see_contact", case)  # their own
    assert not policy.may(actor(world.a.org_member), "see_contact", case)


def test_a_step_that_does_not_exist(cats):
    world = cats
    case = submit(world.a)
    with pytest.raises(Invalid):
        policy.rule_for(actor(world.a.staff), case, "note")
    with pytest.raises(ValueError):
        policy.may(actor(world.a.staff), "delete", case)


@pytest.mark.parametrize("status", CASE_STATUSES)
def test_the_buttons_are_exactly_what_may_allows(cats, status):
    world = cats
    case = submit(world.a, by=actor(world.a.relative, act_for=world.a.elder))
    put_in_state(case, world.a, status)
    people = [
        world.a.elder,
        world.a.resident,
        world.a.staff,
        world.a.grid_worker,
        world.a.org_member,
        world.official,
        world.official_writer,
        world.admin,
        world.b.staff,
    ]
    buttons = (*rules.ACTIONS, "note", "attach", "rate", "support")
    for who in [actor(p) for p in people] + [actor(device=world.a.device)]:
        expected = []
        for action in buttons:
            try:
                policy.ensure(who, action, case)
            except DomainError:
                continue
            expected.append(action)
        assert policy.allowed_actions(who, case) == expected
        assert [a for a in buttons if policy.may(who, a, case)] == expected
