"""Notices that also go out by SMS or e-mail, on the channel each person chose.

`queue_notice` follows every new notice (`notifications.notify` calls it) and adds a
`DeliveryRecord` in the same transaction — nothing is sent inside a request. The job
"deliveries" (`deliveries_job`: `flask jobs run`, and each process's loop, which sends in a
thread of its own) sends what is due after commit through the one interface of
app/infra/outbound.py (`deliver_due`):

- a record is claimed with one atomic UPDATE … WHERE status = 'queued' (SQLite and
  PostgreSQL), committed before the send, so two workers never send the same record;
- a failure that another try may fix waits DELIVERY_RETRY_SECONDS, doubled each time, up to
  DELIVERY_MAX_ATTEMPTS tries; a permanent one (bad number, refused address) fails at once;
- quiet hours (DELIVERY_QUIET_HOURS in the local time zone) hold everything but urgent help
  until the morning;
- a channel without settings (the default install) records "skipped", and nothing fails.
A record claimed but never finished (the worker died mid-send) is marked failed after
DELIVERY_CLAIM_SECONDS, never sent again: it may have gone out. `retry_delivery` (the CLI) puts
a failed or skipped record back in the queue by hand.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from app.extensions import db
from app.infra import outbound, uow
from app.infra.errors import Conflict, NotFound
from app.infra.text import mask_email, mask_phone
from app.models import Person
from app.models.base import utcnow
from app.models.delivery import (
    FAILED,
    NOTIFY_EMAIL,
    NOTIFY_NONE,
    NOTIFY_SMS,
    QUEUED,
    SENDING,
    SENT,
    SKIPPED,
    DeliveryRecord,
)
from app.models.notification import Notification
from app.people.locale import in_locale_of

log = logging.getLogger("linli.delivery")

# Kinds that go out at once, quiet hours or not.
URGENT_KINDS = frozenset({"urgent_help"})

NOT_CONFIGURED = "not configured"
NO_ADDRESS = "no address"
CHANNEL_CHANGED = "the person changed how notices reach them"


def address_of(person: Person, channel: str) -> str | None:
    """Where a channel reaches the person (phone for SMS, e-mail address for e-mail)."""
    if channel == NOTIFY_SMS:
        return person.phone or None
    if channel == NOTIFY_EMAIL:
        return person.email or None
    return None


def masked(channel: str, address: str | None) -> str | None:
    """An address as it may be shown: 138****5678, w***@example.com."""
    return mask_phone(address) if channel == NOTIFY_SMS else mask_email(address)


# --- quiet hours ----------------------------------------------------------------------------------
def quiet_hours(config=None) -> tuple[time, time] | None:
    """(start, end) local times from DELIVERY_QUIET_HOURS ("21:00-08:00"), or None."""
    raw = ((config or current_app.config).get("DELIVERY_QUIET_HOURS") or "").strip()
    if not raw:
        return None
    start, _, end = raw.partition("-")
    try:
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        log.warning("DELIVERY_QUIET_HOURS %r is not HH:MM-HH:MM; no quiet hours", raw)
        return None


def release_at(now: datetime, kind: str, config=None) -> datetime:
    """When a delivery of `kind` may go out, given `now`: at once, or when quiet hours end."""
    config = config or current_app.config
    span = quiet_hours(config)
    if span is None or kind in URGENT_KINDS:
        return now
    start, end = span
    zone = ZoneInfo(config.get("TIMEZONE") or "Asia/Shanghai")
    local = now.astimezone(zone)
    clock = local.time()
    crosses_midnight = start > end
    if crosses_midnight:
        quiet = clock >= start or clock < end
    else:
        quiet = start <= clock < end
    if not quiet:
        return now
    day = local.date()
    if crosses_midnight and clock >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


# --- queueing (in the request's transaction) ------------------------------------------------------
def queue_notice(note: Notification) -> DeliveryRecord | None:
    """Queue a notice on the channel its person chose (listener of "notice"); None when they
    chose none. Flushes; sends nothing."""
    person = db.session.get(Person, note.person_id)
    if person is None or not person.is_active:
        return None
    channel = person.notify_channel or NOTIFY_NONE
    if channel not in (NOTIFY_SMS, NOTIFY_EMAIL):
        return None
    config = current_app.config
    now = utcnow()
    address = address_of(person, channel)
    record = DeliveryRecord(
        person_id=person.id,
        notification_id=note.id,
        channel=channel,
        kind=note.kind,
        address_masked=masked(channel, address),
        status=QUEUED,
        next_attempt_at=release_at(now, note.kind, config),
    )
    if not outbound.configured(channel, config):
        record.status, record.last_error = SKIPPED, NOT_CONFIGURED
    elif address is None:
        record.status, record.last_error = SKIPPED, NO_ADDRESS
    db.session.add(record)
    db.session.flush()
    return record


# --- sending (the job, after commit) --------------------------------------------------------------
def _message(record: DeliveryRecord, person: Person, address: str) -> outbound.Message:
    note = db.session.get(Notification, record.notification_id) if record.notification_id else None
    title = note.title if note else ""
    body = note.body if note else ""
    with in_locale_of(person.id):
        footer = _(
            "From Linli, your community service. To stop these messages, open Settings and "
            "change \u201cHow we tell you about your requests\u201d."
        )
        subject = title or _("A message from your community")
    return outbound.Message(
        channel=record.channel,
        to=address,
        subject=subject,
        body=f"{body}\n\n{footer}" if body else footer,
        kind=record.kind,
        reference=f"linli-delivery-{record.id}",
        params={"title": title, "detail": body},
    )


def claim(record_id: int, now: datetime, token: str) -> bool:
    """Take one due queued record for this worker: one atomic UPDATE, so of two workers at
    most one wins; counts the attempt. Committed at once, before anything is sent."""
    result = db.session.execute(
        update(DeliveryRecord)
        .where(
            DeliveryRecord.id == record_id,
            DeliveryRecord.status == QUEUED,
            DeliveryRecord.next_attempt_at <= now,
        )
        .values(
            status=SENDING,
            claimed_at=now,
            claim_token=token,
            attempts=DeliveryRecord.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    uow.commit()
    return result.rowcount == 1


def _backoff(attempts: int, config) -> timedelta:
    first = max(1, int(config["DELIVERY_RETRY_SECONDS"]))
    return timedelta(
        seconds=min(first * 2 ** max(0, attempts - 1), int(config["DELIVERY_RETRY_MAX_SECONDS"]))
    )


def _finish(record: DeliveryRecord, result: outbound.Result, now: datetime, config) -> str:
    """Write what one attempt came to; returns the record's new status."""
    if result.sent:
        record.status, record.sent_at, record.last_error = SENT, now, None
        record.provider_ref = (result.provider_ref or "")[:120] or None
    elif result.status == outbound.SKIPPED:
        record.status, record.last_error = SKIPPED, result.detail[:300]
    elif result.retry and record.attempts < config["DELIVERY_MAX_ATTEMPTS"]:
        record.status, record.last_error = QUEUED, result.detail[:300]
        record.next_attempt_at = release_at(now + _backoff(record.attempts, config), record.kind)
    else:
        record.status, record.last_error = FAILED, result.detail[:300]
    record.claim_token = None
    return record.status


