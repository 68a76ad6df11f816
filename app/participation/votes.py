"""Consultations and votes (议事协商): the committee opens a topic with options, a voting window
and who may vote (the community, a building, a grid), or a resident proposes one and it opens
once enough households second it; one vote per household, changeable until the close (a later
vote by another member of the household replaces the earlier one); invited parties comment; the
committee closes it, records the minutes and the decision, and announces the decision.

Every verb takes the Actor first; who may do what is in votes_policy. A vote is one upsert on
the (consultation, household) unique key, so racing votes never count twice; members of one
household vote one after another (its row is locked), so the points and "replaced" follow the
real order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.demo import seed_hook
from app.extensions import db
from app.infra import events, uow
from app.infra.errors import Conflict, Forbidden, NotFound, invalid_field
from app.infra.text import clean_text, utc_time
from app.models import Building, Grid, Household
from app.models.base import utcnow
from app.models.consultation import (
    PARTIES,
    SCOPES,
    Consultation,
    ConsultationComment,
    ConsultationOption,
    ConsultationSecond,
    ConsultationVote,
)
from app.notices.common import local_zone
from app.participation import points, screen_identity
from app.participation.votes_policy import (
    effective_status,
    ensure,
    in_scope,
    may,
    party_of,
    voter_household,
)
from app.people import authz
from app.people.actors import Actor

TITLE_MAX = 120
BODY_MAX = 4000
OPTION_MAX = 80
COMMENT_MAX = 1000
MIN_OPTIONS, MAX_OPTIONS = 2, 9
# Stored as data in the community's language, like every option staff type.
DEFAULT_OPTIONS = ("同意", "不同意", "弃权")

# Told to every voter, on every channel, before and after they vote.
RULE = _l(
    "One vote per household: a vote by anyone in your household replaces the earlier one. "
    "You can change it until the vote closes."
)


# --- input ---------------------------------------------------------------------------------------
def _aware(value, field: str) -> datetime | None:
    return utc_time(value, field, local_zone())


def _options(labels) -> list[str]:
    if not isinstance(labels, list | tuple):
        raise invalid_field("options", _l("Give the choices as a list."))
    cleaned = [clean_text(label, "options", max_length=OPTION_MAX) for label in labels]
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise invalid_field(
            "options", _l("Give from %(lo)d to %(hi)d choices.", lo=MIN_OPTIONS, hi=MAX_OPTIONS)
        )
    if len(set(cleaned)) != len(cleaned):
        raise invalid_field("options", _l("Each choice must be different."))
    return cleaned


def _invited(value) -> list[str]:
    value = list(value or [])
    for party in value:
        if party not in PARTIES:
            raise invalid_field("invited", _l("Unknown party."))
    return [p for p in PARTIES if p in value]


def _place(community_id: int, scope: str, building_id, grid_id) -> tuple[int | None, int | None]:
    if scope not in SCOPES:
        raise invalid_field("scope", _l("Choose the community, a building or a grid."))
    if scope == "building":
        b = db.session.get(Building, building_id) if building_id else None
        if b is None or b.community_id != community_id:
            raise invalid_field("building_id", _l("Unknown building."))
        return b.id, None
    if scope == "grid":
        g = db.session.get(Grid, grid_id) if grid_id else None
        if g is None or g.community_id != community_id:
            raise invalid_field("grid_id", _l("Unknown grid."))
        return None, g.id
    return None, None


def _window(opens_at, closes_at, now: datetime) -> tuple[datetime, datetime]:
    opens_at = _aware(opens_at, "opens_at") or now
    closes_at = _aware(closes_at, "closes_at")
    if closes_at is None:
        closes_at = opens_at + timedelta(days=_voting_days())
    if closes_at <= opens_at:
        raise invalid_field("closes_at", _l("The end must come after the start."))
    if closes_at <= now:
        raise invalid_field("closes_at", _l("The end is already past."))
    return opens_at, closes_at


def _voting_days() -> int:
    return int(current_app.config.get("CONSULTATION_VOTING_DAYS", 7))


def seconds_needed(community_id: int) -> int:
    """How many households must support a resident's proposal before it opens.

    CONSULTATION_SECONDS (app config, default 5); CONSULTATION_SECONDS_BY_COMMUNITY maps a
    community's code to its own number."""
    cfg = current_app.config
    by_code = cfg.get("CONSULTATION_SECONDS_BY_COMMUNITY") or {}
    if by_code:
        from app.models import Community

        community = db.session.get(Community, community_id)
        if community is not None and community.code in by_code:
            return max(1, int(by_code[community.code]))
    return max(1, int(cfg.get("CONSULTATION_SECONDS", 5)))


