"""Outbound delivery: notices go out by SMS or e-mail after commit, on the channel the person
chose, through real local servers (aiosmtpd; an HTTP stand-in for Alibaba Cloud SMS, see
tests/services/delivery_servers.py), with retries, quiet hours and no double sends."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.infra import jobs, outbound, uow
from app.models.delivery import DeliveryRecord
from app.people import delivery, notifications
from tests import factories
from tests.services.delivery_servers import SmsStandIn, SmtpServer, free_port

KEY_ID, SECRET = "LTAI-test-key", "test-secret-遥远"

# 22:30 in Shanghai (quiet), 07:59 and 08:00 the next morning.
NIGHT = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
BEFORE_MORNING = datetime(2026, 12, 3, 23, 59, tzinfo=UTC)
MORNING = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _daytime(monkeypatch, app):
    """No quiet hours unless a test sets them: what is sent must not depend on the hour the
    suite runs at (the quiet-hours tests set them and inject the time)."""
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")


@pytest.fixture()
def smtp():
    """A real SMTP server on 127.0.0.1."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture()
def sms():
    """The Alibaba Cloud SMS stand-in (the real service cannot be reached from here)."""
    server = SmsStandIn({KEY_ID: SECRET}).start()
    yield server
    server.stop()


def use_smtp(monkeypatch, app, port):
    """Configure e-mail for this test."""
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_FROM": "邻里社区 <noreply@linli.example>",
        "SMTP_TIMEOUT": 5,
    }.items():
        monkeypatch.setitem(app.config, key, value)


def use_sms(monkeypatch, app, url, secret=SECRET):
    """Configure Alibaba Cloud SMS, pointed at the stand-in."""
    for key, value in {
        "SMS_PROVIDER": "aliyun",
        "SMS_ENDPOINT": url,
        "SMS_ACCESS_KEY_ID": KEY_ID,
        "SMS_ACCESS_KEY_SECRET": secret,
        "SMS_SIGN_NAME": "邻里社区",
        "SMS_TEMPLATE_CODE": "SMS_100000001",
        "SMS_TEMPLATE_CODES": {"urgent_help": "SMS_100000009"},
        "SMS_TIMEOUT": 5,
    }.items():
        monkeypatch.setitem(app.config, key, value)


@pytest.fixture()
def at(monkeypatch):
    """Set the clock queueing reads: at(NIGHT)."""

    def set_clock(when):
        monkeypatch.setattr(delivery, "utcnow", lambda: when)

    return set_clock


def chooses(person, channel, email=None):
    """The person's preference, committed."""
    person.notify_channel = channel
    person.email = email
    _db.session.commit()
    return person


def tell(person, kind="case_status", title="您的诉求 HP-0001", body="现在：已办结。"):
    """A notice for the person (as a feature sends it), committed as a request would."""
    with notifications.in_locale_of(person.id):
        note = notifications.notify(person.id, kind, title, body, link="/api/v1/cases/1")
    uow.commit()
    return note


def records():
    """Every delivery record, oldest first."""
    _db.session.expire_all()
    return list(_db.session.scalars(select(DeliveryRecord).order_by(DeliveryRecord.id)))


def run_job(now=None):
    """The job "deliveries", as the loop or cron runs it."""
    return jobs.run_due(now, only=["deliveries"])["deliveries"]


# --- the default install, preferences -------------------------------------------------------------
def test_default_install_records_not_configured_and_nothing_fails(world, monkeypatch, app):
    for key in ("SMTP_HOST", "SMS_PROVIDER"):
        monkeypatch.setitem(app.config, key, None)
    chooses(world.a.resident, "sms")
    chooses(world.a.elder, "email", "elder@example.com")
    tell(world.a.resident)
    tell(world.a.elder)
    assert [(r.channel, r.status, r.last_error) for r in records()] == [
        ("sms", "skipped", "not configured"),
        ("email", "skipped", "not configured"),
    ]
    assert run_job() == {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}


