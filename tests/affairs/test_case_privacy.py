"""A resident writes to the committee, never to the neighbours: what a resident says about their
case (notes, reopen reasons, rating comments, the description) reaches no public view — the
case API's public level, the reference lookup, progress in words (screen and voice), neighbours'
lists and easy mode; only the notes staff chose to publish do."""

from __future__ import annotations

import pytest

from app.affairs import queries, views, workflow
from app.assistant.services import AppServices, Caller
from app.extensions import db
from app.models.case import CaseEvent
from tests.affairs.conftest import actor, put_in_state, submit

DOOR = "门禁密码 4711#"
REASON = "还是不亮，钥匙在 3 单元 201 王阿姨家"
COMMENT = "师傅人很好，我家电话 13900001234"
STAFF_NEWS = "物业明天上午来修"


def _public_views(client, auth, world, case) -> str:
    """Everything a neighbour, the lobby screen and the screen's voice are shown of the case."""
    seen = []
    for headers in (auth.headers(world.a.elder), auth.headers(device=world.a.device)):
        seen.append(client.get(f"/api/v1/cases/{case.id}", headers=headers).get_json())
        seen.append(
            client.get(
                "/api/v1/cases/by-reference",
                headers=headers,
                query_string={"reference": case.reference},
            ).get_json()
        )
        seen.append(
            client.get(
                "/api/v1/cases/status-text",
                headers=headers,
                query_string={"reference": case.reference},
            ).get_json()
        )
        seen.append(
            client.get(
                "/api/v1/cases",
                headers=headers,
                query_string={"community_id": world.a.community.id, "status": "all"},
            ).get_json()
        )
    for who in (actor(world.a.elder), actor(device=world.a.device)):
        seen.append(AppServices().case_status(Caller(who, "zh"), case.reference))
    assert all(view for view in seen), seen
    return str(seen)


def _own_view(client, auth, world, case) -> str:
    return str(
        client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident)).get_json()
    )


def _staff_view(client, auth, world, case) -> str:
    return str(
        client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.staff)).get_json()
    )


@pytest.mark.parametrize("public", [False, True, None])
def test_a_residents_note_is_for_the_committee_and_themselves(client, cats, auth, public):
    world = cats
    case = submit(world.a)
    body = {"text": f"下午三点后在家，{DOOR}"}
    if public is not None:
        body["public"] = public
    r = client.post(
        f"/api/v1/cases/{case.id}/notes", headers=auth.headers(world.a.resident), json=body
    )
    assert r.status_code == 201 and r.get_json()["public"] is False
    stored = db.session.query(CaseEvent).filter_by(case_id=case.id, kind="note").one()
    assert stored.public is False and stored.actor_role == "reporter"
    assert DOOR not in _public_views(client, auth, world, case)
    assert DOOR in _staff_view(client, auth, world, case)
    # The resident reads their own note back (the family proxy acting for them too).
    assert DOOR in _own_view(client, auth, world, case)
    mine = [
        e
        for e in client.get(
            f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident)
        ).get_json()["timeline"]
        if e["kind"] == "note"
    ]
    assert mine and mine[0]["public"] is False


def test_a_proxys_note_for_the_elder_stays_inside_too(client, cats, auth):
    world = cats
    case = submit(world.a, by=actor(world.a.relative, act_for=world.a.elder))
    r = client.post(
        f"/api/v1/cases/{case.id}/notes",
        json={"text": DOOR, "public": True},
        headers=auth.headers(world.a.relative, act_for=world.a.elder),
    )
    assert r.status_code == 201 and r.get_json()["public"] is False
    neighbour = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.resident))
    assert neighbour.status_code == 200 and DOOR not in str(neighbour.get_json())
    elder = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.elder))
    assert DOOR in str(elder.get_json())


def test_staff_publish_what_they_choose(client, cats, auth):
    world = cats
    case = submit(world.a)
    staff = auth.headers(world.a.staff)
    client.post(
        f"/api/v1/cases/{case.id}/notes", headers=staff, json={"text": STAFF_NEWS, "public": True}
    )
    client.post(
        f"/api/v1/cases/{case.id}/notes",
        headers=staff,
        json={"text": "内部：该户曾投诉", "public": False},
    )
    client.post(
        f"/api/v1/cases/{case.id}/notes",
        headers=auth.headers(world.a.resident),
        json={"text": DOOR, "public": True},
    )
    seen = _public_views(client, auth, world, case)
    assert STAFF_NEWS in seen
    assert "该户曾投诉" not in seen and DOOR not in seen
    assert world.a.resident.display_name not in seen and world.a.resident.phone not in seen
    # The reporter hears staff news as the latest, not their own words read back.
    heard = AppServices().case_status(Caller(actor(world.a.resident), "zh"), case.reference)
    assert STAFF_NEWS in heard["status_text"] and DOOR not in heard["status_text"]