def _resolve_community(actor: Actor, community_id: int | None) -> int:
    authz.require_person(actor)
    if community_id is not None:
        authz.ensure_manager(actor, community_id)
        return community_id
    mine = actor.staff_community_ids | actor.official_write_community_ids
    if len(mine) == 1:
        return next(iter(mine))
    if not mine and not actor.is_admin:
        raise Forbidden()
    raise invalid_field("community_id", _l("You work in several communities: choose one."))


def _ring(c: Consultation) -> None:
    """Tell the community's screens (after commit) that what they show may have changed."""
    events.changed("feed", c.community_id)


# --- reading -------------------------------------------------------------------------------------
def get(actor: Actor, consultation_id: int, action: str = "read") -> Consultation:
    """One consultation the actor may see (404 otherwise) and, when asked, act on."""
    authz.require_signed_in(actor)  # 401 before anything about the record is told
    c = db.session.get(Consultation, consultation_id)
    if c is None:
        raise NotFound()
    ensure(actor, action, c)
    return c


def option_counts(c: Consultation) -> dict[int, int]:
    """Votes per option id (0 for options nobody chose)."""
    rows = db.session.execute(
        select(ConsultationVote.option_id, func.count())
        .where(ConsultationVote.consultation_id == c.id)
        .group_by(ConsultationVote.option_id)
    ).all()
    counts = {o.id: 0 for o in c.options}
    counts.update({option_id: n for option_id, n in rows})
    return counts


def eligible_households(c: Consultation) -> int:
    """How many households may vote on `c`."""
    q = select(func.count(Household.id)).join(Building, Household.building_id == Building.id)
    q = q.where(Building.community_id == c.community_id)
    if c.scope == "building":
        q = q.where(Building.id == c.building_id)
    elif c.scope == "grid":
        q = q.where(Building.grid_id == c.grid_id)
    return db.session.scalar(q) or 0


def results(actor: Actor, consultation_id: int) -> dict:
    """Counts per option, live while the vote is open: numbers only, never who voted."""
    c = get(actor, consultation_id)
    counts = option_counts(c)
    return {
        "consultation_id": c.id,
        "status": effective_status(c),
        "options": [
            {"id": o.id, "position": o.position, "label": o.label, "votes": counts[o.id]}
            for o in c.options
        ],
        "households_voted": sum(counts.values()),
        "households_eligible": eligible_households(c),
    }


def household_vote(actor: Actor, c: Consultation) -> ConsultationVote | None:
    """The vote the actor's household has cast on `c`, if any."""
    household = voter_household(actor)
    if household is None:
        return None
    return db.session.scalar(
        select(ConsultationVote).where(
            ConsultationVote.consultation_id == c.id,
            ConsultationVote.household_id == household.id,
        )
    )


def list_for_resident(actor: Actor, *, open_only: bool = True) -> list[Consultation]:
    """The consultations of the actor's household: open ones (or every public one), soonest
    closing first."""
    authz.require_person(actor)
    household = voter_household(actor)
    if household is None:
        return []
    community_id = household.building.community_id
    statuses = ("open",) if open_only else ("proposed", "open", "closed", "decided")
    rows = db.session.scalars(
        select(Consultation)
        .where(Consultation.community_id == community_id, Consultation.status.in_(statuses))
        .order_by(Consultation.closes_at, Consultation.id)
    ).all()
    now = utcnow()
    found = [c for c in rows if in_scope(c, household)]
    if open_only:
        found = [c for c in found if effective_status(c, now) == "open"]
    return found


def list_for_community(actor: Actor, community_id: int) -> list[Consultation]:
    """Every consultation of a community, newest first (its workers)."""
    authz.ensure_internal(actor, community_id)
    return list(
        db.session.scalars(
            select(Consultation)
            .where(Consultation.community_id == community_id)
            .order_by(Consultation.id.desc())
        )
    )