def test_no_channel_chosen_no_delivery(world, smtp, monkeypatch, app):
    use_smtp(monkeypatch, app, smtp.port)
    assert world.a.resident.notify_channel == "none"  # the default
    tell(world.a.resident)
    assert records() == []
    run_job()
    assert smtp.messages == []


# --- e-mail over a real SMTP server ---------------------------------------------------------------
def test_email_goes_out_after_commit_in_chinese(world, smtp, monkeypatch, app):
    use_smtp(monkeypatch, app, smtp.port)
    resident = chooses(world.a.resident, "email", "wang.fang@example.com")
    with notifications.in_locale_of(resident.id):
        notifications.notify(resident.id, "case_status", "您的诉求 HP-0001", "现在：已办结。")
    # Queued in the transaction, nothing sent inside it; a rollback leaves nothing behind.
    assert [r.status for r in records()] == ["queued"]
    uow.rollback()
    assert records() == []

    tell(resident)
    assert smtp.messages == []  # the request's commit sends nothing
    assert run_job() == {"sent": 1, "retrying": 0, "failed": 0, "skipped": 0}
    [mail] = smtp.messages
    assert mail["Subject"] == "您的诉求 HP-0001"
    assert mail["To"] == "wang.fang@example.com"
    assert mail["From"] == "邻里社区 <noreply@linli.example>"
    assert mail["X-Linli-Kind"] == "case_status"
    assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
    text = mail.get_content()
    assert text.startswith("现在：已办结。")
    assert "设置" in text  # the footer, in the resident's language
    assert smtp.inbox.envelopes[0].rcpt_tos == ["wang.fang@example.com"]
    [record] = records()
    assert (record.status, record.attempts, record.last_error) == ("sent", 1, None)
    assert record.sent_at is not None and record.provider_ref == mail["Message-ID"].strip()
    assert record.address_masked == "w***@example.com"

    run_job()  # sent once is never sent again
    assert len(smtp.messages) == 1


# A test server on 127.0.0.1 takes AUTH over plain TCP; aiosmtpd warns about that.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login(world, monkeypatch, app):
    server = SmtpServer(users={"linli": "s3cret-pass"}).start()
    try:
        use_smtp(monkeypatch, app, server.port)
        monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
        monkeypatch.setitem(app.config, "SMTP_USER", "linli")
        monkeypatch.setitem(app.config, "SMTP_PASSWORD", "wrong")
        tell(chooses(world.a.resident, "email", "wang.fang@example.com"))
        run_job()
        record = records()[0]
        assert record.status == "queued" and "login failed" in record.last_error
        monkeypatch.setitem(app.config, "SMTP_PASSWORD", "s3cret-pass")
        run_job(record.next_attempt_at)
        assert records()[0].status == "sent" and server.logins == ["linli"]
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_a_refused_address_fails_without_retry(world, smtp, monkeypatch, app):
    use_smtp(monkeypatch, app, smtp.port)
    smtp.inbox.refuse.add("nobody@example.com")
    tell(chooses(world.a.resident, "email", "nobody@example.com"))
    run_job()
    [record] = records()
    assert record.status == "failed" and record.attempts == 1
    assert "refused" in record.last_error
    assert "nobody" not in record.last_error  # kept and logged: the address is not in it
    assert smtp.messages == []


