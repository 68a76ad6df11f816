"""People: registering residents, staff accounts, views with masking, PIN resets, preferences."""

from __future__ import annotations

from sqlalchemy import String, cast, or_, select

from app.extensions import db
from app.models import CARE_FLAGS, Household, Person, RoleAssignment
from app.models.person import RESIDENT, ROLES
from app.services import audit, authz
from app.services.actors import Actor
from app.services.auth import hash_secret, revoke_tokens_for
from app.services.errors import Conflict, Forbidden, NotFound, invalid_field
from app.services.text import (
    check_password,
    check_pin,
    clean_name,
    clean_text,
    mask_phone,
    normalize_phone,
)

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
    """Give a scoped role: admin (or None: the CLI) any; committee staff within their community."""
    if role not in ROLES:
        raise invalid_field("role", f"allowed: {', '.join(ROLES)}")
    if actor is not None and not actor.is_admin:
        if role not in (RESIDENT, "grid_worker", "org_member") or community_id is None:
            raise Forbidden()
        authz.ensure_manager(actor, community_id)
    _check_scope(community_id, grid_id, organization_id)
    assignment = RoleAssignment(
        role=role,
        community_id=community_id,
        grid_id=grid_id,
        organization_id=organization_id,
        street_office_id=street_office_id,
        can_write=can_write,
        granted_by_id=actor.person_id if actor else None,
    )
    person.roles.append(assignment)
    db.session.flush()
    return assignment


def _check_scope(community_id, grid_id, organization_id) -> None:
    """A grid or organization named with a community must belong to (or serve) it."""
    from app.models import Grid, Organization

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
        query = query.where(or_(Person.display_name.like(like), Person.phone.like(like)))
    if care_flag:
        if care_flag not in CARE_FLAGS:
            raise invalid_field("care_flag", f"allowed: {', '.join(CARE_FLAGS)}")
        if not (actor.is_admin or community_id in actor.staff_community_ids or actor.grid_ids):
            raise Forbidden()
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
    staff_only = {"phone", "birth_year", "care_flags", "household_id", "is_active"}
    if staff_only & changes.keys() and not staff:
        raise Forbidden()
    if "phone" in changes:
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
        person.is_active = bool(changes["is_active"])
        if not person.is_active:
            revoke_tokens_for(person=person)
    db.session.flush()
    return person


def set_pin(actor: Actor, person_id: int, pin: str) -> Person:
    """Reset a resident's PIN: by committee staff, or by a confirmed family proxy."""
    person = get_person(actor, person_id)
    staff = person.community_id is not None and authz.can_manage_community(
        actor, person.community_id
    )
    proxy = actor.on_behalf_of is not None and actor.on_behalf_of.id == person.id
    own = actor.person is not None and actor.person.id == person.id
    if not (staff or proxy or own):
        raise Forbidden()
    person.pin_hash = hash_secret(check_pin(pin))
    revoke_tokens_for(person=person)
    db.session.flush()
    return person