def list_for_screen(actor: Actor) -> list[Consultation]:
    """Open and recently decided consultations a lobby screen shows (live results)."""
    if actor.device is None:
        raise Forbidden()
    rows = db.session.scalars(
        select(Consultation)
        .where(
            Consultation.community_id == actor.device.community_id,
            Consultation.status.in_(("open", "closed", "decided")),
        )
        .order_by(Consultation.id.desc())
        .limit(20)
    ).all()
    return [c for c in rows if may(actor, "read", c)]


def comments(actor: Actor, consultation_id: int) -> list[ConsultationComment]:
    """The comments of the committee and the invited parties, oldest first."""
    c = get(actor, consultation_id)
    return list(
        db.session.scalars(
            select(ConsultationComment)
            .where(ConsultationComment.consultation_id == c.id)
            .order_by(ConsultationComment.id)
        )
    )


# --- the committee -------------------------------------------------------------------------------
def create_consultation(
    actor: Actor,
    *,
    title: str,
    options=None,
    body: str = "",
    community_id: int | None = None,
    scope: str = "community",
    building_id: int | None = None,
    grid_id: int | None = None,
    opens_at=None,
    closes_at=None,
    invited=None,
    draft: bool = False,
) -> Consultation:
    """Put a topic to the households; unless it is a draft, voting opens at opens_at (now)."""
    community_id = _resolve_community(actor, community_id)
    now = utcnow()
    building_id, grid_id = _place(community_id, scope, building_id, grid_id)
    labels = _options(list(options) if options else [str(o) for o in DEFAULT_OPTIONS])
    c = Consultation(
        community_id=community_id,
        title=clean_text(title, "title", max_length=TITLE_MAX),
        body=clean_text(body or "", "body", max_length=BODY_MAX, multiline=True, required=False),
        scope=scope,
        building_id=building_id,
        grid_id=grid_id,
        status="draft",
        invited=_invited(invited),
        created_by_id=actor.person_id,
        options=[ConsultationOption(position=i, label=x) for i, x in enumerate(labels, 1)],
    )
    c.opens_at = _aware(opens_at, "opens_at")
    c.closes_at = _aware(closes_at, "closes_at")
    db.session.add(c)
    if not draft:
        _open(c, now)
    db.session.flush()
    return c


def _open(c: Consultation, now: datetime) -> None:
    c.opens_at, c.closes_at = _window(c.opens_at, c.closes_at, now)
    c.status = "open"
    _ring(c)


def _lock(c: Consultation, *, share: bool = False) -> None:
    """Re-read the consultation's state under a row lock (PostgreSQL: FOR SHARE for votes, FOR
    UPDATE for a close, so they are ordered; SQLite writes are ordered by its write lock)."""
    db.session.execute(
        select(Consultation)
        .where(Consultation.id == c.id)
        .with_for_update(read=share)
        .execution_options(populate_existing=True)
    )


def open_consultation(actor: Actor, consultation_id: int, *, closes_at=None) -> Consultation:
    """Open a draft (or a proposal the committee takes up without waiting for seconds)."""
    c = get(actor, consultation_id, "manage")
    if c.status not in ("draft", "proposed"):
        raise Conflict(_l("Only a draft or a proposal can be opened."))
    if closes_at is not None:
        c.closes_at = closes_at
    elif c.status == "proposed":
        c.opens_at = c.closes_at = None
    _open(c, utcnow())
    db.session.flush()
    return c


def close_consultation(actor: Actor, consultation_id: int) -> Consultation:
    """End the voting now (votes after this are refused)."""
    c = get(actor, consultation_id, "manage")
    _lock(c)
    if c.status != "open":
        raise Conflict(_l("Only an open vote can be closed."))
    now = utcnow()
    c.status = "closed"
    c.closed_at = now
    if c.closes_at is None or c.closes_at > now:
        c.closes_at = now
    db.session.flush()
    _ring(c)
    return c