def test_reopen_reasons_and_rating_comments_stay_inside(client, cats, auth):
    world = cats
    case = submit(world.a, description=f"楼道灯坏了，{DOOR}")
    put_in_state(case, world.a, "resolved")
    resident = auth.headers(world.a.resident)
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        headers=resident,
        json={"action": "reopen", "note": REASON, "public": True},
    )
    assert r.status_code == 200, r.get_json()
    put_in_state(case, world.a, "resolved")
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        headers=resident,
        json={"action": "confirm", "rating": 5, "comment": COMMENT},
    )
    assert r.status_code == 200, r.get_json()
    seen = _public_views(client, auth, world, case)
    for secret in (DOOR, REASON, COMMENT, "13900001234"):
        assert secret not in seen
    # The steps themselves are public: the neighbours see that it was reopened and confirmed.
    public = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.elder))
    assert {"reopen", "confirm"} <= {e["kind"] for e in public.get_json()["timeline"]}
    own, full = _own_view(client, auth, world, case), _staff_view(client, auth, world, case)
    assert REASON in own and COMMENT in own and DOOR in own
    assert REASON in full and COMMENT in full and DOOR in full


def test_a_screens_reopen_reason_stays_inside(client, cats, auth):
    world = cats
    case = submit(world.a, by=actor(device=world.a.device), anonymous=True, code="environment")
    put_in_state(case, world.a, "resolved")
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        headers=auth.headers(device=world.a.device),
        json={"action": "reopen", "note": REASON},
    )
    assert r.status_code == 200, r.get_json()
    assert REASON not in _public_views(client, auth, world, case)
    assert REASON in _staff_view(client, auth, world, case)


def test_easy_mode_shows_the_resident_their_own_note(client, cats, auth):
    world = cats
    case = submit(world.a)
    workflow.add_note(actor(world.a.resident), case.id, DOOR, public=True)
    db.session.commit()
    view = views.case_view(
        actor(world.a.resident), queries.get_case(actor(world.a.resident), case.id)
    )
    assert any(e["note"] == DOOR for e in view["timeline"])
    from app.residents import easy

    assert any(
        e["note"] == DOOR
        for e in easy.case_for_resident(actor(world.a.resident), case.id)["timeline"]
    )


def test_the_migration_makes_notes_residents_wrote_before_internal(cats):
    # Notes written before the fix were stored public; the data migration takes them back.
    import importlib.util
    from pathlib import Path

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    world = cats
    case = submit(world.a)
    mine = workflow.add_note(actor(world.a.resident), case.id, DOOR)
    theirs = workflow.add_note(
        actor(world.a.relative, act_for=world.a.elder),
        submit(world.a, by=actor(world.a.relative, act_for=world.a.elder)).id,
        DOOR,
    )
    staff_public = workflow.add_note(actor(world.a.staff), case.id, STAFF_NEWS, public=True)
    staff_internal = workflow.add_note(actor(world.a.staff), case.id, "内部", public=False)
    put_in_state(case, world.a, "resolved")
    reopen = workflow.transition(actor(world.a.resident), case.id, "reopen", note=REASON)
    db.session.commit()
    db.session.query(CaseEvent).filter(CaseEvent.id.in_([mine.id, theirs.id])).update(
        {"public": True}
    )  # as the old code stored them
    db.session.commit()
    path = Path(__file__).parents[2] / "migrations/versions/0009_resident_notes_private.py"
    spec = importlib.util.spec_from_file_location("resident_notes_private", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with Operations.context(MigrationContext.configure(db.session.connection())):
        migration.upgrade()
    db.session.commit()
    db.session.expire_all()
    public = {e.id: e.public for e in db.session.query(CaseEvent)}
    assert public[mine.id] is False and public[theirs.id] is False
    assert public[staff_public.id] is True and public[staff_internal.id] is False
    [step] = [e for e in reopen.events if e.kind == "reopen"]
    assert public[step.id] is True  # the step stays public; its words are not published
    assert DOOR in _own_view_of(world.a.resident, case)


def _own_view_of(person, case) -> str:
    return str(views.case_view(actor(person), queries.get_case(actor(person), case.id)))
