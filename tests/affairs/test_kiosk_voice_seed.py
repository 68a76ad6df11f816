"""What the kiosk and the voice assistant call (figures, progress in words), and the demo data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.affairs import queries, workflow
from app.assistant.services import AppServices, Caller
from app.extensions import db
from app.infra.errors import DomainError
from app.models.case import Case, CaseCategory, CaseEvent
from app.models.open311 import Open311Key
from tests.affairs.conftest import actor, put_in_state, submit


def test_community_figures_for_this_month_in_shanghai(cats, client, auth):
    world = cats
    start, _end = queries.month_bounds()
    inside = submit(world.a)  # now
    early = submit(world.a)
    early.created_at = start + timedelta(minutes=30)  # 00:30 on the 1st, Shanghai time
    before = submit(world.a)
    before.created_at = start - timedelta(minutes=1)  # 23:59 on the last day of last month
    submit(world.b)  # another community
    for case, rating, when in (
        (inside, 5, None),
        (early, 4, None),
        (before, 1, start - timedelta(hours=2)),
    ):
        put_in_state(case, world.a, "closed")
        case.rating = rating
        if when is not None:
            case.resolved_at = case.rated_at = when
        else:
            case.rated_at = case.resolved_at
    db.session.commit()
    kiosk = actor(device=world.a.device)
    assert queries.community_figures(kiosk, world.a.community.id) == {
        "received": 2,
        "resolved": 2,
        "avg_rating": 4.5,
    }
    with pytest.raises(DomainError) as error:
        queries.community_figures(kiosk, world.b.community.id)
    assert error.value.status_code == 404
    r = client.get(
        f"/api/v1/communities/{world.a.community.id}/case-figures",
        headers=auth.headers(device=world.a.device),
    )
    assert r.get_json() == {"received": 2, "resolved": 2, "avg_rating": 4.5}
    # A merged duplicate is not a second matter received.
    dup = submit(world.a)
    workflow.merge_case(actor(world.a.staff), dup.id, submit(world.a).id)
    db.session.commit()
    assert queries.community_figures(kiosk, world.a.community.id)["received"] == 3
    empty = queries.community_figures(actor(device=world.b.device), world.b.community.id)
    assert empty == {"received": 1, "resolved": 0, "avg_rating": None}


def _status(client, auth_headers, reference, lang=None):
    query = {"reference": reference, **({"lang": lang} if lang else {})}
    return client.get("/api/v1/cases/status-text", headers=auth_headers, query_string=query)


def test_progress_in_plain_words_respects_privacy(cats, client, auth):
    world = cats
    case = submit(world.a)
    workflow.assign_case(actor(world.a.staff), case.id, organization_id=world.a.organization.id)
    workflow.add_note(actor(world.a.org_member), case.id, "师傅明天上午上门", public=True)
    workflow.add_note(actor(world.a.staff), case.id, "内部：该户曾投诉", public=False)
    db.session.commit()
    ref = case.reference
    mine = _status(client, auth.headers(world.a.resident), ref).get_json()
    assert mine["text"] == (
        f"诉求 {ref}（报修（水电燃气））：已派单。由{world.a.organization.name}"
        f"办理。最新进展：师傅明天上午上门"
    )
    assert mine["digits"] == " ".join(ref) and mine["spoken"].startswith("二零")
    kiosk = _status(client, auth.headers(device=world.a.device), ref).get_json()["text"]
    assert kiosk == f"诉求 {ref}（报修（水电燃气））：已派单。"
    english = _status(client, auth.headers(device=world.a.device), ref, "en").get_json()
    assert english["text"] == f"Request {ref} (报修（水电燃气）): Assigned to a handler."
    words = "zero one two three four five six seven eight nine".split()
    year, serial = ref.split("-")
    assert english["spoken"] == (
        " ".join(words[int(c)] for c in year) + ", dash, " + " ".join(words[int(c)] for c in serial)
    )
    # The phone dialog's reply says "编号<reference>：" itself: it hears the same without it.
    heard = AppServices().case_status(Caller(actor(world.a.resident), "zh"), ref)
    assert heard["status_text"] == (
        f"报修（水电燃气），已派单。由{world.a.organization.name}办理。最新进展：师傅明天上午上门"
    )
    screen = actor(device=world.a.device)
    assert (
        AppServices().case_status(Caller(screen, "zh"), ref)["status_text"]
        == "报修（水电燃气），已派单"
    )
    assert (
        AppServices().case_status(Caller(screen, "en"), ref)["status_text"]
        == "报修（水电燃气），Assigned to a handler"
    )
    # A private matter: a neighbour hears only its status; another community hears nothing.
    private = submit(world.a, code="dispute", description="楼上噪音")
    text = _status(client, auth.headers(world.a.elder), private.reference).get_json()["text"]
    assert text == f"诉求 {private.reference}：已提交。"
    elder = Caller(actor(world.a.elder), "zh")
    assert AppServices().case_status(elder, private.reference)["status_text"] == "已提交"
    assert (
        AppServices().case_status(Caller(actor(world.a.elder), "en"), private.reference)[
            "status_text"
        ]
        == "Submitted"
    )
    assert _status(client, auth.headers(world.b.resident), ref).status_code == 404
    assert _status(client, auth.headers(world.a.resident), "2026-999999").status_code == 404
    assert _status(client, auth.headers(world.a.resident), "hello").status_code == 422
    assert _status(client, {}, ref).status_code == 401
    put_in_state(case, world.a, "resolved")
    text = _status(client, auth.headers(world.a.resident), ref.replace("-", " ")).get_json()
    assert text["text"].endswith("请告诉我们是否已经解决。")


def _seed(runner):
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_demo_data_is_alive_and_seeding_twice_duplicates_nothing(runner, client, db):
    first = _seed(runner)
    counts = [db.session.query(m).count() for m in (Case, CaseCategory, CaseEvent, Open311Key)]
    assert counts[0] >= 40 and counts[1] == 12 and counts[3] == 1
    second = _seed(runner)
    assert [
        db.session.query(m).count() for m in (Case, CaseCategory, CaseEvent, Open311Key)
    ] == counts
    assert first["open311"] == second["open311"]
    assert first["open311"]["jurisdiction_id"] == "heping"
    statuses = {s for (s,) in db.session.query(Case.status).distinct()}
    assert {
        "submitted",
        "accepted",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
        "rejected",
    } <= statuses
    channels = {c for (c,) in db.session.query(Case.channel).distinct()}
    assert {"app", "proxy", "phone", "counter", "kiosk", "voice", "patrol"} <= channels
    assert db.session.query(Case).filter(Case.escalated_at.is_not(None)).count() > 0
    assert db.session.query(Case).filter(Case.rating.is_not(None)).count() > 5
    assert db.session.query(Case).filter(Case.merged_into_id.is_not(None)).count() >= 1
    # The demo key files a case through Open311.
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": first["open311"]["api_key"],
            "jurisdiction_id": "heping",
            "service_code": "environment",
            "address_string": "3号楼门口",
            "description": "垃圾桶满了",
        },
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    # The kiosk's figures are not empty.
    kiosk = {"Authorization": f"Bearer {first['kiosk_token']}"}
    me = client.get("/api/v1/me", headers=kiosk).get_json()
    figures = client.get(
        f"/api/v1/communities/{me['device']['community_id']}/case-figures", headers=kiosk
    ).get_json()
    assert figures["received"] > 0