def record_decision(
    actor: Actor,
    consultation_id: int,
    *,
    decision: str,
    minutes: str = "",
    announce: bool = True,
) -> Consultation:
    """Record the minutes and the decision of a closed vote and announce the decision."""
    from app.notices.announcements import create_announcement

    c = get(actor, consultation_id, "manage")
    if effective_status(c) not in ("closed", "decided"):
        raise Conflict(_l("Close the vote before recording the decision."))
    if c.status == "open":
        c.status, c.closed_at = "closed", c.closes_at
    c.decision = clean_text(decision, "decision", max_length=BODY_MAX, multiline=True)
    c.minutes = clean_text(
        minutes or "", "minutes", max_length=BODY_MAX * 4, multiline=True, required=False
    )
    first = c.status != "decided"
    c.status = "decided"
    c.decided_at = utcnow()
    if announce and first:
        counts = option_counts(c)
        tally = "；".join(f"{o.label} {counts[o.id]}" for o in c.options)
        body = str(
            _l(
                "Result of the vote (households): %(tally)s.\n\nDecision: %(decision)s",
                tally=tally,
                decision=c.decision,
            )
        )
        a = create_announcement(
            actor,
            title=clean_text(
                str(_l("Decision: %(title)s", title=c.title)), "title", max_length=TITLE_MAX
            ),
            body=body[:BODY_MAX],
            category="policy",
            community_id=c.community_id,
            building_ids=[c.building_id] if c.building_id else None,
            grid_ids=[c.grid_id] if c.grid_id else None,
        )
        c.announcement_id = a.id
    db.session.flush()
    _ring(c)
    return c


