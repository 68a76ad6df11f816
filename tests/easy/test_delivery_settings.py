"""How news about one's requests also reaches one: chosen in easy-mode settings or through
/api/v1/me, and respected when notices are sent (app/people/delivery.py)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.infra import uow
from app.models import Person
from app.models.delivery import DeliveryRecord
from app.people import notifications


def _person(person_id):
    db.session.rollback()
    return db.session.get(Person, person_id)


def test_choose_email_in_settings(easy, world):
    resident = world.a.resident
    easy.sign_in(resident)
    page = easy.page("/easy/settings")
    assert "怎样告诉您诉求的进展" in page and "只在这里看" in page
    # The phone number is shown masked, never in full.
    assert resident.phone not in page

    # E-mail without an address: a kind word, nothing saved.
    missing = easy.post("/easy/settings", {"notify_channel": "email"})
    assert missing.status_code == 422
    assert "请先填写您的电子邮箱" in missing.get_data(as_text=True)
    assert _person(resident.id).notify_channel == "none"

    wrong = easy.post("/easy/settings", {"email": "not an address"})
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.get_data(as_text=True)

    assert easy.post("/easy/settings", {"email": "Wang.Fang@Example.COM"}).status_code == 302
    assert easy.post("/easy/settings", {"notify_channel": "email"}).status_code == 302
    person = _person(resident.id)
    assert (person.notify_channel, person.email) == ("email", "Wang.Fang@example.com")
    page = easy.page("/easy/settings")
    assert 'value="Wang.Fang@example.com"' in page
    assert 'name="notify_channel" value="email" class="btn choice" aria-pressed="true"' in page

    # SMS: the page says where, masked.
    easy.post("/easy/settings", {"notify_channel": "sms"})
    page = easy.page("/easy/settings")
    masked = resident.phone[:3] + "****" + resident.phone[-4:]
    assert masked in page and resident.phone not in page


def test_choose_through_the_api_and_it_is_respected(client, auth, world):
    resident = world.a.resident
    headers = auth.headers(resident)
    bad = client.patch("/api/v1/me", headers=headers, json={"notify_channel": "email"})
    assert bad.status_code == 422 and "notify_channel" in bad.get_json()["errors"]
    ok = client.patch(
        "/api/v1/me",
        headers=headers,
        json={"notify_channel": "email", "email": "wang.fang@example.com"},
    )
    assert ok.status_code == 200, ok.get_json()
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert (me["notify_channel"], me["email"]) == ("email", "wang.fang@example.com")

    with notifications.in_locale_of(resident.id):
        notifications.notify(resident.id, "case_status", "您的诉求", "现在：处理中。")
        notifications.notify(world.a.elder.id, "case_status", "您的诉求", "现在：处理中。")
    uow.commit()
    rows = db.session.execute(select(DeliveryRecord.person_id, DeliveryRecord.channel)).all()
    assert rows == [(resident.id, "email")]  # the elder chose nothing

    off = client.patch("/api/v1/me", headers=headers, json={"notify_channel": "none"})
    assert off.status_code == 200