def test_retries_after_the_server_was_down(world, monkeypatch, app):
    port = free_port()  # nothing listens yet
    use_smtp(monkeypatch, app, port)
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
    monkeypatch.setitem(app.config, "DELIVERY_RETRY_SECONDS", 60)
    tell(chooses(world.a.resident, "email", "wang.fang@example.com"))
    start = records()[0].next_attempt_at

    assert run_job(start)["retrying"] == 1
    [record] = records()
    assert (record.status, record.attempts) == ("queued", 1)
    assert "unreachable" in record.last_error
    assert record.next_attempt_at == start + timedelta(seconds=60)

    server = SmtpServer(port).start()
    try:
        assert run_job(start + timedelta(seconds=30))["sent"] == 0  # not due yet
        assert server.messages == []
        assert run_job(start + timedelta(seconds=61))["sent"] == 1
        [record] = records()
        assert (record.status, record.attempts) == ("sent", 2)
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_gives_up_after_max_attempts_with_backoff(world, monkeypatch, app, runner):
    use_smtp(monkeypatch, app, free_port())
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
    monkeypatch.setitem(app.config, "DELIVERY_MAX_ATTEMPTS", 3)
    monkeypatch.setitem(app.config, "DELIVERY_RETRY_SECONDS", 10)
    tell(chooses(world.a.resident, "email", "wang.fang@example.com"))
    clock = records()[0].next_attempt_at
    waits = []
    for _ in range(3):
        run_job(clock)
        record = records()[0]
        waits.append((record.next_attempt_at - clock).total_seconds())
        clock = record.next_attempt_at
    assert record.status == "failed" and record.attempts == 3
    assert waits[:2] == [10, 20]  # doubled

    # By hand: `flask deliveries retry` queues it again; a sent one cannot be.
    result = runner.invoke(args=["deliveries", "retry", str(record.id)])
    assert result.exit_code == 0, result.output
    assert (records()[0].status, records()[0].attempts) == ("queued", 0)


# --- SMS through the Alibaba Cloud stand-in -------------------------------------------------------
def test_sms_signed_request_accepted_by_the_stand_in(world, sms, monkeypatch, app):
    use_sms(monkeypatch, app, sms.url)
    resident = chooses(world.a.resident, "sms")
    tell(resident)
    assert run_job()["sent"] == 1
    [params] = sms.accepted
    assert sms.rejected == []
    assert params["PhoneNumbers"] == resident.phone
    assert params["SignName"] == "邻里社区"
    assert params["TemplateCode"] == "SMS_100000001"
    assert json.loads(params["TemplateParam"]) == {
        "title": "您的诉求 HP-0001",
        "detail": "现在：已办结。",
    }
    [record] = records()
    assert params["OutId"] == f"linli-delivery-{record.id}"
    assert record.status == "sent" and record.provider_ref == "000001^0"
    assert record.address_masked == resident.phone[:3] + "****" + resident.phone[-4:]


def test_sms_with_a_wrong_secret_is_refused_and_not_retried(world, sms, monkeypatch, app):
    use_sms(monkeypatch, app, sms.url, secret="not-the-secret")
    tell(chooses(world.a.resident, "sms"))
    run_job()
    assert sms.accepted == [] and sms.rejected[0][0] == "SignatureDoesNotMatch"
    [record] = records()
    assert record.status == "failed" and "SignatureDoesNotMatch" in record.last_error


def test_sms_rate_limit_is_retried(world, sms, monkeypatch, app):
    use_sms(monkeypatch, app, sms.url)
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
    sms.answer_code = "isv.BUSINESS_LIMIT_CONTROL"
    tell(chooses(world.a.resident, "sms"))
    run_job()
    record = records()[0]
    assert record.status == "queued" and "BUSINESS_LIMIT_CONTROL" in record.last_error
    sms.answer_code = None
    run_job(record.next_attempt_at)
    assert records()[0].status == "sent" and len(sms.accepted) == 1


def test_signature_matches_alibaba_clouds_published_example():
    # The worked example of Alibaba Cloud SMS's "HTTP协议及签名" page (testId / testSecret).
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert outbound.aliyun_signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