def close_due_job(now: datetime | None, sweep: bool) -> dict:
    """The job "consultation_close": store "closed" on open votes whose window has ended."""
    now = now or utcnow()
    done = db.session.execute(
        update(Consultation)
        .where(Consultation.status == "open", Consultation.closes_at <= now)
        .values(status="closed", closed_at=Consultation.closes_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"closed": done}


# --- residents -----------------------------------------------------------------------------------
def propose(
    actor: Actor, *, title: str, body: str = "", options=None, scope: str = "community"
) -> Consultation:
    """A resident proposes a topic; it opens once enough households second it (theirs counts)."""
    authz.require_person(actor)
    household = voter_household(actor)
    if household is None:
        raise Forbidden(_l("Only residents with a registered home can propose a topic."))
    community_id = household.building.community_id
    if scope not in ("community", "building"):
        raise invalid_field("scope", _l("Choose the community or your building."))
    labels = _options(list(options) if options else [str(o) for o in DEFAULT_OPTIONS])
    c = Consultation(
        community_id=community_id,
        title=clean_text(title, "title", max_length=TITLE_MAX),
        body=clean_text(body or "", "body", max_length=BODY_MAX, multiline=True, required=False),
        scope=scope,
        building_id=household.building_id if scope == "building" else None,
        status="proposed",
        seconds_needed=seconds_needed(community_id),
        invited=[],
        created_by_id=actor.subject.id,
        proposed_by_household_id=household.id,
        options=[ConsultationOption(position=i, label=x) for i, x in enumerate(labels, 1)],
    )
    db.session.add(c)
    db.session.flush()
    _add_second(c, household.id, actor.subject.id)
    _open_if_seconded(c)
    db.session.flush()
    return c


def _dialect_insert(table):
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _add_second(c: Consultation, household_id: int, person_id: int) -> None:
    db.session.execute(
        _dialect_insert(ConsultationSecond.__table__)
        .values(
            consultation_id=c.id,
            household_id=household_id,
            person_id=person_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["consultation_id", "household_id"])
    )


def second_count(c: Consultation) -> int:
    """How many households have seconded the proposal."""
    return db.session.scalar(select(func.count()).where(ConsultationSecond.consultation_id == c.id))


def _open_if_seconded(c: Consultation) -> None:
    if c.status == "proposed" and second_count(c) >= c.seconds_needed:
        c.opens_at = c.closes_at = None
        _open(c, utcnow())


def second(actor: Actor, consultation_id: int) -> Consultation:
    """A household supports a resident's proposal (once; a second time changes nothing)."""
    c = get(actor, consultation_id, "second")
    # Racing seconds count one after another under the consultation's row lock, so the one
    # that makes the number sees the others and opens it (under READ COMMITTED each would count
    # only itself and those committed before). Locked before the insert: the insert's foreign
    # key check holds a KEY SHARE lock that two FOR UPDATEs taken after it would deadlock on.
    _lock(c)
    _add_second(c, voter_household(actor).id, actor.subject.id)
    _open_if_seconded(c)
    db.session.flush()
    return c


def cast_vote(
    actor: Actor, consultation_id: int, *, option_id: int | None = None, position: int | None = None
) -> tuple[ConsultationVote, bool]:
    """Vote for one option (by id, or by its number 1, 2, 3… as spoken). Returns the vote and
    whether it replaced an earlier vote of the household (the household's one vote: a later
    vote by any member replaces it, until the close)."""
    c = get(actor, consultation_id, "vote")
    option = next(
        (
            o
            for o in c.options
            if (option_id is not None and o.id == option_id)
            or (option_id is None and position is not None and o.position == position)
        ),
        None,
    )
    if option is None:
        raise invalid_field("option_id", _l("Choose one of the options."))
    household = voter_household(actor)
    subject = actor.subject
    now = utcnow()
    # Members of one household vote one after another, so whoever comes second sees the first
    # one's vote: theirs replaces it and the points move to them (one credit per household).
    uow.lock_row(Household, household.id)
    earlier_voter = db.session.scalar(
        select(ConsultationVote.person_id).where(
            ConsultationVote.consultation_id == c.id,
            ConsultationVote.household_id == household.id,
        )
    )
    table = ConsultationVote.__table__
    upsert = _dialect_insert(table).values(
        consultation_id=c.id,
        household_id=household.id,
        option_id=option.id,
        person_id=subject.id,
        cast_by_id=actor.person_id if actor.on_behalf_of is not None else None,
        created_at=now,
        updated_at=now,
    )
    # One row per household, whoever is first: the database decides, never a read-then-write.
    db.session.execute(
        upsert.on_conflict_do_update(
            index_elements=["consultation_id", "household_id"],
            set_={
                "option_id": upsert.excluded.option_id,
                "person_id": upsert.excluded.person_id,
                "cast_by_id": upsert.excluded.cast_by_id,
                "updated_at": upsert.excluded.updated_at,
            },
        )
    )
    # A close racing this vote: the close locks the row (FOR UPDATE) and waits for this
    # transaction, or it came first and the vote is refused (SQLite: the write lock orders them).
    _lock(c, share=True)
    if effective_status(c) != "open":
        raise Conflict(_l("This vote is not open."))
    vote = db.session.scalar(
        select(ConsultationVote)
        .where(
            ConsultationVote.consultation_id == c.id,
            ConsultationVote.household_id == household.id,
        )
        .execution_options(populate_existing=True)
    )
    # Points for taking part: the member whose vote counts for the household, once per
    # consultation (a member who is replaced gets theirs taken back).
    if earlier_voter is not None and earlier_voter != subject.id:
        points.reverse("vote_cast", c.id, earlier_voter)
    points.credit_for("vote_cast", c.id, subject.id, c.community_id)
    _ring(c)
    return vote, earlier_voter is not None


def add_comment(actor: Actor, consultation_id: int, body: str) -> ConsultationComment:
    """The committee or an invited party comments on the consultation."""
    c = get(actor, consultation_id, "comment")
    if effective_status(c) == "decided":
        raise Conflict(_l("The decision has been made; comments are closed."))
    party, organization_id = party_of(actor, c)
    comment = ConsultationComment(
        consultation_id=c.id,
        author_id=actor.person_id,
        party=party,
        organization_id=organization_id,
        body=clean_text(body, "body", max_length=COMMENT_MAX, multiline=True),
    )
    db.session.add(comment)
    db.session.flush()
    return comment


# --- what the channels show ----------------------------------------------------------------------
def consultation_view(actor: Actor, c: Consultation, *, with_results: bool = True) -> dict:
    """One consultation as the actor may see it: the household's own vote (never anyone
    else's), the rule, the live counts; workers also get the draft fields."""
    status = effective_status(c)
    mine = household_vote(actor, c) if actor.person is not None else None
    view = {
        "id": c.id,
        "community_id": c.community_id,
        "title": c.title,
        "body": c.body,
        "scope": c.scope,
        "building_id": c.building_id,
        "grid_id": c.grid_id,
        "place": c.building.name if c.building else (c.grid.name if c.grid else None),
        "status": status,
        "opens_at": c.opens_at,
        "closes_at": c.closes_at,
        "options": [{"id": o.id, "position": o.position, "label": o.label} for o in c.options],
        "invited": list(c.invited or []),
        "rule": str(RULE),
        "my_vote": None,
        "can_vote": may(actor, "vote", c),
        "can_second": c.status == "proposed" and may(actor, "second", c),
        "can_manage": may(actor, "manage", c),
        "seconds": second_count(c) if c.status == "proposed" else None,
        "seconds_needed": c.seconds_needed or None,
        "minutes": c.minutes,
        "decision": c.decision,
        "decided_at": c.decided_at,
        "announcement_id": c.announcement_id,
    }
    if mine is not None:
        option = next((o for o in c.options if o.id == mine.option_id), None)
        view["my_vote"] = {
            "option_id": mine.option_id,
            "position": option.position if option else None,
            "label": option.label if option else None,
            "by_me": mine.person_id == (actor.subject.id if actor.subject else None),
            "changeable": status == "open",
            "updated_at": mine.updated_at,
        }
    if with_results and status != "proposed":
        view["results"] = results(actor, c.id)
    return view


def list_consultations(
    actor: Actor, *, community_id: int | None = None, open_only: bool = False
) -> list[Consultation]:
    """What a caller lists: a community's every consultation (its workers, with community_id),
    a screen's open and decided ones, or a resident household's ones."""
    authz.require_signed_in(actor)
    if community_id is not None:
        return list_for_community(actor, community_id)
    if actor.device is not None:
        return list_for_screen(actor)
    return list_for_resident(actor, open_only=open_only)


# --- demo ----------------------------------------------------------------------------------------
@seed_hook
def _seed_demo(ctx: dict) -> None:
    """A realistic consultation for 和平社区: 加装电梯, open, with a few households' votes
    (skipped when it is already there)."""
    heping = ctx["communities"]["heping"]
    community_id = heping["community"].id
    title = "1号楼加装电梯征求意见"
    existing = db.session.scalar(
        select(Consultation.id).where(
            Consultation.community_id == community_id, Consultation.title == title
        )
    )
    if existing is not None:
        ctx["summary"]["consultation_id"] = existing
        return
    building = heping["community"].buildings[0]
    c = create_consultation(
        Actor.for_person(heping["staff"]),
        community_id=community_id,
        title=title,
        body=(
            "1号楼多位老人反映上下楼困难。加装电梯费用由政府补贴一部分，其余按楼层分摊，"
            "一楼住户不分摊。\n\n请每户选一项。投票截止后，居委会公布结果和决定。"
        ),
        options=["同意加装", "不同意", "弃权"],
        scope="building",
        building_id=building.id,
        closes_at=utcnow() + timedelta(days=10),
        invited=["property", "street_office"],
    )
    voters = [
        p for p in heping["residents"] if p.household is not None and in_scope(c, p.household)
    ]
    for n, person in enumerate(voters[1:4]):  # the first resident (the elder) votes in the demo
        cast_vote(Actor.for_person(person), c.id, position=1 if n < 2 else 2)
    ctx["summary"]["consultation_id"] = c.id


# --- the lobby screen ----------------------------------------------------------------------------
def screen_votes(actor: Actor) -> list[dict]:
    """What a lobby screen shows: its community's open and decided votes with live counts
    (numbers only)."""
    return [consultation_view(actor, c) for c in list_for_screen(actor)]


def kiosk_vote(
    actor: Actor, consultation_id: int, *, phone: str, pin: str, position: int, ip: str | None
) -> dict:
    """A resident votes at the lobby screen after typing phone number and PIN (the easy mode's
    sign-in with its throttle and lock; no session is kept). The screen has shown the choice and
    asked to confirm; the household's one vote is replaced as anywhere else."""
    device = screen_identity.screen_device(actor)
    c = get(actor, consultation_id)  # the screen must show it: 404 for another place's vote
    person = screen_identity.identify(phone, pin, ip=ip)
    voter = Actor.for_person(person)
    if person.community_id != device.community_id:
        raise Forbidden(_l("Only the households this vote is for can take part."))
    _vote, replaced = cast_vote(voter, c.id, position=position)
    return {
        "replaced": replaced,
        "message": str(_l("You have voted. You can change it until the vote closes.")),
        "rule": str(RULE),
        "results": results(actor, c.id),
    }