def _send_one(record_id: int, now: datetime, config) -> str | None:
    token = uuid.uuid4().hex
    if not claim(record_id, now, token):
        return None  # another worker has it, or it is no longer due
    record = db.session.get(DeliveryRecord, record_id, populate_existing=True)
    person = db.session.get(Person, record.person_id)
    address = address_of(person, record.channel) if person and person.is_active else None
    if person is not None and (person.notify_channel or NOTIFY_NONE) != record.channel:
        # Chosen again since it was queued (e.g. "none" during the quiet hours it waited in).
        result = outbound.Result(outbound.SKIPPED, CHANNEL_CHANGED, retry=False)
    elif address is None:
        result = outbound.Result(outbound.SKIPPED, NO_ADDRESS, retry=False)
    elif not outbound.configured(record.channel, config):
        result = outbound.not_configured(record.channel)
    else:
        record.address_masked = masked(record.channel, address)
        message = _message(record, person, address)
        uow.commit()  # hold no transaction (nor SQLite's lock) while the provider answers
        try:
            result = outbound.send(message, config)
        except Exception as error:  # an adapter bug must not stop the round
            log.exception("delivery %s: adapter failed", record_id)
            result = outbound.Result(outbound.FAILED, f"error: {type(error).__name__}")
    status = _finish(record, result, now, config)
    uow.commit()
    if status != SENT:
        log.info("delivery %s: %s (%s)", record_id, status, record.last_error)
    return status