# --- quiet hours ----------------------------------------------------------------------------------
def test_quiet_hours_hold_until_morning_but_not_urgent_help(world, smtp, monkeypatch, app, at):
    use_smtp(monkeypatch, app, smtp.port)
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "21:00-08:00")
    resident = chooses(world.a.resident, "email", "wang.fang@example.com")
    staff = chooses(world.a.staff, "email", "staff@example.com")
    elder = chooses(world.a.elder, "email", "li.nainai@example.com")
    # Queued in the afternoon but still waiting when the night comes (no round ran, a worker
    # restarted): quiet hours were asked only when queueing, so it went out in the night.
    at(NIGHT - timedelta(hours=8))  # 14:30 in Asia/Shanghai
    tell(elder)
    at(NIGHT)
    tell(resident)
    tell(staff, kind="urgent_help", title="紧急求助：王芳", body="3号楼2单元")
    backlog, held, urgent = records()
    assert held.next_attempt_at == MORNING  # 08:00 Asia/Shanghai
    assert urgent.next_attempt_at == NIGHT
    assert backlog.next_attempt_at < NIGHT

    assert run_job(NIGHT)["sent"] == 1  # urgent help goes out at once, nothing else
    assert [m["To"] for m in smtp.messages] == ["staff@example.com"]
    assert run_job(BEFORE_MORNING)["sent"] == 0
    assert run_job(MORNING)["sent"] == 2
    assert sorted(m["To"] for m in smtp.messages[1:]) == [
        "li.nainai@example.com",
        "wang.fang@example.com",
    ]


def test_a_notice_held_overnight_follows_the_channel_chosen_since(
    world, smtp, monkeypatch, app, at
):
    # Held for the morning, then the resident chose "none" (the footer says how): it was sent
    # all the same, on the channel of the evening before.
    use_smtp(monkeypatch, app, smtp.port)
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "21:00-08:00")
    resident = chooses(world.a.resident, "email", "wang.fang@example.com")
    at(NIGHT)
    tell(resident)
    resident.notify_channel = "none"
    _db.session.commit()
    assert run_job(MORNING)["sent"] == 0
    assert smtp.messages == []
    [held] = records()
    assert held.status == "skipped" and held.last_error == delivery.CHANNEL_CHANGED


def test_daytime_notices_go_at_once_and_quiet_hours_can_be_off(app):
    config = {**app.config, "DELIVERY_QUIET_HOURS": "21:00-08:00"}
    assert delivery.release_at(NOON, "case_status", config) == NOON
    early = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)  # 03:00 in Shanghai
    assert delivery.release_at(early, "case_status", config) == MORNING
    assert delivery.release_at(NIGHT, "case_status", {**config, "DELIVERY_QUIET_HOURS": ""}) == (
        NIGHT
    )


# --- two workers at once --------------------------------------------------------------------------
def _in_threads(app, fn, n=2):
    barrier = threading.Barrier(n)
    errors, results = [], []

    def work():
        with app.app_context():
            try:
                barrier.wait()
                results.append(fn())
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return results


def test_one_claim_wins(world, monkeypatch, app):
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
    use_smtp(monkeypatch, app, free_port())
    tell(chooses(world.a.resident, "email", "wang.fang@example.com"))
    [record] = records()
    now = record.next_attempt_at
    wins = _in_threads(app, lambda: delivery.claim(record.id, now, "t"), n=4)
    assert sorted(wins) == [False, False, False, True]
    assert records()[0].attempts == 1


def test_no_double_send_when_two_workers_run_the_job(world, monkeypatch, app):
    server = SmtpServer(delay=0.02).start()
    try:
        use_smtp(monkeypatch, app, server.port)
        monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
        monkeypatch.setitem(app.config, "DELIVERY_BATCH", 5)
        people = [
            chooses(factories.resident(world.a.community), "email", f"r{i}@example.com")
            for i in range(12)
        ]
        for person in people:
            tell(person)
        results = _in_threads(app, lambda: delivery.deliver_due(None, True))
        assert sum(r["sent"] for r in results) == 12
        assert all(r["sent"] > 0 for r in results)  # both really worked at once
        assert sorted(m["To"] for m in server.messages) == sorted(p.email for p in people)
        assert {r.status for r in records()} == {"sent"}
        assert {r.attempts for r in records()} == {1}
        results = _in_threads(app, lambda: delivery.deliver_due(None, True))
        assert len(server.messages) == 12
    finally:
        server.stop()


