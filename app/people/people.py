"""People: registering residents, staff accounts, views with masking, PIN resets, preferences."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, or_, select

from app.extensions import db
from app.infra import audit
from app.infra.errors import Conflict, Forbidden, NotFound, invalid_field
from app.infra.text import (
    check_password,
    check_pin,
    clean_name,
    clean_text,
    mask_phone,
    normalize_email,
    normalize_phone,
)
from app.models import CARE_FLAGS, Building, Household, Person, RoleAssignment
from app.models.delivery import NOTIFY_CHANNELS
from app.models.person import (
    COMMITTEE_STAFF,
    GRID_WORKER,
    ORG_MEMBER,
    PLATFORM_ADMIN,
    RESIDENT,
    ROLES,
    STAFF_SIDE_ROLES,
    STREET_OFFICIAL,
)
from app.people import authz
from app.people.actors import Actor
from app.people.auth import check_current_pin, hash_secret, sign_out_everywhere

TEXT_SIZES = ("large", "xlarge")
SPEECH_RATES = ("slow", "normal", "fast")


def _check_care_flags(flags) -> list[str]:
    if not isinstance(flags, list) or any(f not in CARE_FLAGS for f in flags):
        raise invalid_field("care_flags", f"allowed: {', '.join(CARE_FLAGS)}")
    return sorted(set(flags))


def _phone_free(phone: str, except_id: int | None = None) -> None:
    existing = db.session.scalar(select(Person).where(Person.phone == phone))
    if existing is not None and existing.id != except_id:
        raise Conflict(errors={"phone": ["This phone number is already registered."]})


def _household_in(community_id: int, household_id: int | None) -> Household | None:
    if household_id is None:
        return None
    household = db.session.get(Household, household_id)
    if household is None or household.building.community_id != community_id:
        raise invalid_field("household_id", "unknown household")
    return household


def register_resident(
    actor: Actor,
    community_id: int,
    *,
    display_name: str,
    phone: str,
    pin: str,
    household_id: int | None = None,
    birth_year: int | None = None,
    care_flags: list[str] | None = None,
) -> Person:
    """Committee staff register a resident who then signs in with phone + PIN."""
    authz.ensure_manager(actor, community_id)
    person = Person(
        display_name=clean_name(display_name, "display_name", max_length=80),
        phone=normalize_phone(phone),
        pin_hash=hash_secret(check_pin(pin)),
        birth_year=_check_birth_year(birth_year),
        care_flags=_check_care_flags(care_flags or []),
        community_id=community_id,
        household=_household_in(community_id, household_id),
    )
    _phone_free(person.phone)
    person.roles.append(RoleAssignment(role=RESIDENT, community_id=community_id))
    db.session.add(person)
    db.session.flush()
    return person


def _check_birth_year(year):
    if year is None:
        return None
    if not isinstance(year, int) or not 1900 <= year <= 2100:
        raise invalid_field("birth_year", "1900-2100")
    return year


def create_staff_account(
    *, username: str, password: str, display_name: str, phone: str | None = None
) -> Person:
    """A staff-side account (no roles yet); used by `flask create-user` and the seed."""
    username = clean_text(username, "username", max_length=60).lower()
    if db.session.scalar(select(Person).where(Person.username == username)):
        raise Conflict(errors={"username": ["exists"]})
    person = Person(
        username=username,
        password_hash=hash_secret(check_password(password)),
        display_name=clean_name(display_name, "display_name", max_length=80),
    )
    if phone:
        person.phone = normalize_phone(phone)
        _phone_free(person.phone)
    db.session.add(person)
    db.session.flush()
    return person


# What each role is scoped by: (required, allowed) scope fields.
_ROLE_SCOPES = {
    RESIDENT: ({"community_id"}, {"community_id"}),
    COMMITTEE_STAFF: ({"community_id"}, {"community_id"}),
    GRID_WORKER: ({"grid_id"}, {"community_id", "grid_id"}),
    ORG_MEMBER: ({"organization_id"}, {"community_id", "organization_id"}),
    STREET_OFFICIAL: ({"street_office_id"}, {"street_office_id", "can_write"}),
    PLATFORM_ADMIN: (set(), set()),
}
# Roles committee staff (and officials with write access) may give, within their communities.
_DELEGABLE = (RESIDENT, GRID_WORKER, ORG_MEMBER)


def grant_role(
    actor: Actor | None,
    person: Person,
    role: str,
    *,
    community_id=None,
    grid_id=None,
    organization_id=None,
    street_office_id=None,
    can_write=False,
) -> RoleAssignment:
    """Give a scoped role: admin (or None: the CLI) any; managers of a community only roles
    scoped to that community (a grid of it, an organization's work there), so a grant never
    reaches further than the granter does."""
    if role not in ROLES:
        raise invalid_field("role", f"allowed: {', '.join(ROLES)}")
    if actor is not None and not actor.is_admin:
        # Only for someone the granter may see, and only within a community they manage: an
        # organization's membership then reaches that community alone (Actor.organization_reach).
        get_person(actor, person.id)
        if role not in _DELEGABLE or community_id is None:
            raise Forbidden()
        authz.ensure_manager(actor, community_id)
    scope = {
        "community_id": community_id,
        "grid_id": grid_id,
        "organization_id": organization_id,
        "street_office_id": street_office_id,
        "can_write": can_write or None,
    }
    required, allowed = _ROLE_SCOPES[role]
    for name, value in scope.items():
        if value is None and name in required:
            raise invalid_field(name, f"required for {role}")
        if value is not None and name not in allowed:
            raise invalid_field(name, f"not used for {role}")
    _check_scope(community_id, grid_id, organization_id, street_office_id)
    duplicate = next(
        (
            r
            for r in person.roles
            if r.role == role
            and (r.community_id, r.grid_id, r.organization_id, r.street_office_id)
            == (community_id, grid_id, organization_id, street_office_id)
        ),
        None,
    )
    if duplicate is not None:
        raise Conflict(errors={"role": ["This person already has this role."]})
    assignment = RoleAssignment(
        role=role,
        community_id=community_id,
        grid_id=grid_id,
        organization_id=organization_id,
        street_office_id=street_office_id,
        can_write=bool(can_write),
        granted_by_id=actor.person_id if actor else None,
    )
    person.roles.append(assignment)
    db.session.flush()
    return assignment


def _check_scope(community_id, grid_id, organization_id, street_office_id=None) -> None:
    """Each scope must exist; a grid or organization named with a community must belong to
    (or serve) it."""
    from app.models import Community, Grid, Organization, StreetOffice

    if community_id is not None and db.session.get(Community, community_id) is None:
        raise invalid_field("community_id", "unknown community")
    if grid_id is not None:
        grid = db.session.get(Grid, grid_id)
        if grid is None or (community_id is not None and grid.community_id != community_id):
            raise invalid_field("grid_id", "unknown grid")
    if organization_id is not None:
        org = db.session.get(Organization, organization_id)
        if org is None or (
            community_id is not None and community_id not in {c.id for c in org.communities}
        ):
            raise invalid_field("organization_id", "unknown organization")
    if street_office_id is not None and db.session.get(StreetOffice, street_office_id) is None:
        raise invalid_field("street_office_id", "unknown street office")


def _role_communities(role: RoleAssignment) -> list:
    """The communities a role works in (None: beyond any one community, e.g. an admin)."""
    if role.role == PLATFORM_ADMIN:
        return [None]
    if role.role == STREET_OFFICIAL:
        return [c.id for c in role.street_office.communities] if role.street_office else []
    if role.role == GRID_WORKER and role.grid is not None:
        return [role.grid.community_id]
    if role.role == ORG_MEMBER and role.community_id is None and role.organization is not None:
        return [c.id for c in role.organization.communities]
    return [role.community_id] if role.community_id is not None else []


def manages_account(actor: Actor, person: Person) -> bool:
    """May the actor reset this person's sign-in (PIN, phone, account on or off)? Committee
    staff of the person's community may, but only when every role the person holds lies within
    communities the actor manages too: a resident who is staff elsewhere, or an admin, is not
    theirs to take over."""
    return (
        person.community_id is not None
        and authz.can_manage_community(actor, person.community_id)
        and all(
            authz.can_manage_community(actor, c) for r in person.roles for c in _role_communities(r)
        )
    )


def get_person(actor: Actor, person_id: int) -> Person:
    """A person the actor may see: themselves, the resident they act for, or via staff access."""
    authz.require_signed_in(actor)
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound()
    subject = actor.subject
    if actor.person is not None and person.id in {actor.person.id, subject.id}:
        return person
    if person.community_id is None or not authz.can_see_internal(actor, person.community_id):
        raise NotFound()
    return person


def person_view(actor: Actor, person: Person) -> dict:
    """What `actor` may see of `person`; unmasked contact and care flags are audited reads."""
    full_contact = authz.can_see_contact(actor, person)
    care = authz.can_see_care(actor, person)
    view = {
        "id": person.id,
        "display_name": person.display_name,
        "phone": person.phone if full_contact else mask_phone(person.phone),
        "community_id": person.community_id,
        "household_id": person.household_id,
        "household": person.household.label if person.household else None,
        "birth_year": person.birth_year if full_contact else None,
        "care_flags": list(person.care_flags or []) if care else None,
        "roles": sorted({r.role for r in person.roles}),
    }
    is_self = actor.person is not None and actor.person.id == person.id
    sensitive = [f for f, shown in (("phone", full_contact), ("care_flags", care)) if shown]
    if sensitive and not is_self and person.phone is not None:
        audit.record_read(actor, "person", person.id, person.community_id, sensitive)
    return view


def _in_grids(actor: Actor):
    """People living in the grids the actor works (authz.is_persons_grid_worker, in SQL)."""
    return Person.household_id.in_(
        select(Household.id)
        .join(Building, Building.id == Household.building_id)
        .where(Building.grid_id.in_(actor.grid_ids))
    )


def list_people(
    actor: Actor,
    community_id: int,
    *,
    q: str | None = None,
    care_flag: str | None = None,
    page: int = 1,
    per_page: int = 50,
):
    """The community's register for its workers (grid workers see their grids)."""
    authz.ensure_internal(actor, community_id)
    query = select(Person).where(Person.community_id == community_id).order_by(Person.id)
    if q:
        q = clean_text(q, "q", max_length=40)
        like = f"%{q.replace('%', '').replace('_', '')}%"
        # Digits of a phone number find only people whose number the actor may see: a search
        # is an oracle, and ~40 of them would uncover a masked number (authz.can_see_contact).
        match = Person.display_name.like(like)
        if actor.is_admin or community_id in actor.staff_community_ids:
            match = or_(match, Person.phone.like(like))
        elif actor.grid_ids:
            match = or_(match, and_(Person.phone.like(like), _in_grids(actor)))
        query = query.where(match)
    if care_flag:
        if care_flag not in CARE_FLAGS:
            raise invalid_field("care_flag", f"allowed: {', '.join(CARE_FLAGS)}")
        if not (actor.is_admin or community_id in actor.staff_community_ids):
            # A grid worker: only the people of their own grids, counted in SQL too, so the
            # total says nothing about anyone else's flags (authz.can_see_care).
            if not actor.grid_ids:
                raise Forbidden()
            query = query.where(_in_grids(actor))
        # Filter in SQL so pages and totals count only matching people (JSON kept as text).
        query = query.where(cast(Person.care_flags, String).like(f'%"{care_flag}"%'))
    page_obj = db.paginate(query, page=page, per_page=per_page, error_out=False)
    if care_flag:
        page_obj.items = [
            p
            for p in page_obj.items
            if care_flag in (p.care_flags or []) and authz.can_see_care(actor, p)
        ]
    return page_obj


def update_person(actor: Actor, person_id: int, changes: dict) -> Person:
    """Staff update a resident's register entry; a person updates their own name/preferences."""
    person = get_person(actor, person_id)
    is_self = actor.subject is not None and actor.subject.id == person.id
    staff = person.community_id is not None and authz.can_manage_community(
        actor, person.community_id
    )
    if not (is_self or staff):
        raise Forbidden()
    if "display_name" in changes:
        person.display_name = clean_name(changes["display_name"], "display_name", max_length=80)
    if "locale" in changes:
        if changes["locale"] not in ("zh_CN", "en"):
            raise invalid_field("locale", "zh_CN or en")
        person.locale = changes["locale"]
    if "text_size" in changes:
        if changes["text_size"] not in TEXT_SIZES:
            raise invalid_field("text_size", "large or xlarge")
        person.text_size = changes["text_size"]
    if "speech_rate" in changes:
        if changes["speech_rate"] not in SPEECH_RATES:
            raise invalid_field("speech_rate", "slow, normal or fast")
        person.speech_rate = changes["speech_rate"]
    if "email" in changes or "notify_channel" in changes:
        _set_notify(person, changes)
    staff_only = {"phone", "birth_year", "care_flags", "household_id", "is_active"}
    if staff_only & changes.keys() and not staff:
        raise Forbidden()
    if "phone" in changes:
        # The number is how a resident signs in: changing it is a step towards the account.
        if not manages_account(actor, person):
            raise Forbidden()
        person.phone = normalize_phone(changes["phone"])
        _phone_free(person.phone, except_id=person.id)
    if "birth_year" in changes:
        person.birth_year = _check_birth_year(changes["birth_year"])
    if "care_flags" in changes:
        if not authz.can_see_care(actor, person):
            raise Forbidden()
        person.care_flags = _check_care_flags(changes["care_flags"])
    if "household_id" in changes:
        person.household = _household_in(person.community_id, changes["household_id"])
    if "is_active" in changes:
        # Switching an account off (or on) ends (or restores) all its roles.
        if not manages_account(actor, person):
            raise Forbidden()
        person.is_active = bool(changes["is_active"])
        if not person.is_active:
            sign_out_everywhere(person)
    db.session.flush()
    return person


def _set_notify(person: Person, changes: dict) -> None:
    """How notices also reach the person: none, SMS to their phone or e-mail to their address
    (app/people/delivery.py); the channel needs its address."""
    if "email" in changes:
        raw = changes["email"]
        person.email = normalize_email(raw) if raw not in (None, "") else None
    if "notify_channel" in changes:
        if changes["notify_channel"] not in NOTIFY_CHANNELS:
            raise invalid_field("notify_channel", "none, sms or email")
        person.notify_channel = changes["notify_channel"]
    if person.notify_channel == "email" and not person.email:
        raise invalid_field("notify_channel", _l("Please write your e-mail address first."))
    if person.notify_channel == "sms" and not person.phone:
        raise invalid_field("notify_channel", _l("There is no mobile number to send messages to."))


def reset_password(person: Person, password: str) -> Person:
    """A new password for a staff-side account (from the command line, where there is no
    actor); every sign-in and token of the account ends."""
    person.password_hash = hash_secret(check_password(password))
    sign_out_everywhere(person)
    db.session.flush()
    return person


def set_pin(
    actor: Actor,
    person_id: int,
    pin: str,
    *,
    current_pin: str | None = None,
    keep_session_id: int | None = None,
    keep_token_id: int | None = None,
) -> Person:
    """Reset a resident's PIN: by committee staff, or by a confirmed family proxy; or change
    one's own (with the current PIN). Every other sign-in and token of the person ends; one's
    own change keeps the sign-in it was made from (`keep_session_id` / `keep_token_id`)."""
    person = get_person(actor, person_id)
    own = actor.person is not None and actor.person.id == person.id
    # A relative resets the PIN of the resident they help, not of an account that also works
    # for a community (that is its owner's or the committee's to change).
    proxy = (
        actor.on_behalf_of is not None
        and actor.on_behalf_of.id == person.id
        and not any(r.role in STAFF_SIDE_ROLES for r in person.roles)
    )
    if not (own or proxy or manages_account(actor, person)):
        raise Forbidden()
    if own:
        # One's own new PIN always needs the current one, whatever else the caller may do.
        check_current_pin(person, current_pin)
    person.pin_hash = hash_secret(check_pin(pin))
    if own:
        sign_out_everywhere(person, keep_session_id=keep_session_id, keep_token_id=keep_token_id)
    else:
        sign_out_everywhere(person)
    db.session.flush()
    return person