def _expire_claims(now: datetime, config) -> int:
    """Claimed records whose worker never finished: failed (they may have gone out)."""
    stale = now - timedelta(seconds=config["DELIVERY_CLAIM_SECONDS"])
    where = (DeliveryRecord.status == SENDING, DeliveryRecord.claimed_at < stale)
    if db.session.scalar(select(DeliveryRecord.id).where(*where).limit(1)) is None:
        return 0  # the usual round: no write, so SQLite's write lock is not taken
    result = db.session.execute(
        update(DeliveryRecord)
        .where(*where)
        .values(
            status=FAILED,
            claim_token=None,
            last_error="interrupted while sending; not sent again",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def deliver_due(now: datetime | None = None, sweep: bool = False) -> dict[str, int]:
    """Send the due queued records: one batch, or all of them (`sweep`); returns counts per
    outcome."""
    config = current_app.config
    counts = {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}
    counts["failed"] += _expire_claims(now or utcnow(), config)
    uow.commit()
    batch = int(config["DELIVERY_BATCH"])
    while True:
        clock = now or utcnow()
        query = select(DeliveryRecord.id).where(
            DeliveryRecord.status == QUEUED, DeliveryRecord.next_attempt_at <= clock
        )
        if release_at(clock, "", config) > clock:
            # Quiet hours now: a backlog from the day (a late round, a restarted worker, a
            # retry) waits for the morning too; urgent help goes out.
            query = query.where(DeliveryRecord.kind.in_(URGENT_KINDS))
        due = list(
            db.session.scalars(
                query.order_by(DeliveryRecord.next_attempt_at, DeliveryRecord.id).limit(batch)
            )
        )
        uow.commit()
        took = 0
        for record_id in due:
            status = _send_one(record_id, clock, config)
            if status is None:
                continue
            took += 1
            key = "retrying" if status == QUEUED else status
            counts[key] = counts.get(key, 0) + 1
        if not sweep or len(due) < batch or took == 0:
            return counts


class _Sender:
    """Per process: the loop's rounds run in their own thread, one at a time, so a slow SMTP
    server or SMS gateway never holds up the feed watcher that runs the jobs (and rings the
    lobby screens' doorbells)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None
        self.last: dict[str, int] = {}

    def kick(self, app) -> bool:
        """Start a round unless one is running in this process; True when started."""
        with self.lock:
            alive = self.thread is not None and self.pid == os.getpid() and self.thread.is_alive()
            if alive:
                return False
            self.pid = os.getpid()
            self.thread = threading.Thread(
                target=self._round, args=(app,), name="linli-deliveries", daemon=True
            )
            self.thread.start()
            return True

    def _round(self, app) -> None:
        with app.app_context():
            try:
                self.last = deliver_due(None, False)
            except Exception:
                uow.rollback()
                log.warning("delivery round failed", exc_info=True)
            finally:
                db.session.remove()


_SENDER = _Sender()


def deliveries_job(now: datetime | None, sweep: bool) -> dict[str, int]:
    """The job "deliveries": from `flask jobs run` (sweep) every due record, here and now; from
    each process's loop one batch, in the background."""
    if sweep or now is not None:
        return deliver_due(now, sweep)
    return {"started": int(_SENDER.kick(current_app._get_current_object()))}


# --- reading and retrying by hand (CLI) -----------------------------------------------------------
def delivery_view(record: DeliveryRecord) -> dict:
    """A record as shown anywhere: the address masked."""
    return {
        "id": record.id,
        "person_id": record.person_id,
        "notification_id": record.notification_id,
        "channel": record.channel,
        "kind": record.kind,
        "address": record.address_masked,
        "status": record.status,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "next_attempt_at": record.next_attempt_at,
        "sent_at": record.sent_at,
    }


def list_deliveries(*, status: str | None = None, limit: int = 50) -> list[dict]:
    """The newest delivery records (of one status), for the command line."""
    query = select(DeliveryRecord).order_by(DeliveryRecord.id.desc()).limit(limit)
    if status:
        query = query.where(DeliveryRecord.status == status)
    return [delivery_view(r) for r in db.session.scalars(query)]


def retry_delivery(record_id: int) -> DeliveryRecord:
    """Queue a failed or skipped record again, with fresh attempts (never a sent one)."""
    record = db.session.get(DeliveryRecord, record_id)
    if record is None:
        raise NotFound()
    if record.status not in (FAILED, SKIPPED):
        raise Conflict(_l("Only a failed or skipped delivery can be tried again."))
    record.status, record.attempts, record.claim_token = QUEUED, 0, None
    record.next_attempt_at = release_at(utcnow(), record.kind)
    db.session.flush()
    return record


def purge_deliveries(now: datetime) -> int:
    """Forget finished records older than DELIVERY_KEEP_DAYS (a purge, app/infra/housekeeping)."""
    cutoff = now - timedelta(days=current_app.config["DELIVERY_KEEP_DAYS"])
    result = db.session.execute(
        delete(DeliveryRecord)
        .where(
            DeliveryRecord.status.in_((SENT, FAILED, SKIPPED)), DeliveryRecord.updated_at < cutoff
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
