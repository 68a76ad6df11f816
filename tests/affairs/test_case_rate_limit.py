"""New cases an hour per person and per lobby screen (429 + Retry-After in the envelope);
keyed retries and refused requests do not count; workers taking cases down are not limited."""

import pytest

from app.affairs import intake
from app.extensions import db
from app.infra.errors import TooManyRequests
from app.models.case import Case
from app.models.notification import Notification
from tests.affairs.conftest import actor, image_bytes
from tests.affairs.test_attachments import _files

BODY = {"category_code": "repair", "description": "单元门禁坏了，门关不上"}


@pytest.fixture()
def low(app, monkeypatch):
    monkeypatch.setitem(app.config, "CASE_CREATE_PER_HOUR", 3)
    monkeypatch.setitem(app.config, "CASE_CREATE_PER_HOUR_DEVICE", 5)


def _create(client, headers, key=None, **body):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/cases", json={**BODY, **body}, headers={**headers, **extra})


def test_a_resident_gets_429_after_the_hourly_limit(client, cats, auth, low):
    headers = auth.headers(cats.a.resident)
    for i in range(3):
        assert _create(client, headers, description=f"第{i}件事，门关不上").status_code == 201
    r = _create(client, headers, description="第四件事")
    assert r.status_code == 429
    body = r.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert "居委会" in body["message"]
    assert 3500 < int(r.headers["Retry-After"]) <= 3601
    assert db.session.query(Case).count() == 3
    # Someone else is not affected.
    assert _create(client, auth.headers(cats.a.elder)).status_code == 201


def test_keyed_retries_and_refused_requests_do_not_count(client, cats, auth, low):
    headers = auth.headers(cats.a.resident)
    for _ in range(4):  # one case, sent four times over a flaky network
        r = _create(client, headers, key="phone-retry-1")
        assert r.status_code == 201
    assert _create(client, headers, description="").status_code == 422  # refused: not counted
    assert _create(client, headers, key="phone-retry-2").status_code == 201
    assert _create(client, headers, key="phone-retry-3").status_code == 201
    assert _create(client, headers, key="phone-retry-3").status_code == 201  # replayed
    assert _create(client, headers, key="phone-retry-4").status_code == 429
    assert db.session.query(Case).count() == 3


def test_a_family_proxy_counts_as_themselves(client, cats, auth, low):
    as_proxy = auth.headers(cats.a.relative, act_for=cats.a.elder)
    for _ in range(3):
        assert _create(client, as_proxy).status_code == 201
    assert _create(client, as_proxy).status_code == 429
    assert _create(client, auth.headers(cats.a.elder)).status_code == 201


def test_a_lobby_screen_has_a_higher_limit(client, cats, auth, low):
    screen = auth.headers(device=cats.a.device)
    body = {"category_code": "environment", "description": "垃圾桶满了", "anonymous": True}
    codes = [client.post("/api/v1/cases", json=body, headers=screen).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429]


def test_staff_taking_cases_down_are_not_limited(client, cats, auth, low):
    headers = auth.headers(cats.a.staff)
    body = {**BODY, "channel": "phone", "contact_name": "王阿姨", "contact_phone": "13912345678"}
    codes = [client.post("/api/v1/cases", json=body, headers=headers).status_code for _ in range(5)]
    assert codes == [201] * 5


def test_a_refused_submission_keeps_no_case_file_notice_or_reference(app, cats, auth, low):
    """Over the limit nothing of the submission stays: no case, no photo on disk, no notice to
    the resident, and no reference used up (references are gapless: the next case, a worker's,
    gets the very next number)."""
    who = actor(cats.a.resident)
    refs = []
    for i in range(3):
        case = intake.submit_case(who, category_code="repair", description=f"第{i}件")
        refs.append(case.reference)
        db.session.commit()
    notices = db.session.query(Notification).count()
    files = _files(app)
    with pytest.raises(TooManyRequests):
        intake.submit_case(
            who, category_code="repair", description="第四件", photos=[image_bytes("JPEG")]
        )
    db.session.rollback()
    assert db.session.query(Case).count() == 3
    assert db.session.query(Notification).count() == notices
    assert _files(app) == files
    # A worker's case (not limited) takes the next number: none was used up by the refusal.
    staff_case = intake.submit_case(
        actor(cats.a.staff),
        category_code="repair",
        description="电话报修",
        channel="phone",
        contact_name="王阿姨",
        contact_phone="13912345678",
    )
    db.session.commit()
    year, last = refs[-1].split("-")
    assert staff_case.reference == f"{year}-{int(last) + 1:06d}"