def test_a_send_interrupted_mid_way_is_not_sent_again(world, smtp, monkeypatch, app):
    use_smtp(monkeypatch, app, smtp.port)
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
    tell(chooses(world.a.resident, "email", "wang.fang@example.com"))
    [record] = records()
    assert delivery.claim(record.id, record.next_attempt_at, "dead-worker")  # then it died
    later = record.next_attempt_at + timedelta(seconds=app.config["DELIVERY_CLAIM_SECONDS"] + 1)
    assert run_job(later)["failed"] == 1
    assert records()[0].status == "failed" and smtp.messages == []


# --- what is shown: masked ------------------------------------------------------------------------
def test_addresses_are_masked_wherever_shown(world, runner, monkeypatch, app):
    use_sms(monkeypatch, app, "http://127.0.0.1:9/")
    resident = chooses(world.a.resident, "sms")
    elder = chooses(world.a.elder, "email", "zhao.shuzhen@example.com")
    tell(resident)
    tell(elder)
    output = runner.invoke(args=["deliveries", "list"]).output
    assert resident.phone not in output and "zhao.shuzhen" not in output
    assert resident.phone[:3] + "****" + resident.phone[-4:] in output
    assert "z***@example.com" in output
    for row in delivery.list_deliveries():
        assert resident.phone not in json.dumps(row, default=str)


# --- end to end: a staff action on a case reaches the resident by SMS ----------------------------
def test_a_case_update_reaches_the_resident_by_sms_after_the_request(
    client, auth, cats, sms, monkeypatch, app
):
    from tests.affairs.conftest import submit

    use_sms(monkeypatch, app, sms.url)
    monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
    world = cats
    resident = chooses(world.a.resident, "sms")
    case = submit(world.a)
    staff = auth.headers(world.a.staff)
    r = client.post(
        f"/api/v1/cases/{case.id}/assignment",
        headers=staff,
        json={"person_id": world.a.grid_worker.id},
    )
    assert r.status_code == 200, r.get_json()
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        json={"action": "start"},
        headers=auth.headers(world.a.grid_worker),
    )
    assert r.status_code == 200
    assert sms.accepted == []  # the request sent nothing itself
    mine = [r for r in records() if r.person_id == resident.id]
    assert mine and {r.status for r in mine} == {"queued"}

    run_job()
    to_resident = [p for p in sms.accepted if p["PhoneNumbers"] == resident.phone]
    assert len(to_resident) == len(mine)
    assert any(case.reference in json.loads(p["TemplateParam"])["title"] for p in to_resident)
    assert {r.status for r in records() if r.person_id == resident.id} == {"sent"}


def test_finished_records_are_forgotten_after_the_keep_days(world, monkeypatch, app):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", None)
    tell(chooses(world.a.resident, "sms"))  # skipped: not configured
    [record] = records()
    keep = timedelta(days=app.config["DELIVERY_KEEP_DAYS"])
    assert delivery.purge_deliveries(record.updated_at + keep - timedelta(hours=1)) == 0
    assert delivery.purge_deliveries(record.updated_at + keep + timedelta(hours=1)) == 1
    uow.commit()
    assert records() == []


def test_the_loop_sends_in_its_own_thread(world, monkeypatch, app):
    # The feed watcher runs the loop's jobs and rings the lobby screens' doorbells: a slow mail
    # server must not hold it up.
    server = SmtpServer(delay=2.0).start()
    try:
        use_smtp(monkeypatch, app, server.port)
        monkeypatch.setitem(app.config, "DELIVERY_QUIET_HOURS", "")
        tell(chooses(world.a.resident, "email", "wang.fang@example.com"))
        began = time.monotonic()
        assert jobs.run_due(schedule=jobs.Schedule(), only=["deliveries"]) == {
            "deliveries": {"started": 1}
        }
        assert time.monotonic() - began < 1.5
        assert delivery.deliveries_job(None, False) == {"started": 0}  # one round at a time
        delivery._SENDER.thread.join(30)
        assert len(server.messages) == 1
        assert delivery._SENDER.last["sent"] == 1
        assert records()[0].status == "sent"
    finally:
        server.stop()
