"""The staff console's alert centre (/staff/alerts): the list (urgent on top), one-click
acknowledgement with CSRF, the badge on every staff page, the state JSON, the stream, scope."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models.notification import Notification
from app.people import notifications
from tests.pages import csrf_token as _csrf
from tests.pages import staff_login as _login


def _ack_form(page: str, note_id: int) -> bool:
    return f'action="/staff/alerts/{note_id}/acknowledge"' in page


def test_the_page_lists_my_alerts_urgent_on_top_and_acknowledges_in_one_click(client, cats):
    a = cats.a
    plain = notifications.notify(a.staff.id, "case_overdue", "超期：W1", "报修 · 1号楼")
    alert_note = notifications.notify(
        a.staff.id, "urgent_help", "紧急求助：测试", "请立即处理", urgent=True
    )
    theirs = notifications.notify(cats.b.staff.id, "case_overdue", "外社区", "…")
    db.session.commit()
    assert client.get("/staff/alerts").status_code == 302  # sign in first
    _login(client, a.staff)
    page = client.get("/staff/alerts").get_data(as_text=True)
    assert "提醒中心" in page and 'id="alert-badge"' in page
    assert page.index("紧急求助：测试") < page.index("超期：W1")  # urgent on top
    assert _ack_form(page, alert_note.id) and _ack_form(page, plain.id)
    assert "外社区" not in page
    # the badge: two not acknowledged, one urgent
    assert re.search(r'class="alert-num">2<', page)
    # without the CSRF token: refused
    assert client.post(f"/staff/alerts/{alert_note.id}/acknowledge").status_code == 400
    token = _csrf(client, "/staff/alerts")
    r = client.post(f"/staff/alerts/{alert_note.id}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/alerts")
    db.session.refresh(alert_note)
    assert alert_note.acknowledged_by_id == a.staff.id
    page = client.get("/staff/alerts").get_data(as_text=True)
    assert not _ack_form(page, alert_note.id) and "确认收到" in page and "已由" in page
    # another person's notice, or one that does not exist: 404
    for other in (theirs.id, 999999):
        r = client.post(f"/staff/alerts/{other}/acknowledge", data={"csrf_token": token})
        assert r.status_code == 404
    db.session.refresh(theirs)
    assert theirs.acknowledged_at is None
    # the script asks for JSON: the new counts
    r = client.post(
        f"/staff/alerts/{plain.id}/acknowledge",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200 and r.get_json()["unacknowledged"] == 0


def test_the_badge_is_on_every_staff_page_and_the_state_is_json(client, cats):
    a = cats.a
    notifications.notify(a.grid_worker.id, "urgent_help", "紧急求助", "…", urgent=True)
    db.session.commit()
    _login(client, a.grid_worker)
    for path in ("/staff/", "/staff/cases/"):
        page = client.get(path).get_data(as_text=True)
        assert 'id="alert-badge"' in page and "/static/staff/alerts.js" in page, path
        # The shared chime (the lobby screen's) comes before the script that plays it.
        assert page.index("/static/chime.js") < page.index("/static/staff/alerts.js"), path
        assert re.search(r'class="alert-num">1<', page), path
    state = client.get("/staff/alerts/state").get_json()
    newest = db.session.scalar(select(Notification.id).order_by(Notification.id.desc()))
    assert state == {
        "unacknowledged": 1,
        "urgent": 1,
        "newest_id": newest,
        "newest_urgent_id": newest,
    }
    listed = client.get("/staff/alerts/state?list=1").get_json()
    assert "紧急求助" in listed["html"] and "<ol" in listed["html"]
    assert client.get("/staff/alerts/state?lang=en").get_json()["urgent"] == 1


def test_english_page(client, cats):
    a = cats.a
    notifications.notify(a.staff.id, "case_assigned", "New work: X", "…")
    db.session.commit()
    _login(client, a.staff)
    page = client.get("/staff/alerts?lang=en").get_data(as_text=True)
    assert "Alert centre" in page and "Acknowledge" in page


def test_the_stream_rings_when_a_notice_arrives(app, cats):
    """The SSE stream in a real server thread: the first event says the newest id, a notice
    written in another request rings it."""
    import threading
    import time

    import requests

    from tests import factories as f
    from tests.live import ThreadedServer

    a = cats.a
    app.config["ALERT_STREAM_SECONDS"] = 20
    with ThreadedServer(app) as server:
        s = requests.Session()
        login = s.get(server.url + "/staff/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        s.post(
            server.url + "/staff/login",
            data={"login": a.staff.username, "password": f.PASSWORD, "csrf_token": token},
        )
        got: list[str] = []
        with s.get(server.url + "/staff/alerts/stream", stream=True, timeout=20) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            lines = r.iter_lines(decode_unicode=True)

            def later():
                time.sleep(0.5)
                with app.app_context():
                    notifications.notify(a.staff.id, "case_assigned", "New work", "…")
                    db.session.commit()

            threading.Thread(target=later).start()
            for line in lines:
                if line.startswith("data:"):
                    got.append(line)
                if len(got) == 2:
                    break
        assert got[0] == 'data: {"id": null}'
        newest = db.session.scalar(select(Notification.id).order_by(Notification.id.desc()))
        assert got[1] == f'data: {{"id": {newest}}}'


def test_the_chain_shows_on_the_case_page_for_staff(client, cats):
    from app.affairs import urgent
    from app.models.notification import HelpAlert
    from app.people.actors import Actor

    a = cats.a
    urgent.raise_urgent_help(Actor.for_person(a.elder), "救命，我摔倒了")
    db.session.commit()
    alert = db.session.scalars(select(HelpAlert)).one()
    note = db.session.scalars(
        select(Notification).where(
            Notification.alert_id == alert.id, Notification.person_id == a.grid_worker.id
        )
    ).one()
    _login(client, a.grid_worker)
    page = client.get("/staff/alerts").get_data(as_text=True)
    assert f'href="/staff/cases/{alert.case_id}"' in page and "打开诉求" in page
    token = _csrf(client, "/staff/alerts")
    client.post(f"/staff/alerts/{note.id}/acknowledge", data={"csrf_token": token})
    _login(client, a.staff)
    case_page = client.get(f"/staff/cases/{alert.case_id}").get_data(as_text=True)
    assert "已发出紧急求助提醒" in case_page and "紧急求助已确认收到" in case_page
    assert a.grid_worker.display_name in case_page
