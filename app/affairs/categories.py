"""Case categories configured per community: name, handler, deadline, anonymity, notice, icon."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

from app.extensions import db
from app.infra.errors import Conflict, Invalid, NotFound, invalid_field
from app.infra.text import clean_name, clean_text
from app.models import Community, Organization
from app.models.case import HANDLER_ROLES, CaseCategory
from app.people import authz
from app.people.actors import Actor

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # stated as the pattern in the OpenAPI
ICONS = (
    "repair",
    "water",
    "gas",
    "electric",
    "lift",
    "trash",
    "green",
    "safety",
    "fire",
    "noise",
    "dispute",
    "parking",
    "pet",
    "suggestion",
    "help",
    "elder",
    "other",
)
# What the pictures and handler roles are called on staff pages.
ICON_LABELS = {
    "repair": _l("Repairs"),
    "water": _l("Water"),
    "gas": _l("Gas"),
    "electric": _l("Electricity"),
    "lift": _l("Lift"),
    "trash": _l("Rubbish"),
    "green": _l("Greenery"),
    "safety": _l("Safety"),
    "fire": _l("Fire"),
    "noise": _l("Noise"),
    "dispute": _l("Disputes"),
    "parking": _l("Parking"),
    "pet": _l("Pets"),
    "suggestion": _l("Suggestions"),
    "help": _l("Help"),
    "elder": _l("Elderly care"),
    "other": _l("Other"),
}
HANDLER_ROLE_LABELS = {
    "committee_staff": _l("Residents' committee"),
    "grid_worker": _l("Grid worker"),
}
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
EDITABLE = (
    "name",
    "description",
    "icon",
    "handler_organization_id",
    "handler_role",
    "deadline_hours",
    "allow_anonymous",
    "is_public",
    "notice",
    "attributes",
    "sort_order",
    "active",
)

# The standard set a new community starts from (also the demo data).
DEFAULTS = [
    {
        "code": "repair",
        "name": "报修（水电燃气）",
        "icon": "repair",
        "deadline_hours": 48,
        "handler": "property",
        "allow_anonymous": False,
        "is_public": True,
        "description": "公共区域的水管、电路、燃气管道、电梯、门禁等设施故障。",
        "notice": "如闻到燃气味，请立即离开并拨打燃气抢修电话 96777，不要开关电器。",
        "attributes": [
            {
                "code": "place",
                "description": "问题在哪里？",
                "datatype": "singlevaluelist",
                "required": False,
                "values": [{"key": "public", "name": "公共区域"}, {"key": "home", "name": "家中"}],
            }
        ],
    },
    {
        "code": "environment",
        "name": "环境卫生",
        "icon": "trash",
        "deadline_hours": 72,
        "handler": "property",
        "allow_anonymous": True,
        "is_public": True,
        "description": "垃圾清运、楼道堆物、绿化养护、积水、异味。",
        "notice": None,
        "attributes": [],
    },
    {
        "code": "safety",
        "name": "安全隐患",
        "icon": "safety",
        "deadline_hours": 24,
        "handler": "grid_worker",
        "allow_anonymous": True,
        "is_public": True,
        "description": "消防通道堵塞、电动车楼道充电、高空坠物、井盖缺失。",
        "notice": "遇到火情或有人受伤，请先拨打 119 或 120。",
        "attributes": [],
    },
    {
        "code": "dispute",
        "name": "邻里纠纷",
        "icon": "dispute",
        "deadline_hours": 120,
        "handler": "committee_staff",
        "allow_anonymous": False,
        "is_public": False,
        "description": "噪音、漏水、占用公共空间等邻里之间的矛盾，居委会帮忙调解。",
        "notice": None,
        "attributes": [],
    },
    {
        "code": "suggestion",
        "name": "意见建议",
        "icon": "suggestion",
        "deadline_hours": 168,
        "handler": "committee_staff",
        "allow_anonymous": True,
        "is_public": True,
        "description": "对社区服务、活动和设施的想法与建议。",
        "notice": None,
        "attributes": [],
    },
    {
        "code": "help",
        "name": "求助（独居老人帮扶）",
        "icon": "elder",
        "deadline_hours": 12,
        "handler": "social_org",
        "allow_anonymous": False,
        "is_public": False,
        "description": "独居或行动不便的老人需要有人上门看看、陪同就医、代买代办。",
        "notice": "如身体突然不适，请立即拨打 120。",
        "attributes": [],
    },
]

# The built-in categories in the reader's language. DEFAULTS keeps the Chinese they are seeded
# with (stored data, never rewritten); while a category's text is still exactly that seeded
# wording it is shown as its translation, and text staff typed is shown as entered
# (`shown`). tests/test_i18n_pages.py checks that the zh_CN catalog gives back the seeded text.
BUILTIN_WORDS = {
    "repair": {
        "name": _l("Repairs (water, electricity, gas)"),
        "description": _l(
            "Broken water pipes, wiring, gas pipes, lifts, door entry and other shared facilities."
        ),
        "notice": _l(
            "If you smell gas, leave at once and call the gas emergency line 96777. "
            "Do not switch anything electric on or off."
        ),
    },
    "environment": {
        "name": _l("Cleanliness"),
        "description": _l(
            "Rubbish collection, things piled in stairwells, green spaces, standing water, smells."
        ),
    },
    "safety": {
        "name": _l("Safety hazards"),
        "description": _l(
            "Blocked fire exits, e-bikes charged in stairwells, things falling from height, "
            "missing manhole covers."
        ),
        "notice": _l("If there is a fire or someone is hurt, first call 119 or 120."),
    },
    "dispute": {
        "name": _l("Disputes between neighbours"),
        "description": _l(
            "Noise, leaks, shared space taken over: the committee helps neighbours settle them."
        ),
    },
    "suggestion": {
        "name": _l("Ideas and suggestions"),
        "description": _l("Your ideas for the community's services, activities and facilities."),
    },
    "help": {
        "name": _l("Help (elderly people living alone)"),
        "description": _l(
            "An older person living alone or who cannot get about needs a visit, company to the "
            "doctor, or shopping and errands done."
        ),
        "notice": _l("If you suddenly feel unwell, call 120 at once."),
    },
}
SHOWN_FIELDS = ("name", "description", "notice")


def _seeded(code: str | None) -> dict | None:
    return next((spec for spec in DEFAULTS if spec["code"] == code), None)


def shown(category: CaseCategory | dict | None, field: str = "name") -> str | None:
    """A category's name, description or notice as the reader sees it: a built-in category's
    seeded wording in the reader's language, text staff wrote as they wrote it."""
    if category is None:
        return None
    if isinstance(category, dict):  # a case view's category (app.affairs.views): {code, name, …}
        value, code = category.get(field), category.get("code")
    else:
        value, code = getattr(category, field), category.code
    spec = _seeded(code)
    word = BUILTIN_WORDS.get(code, {}).get(field)
    if spec is None or word is None or value != spec[field]:
        return value
    return str(word)


def keep_seeded(category: CaseCategory, changes: dict) -> dict:
    """An edit that sends back a built-in text as it was shown (translated) leaves the stored
    seeded wording alone, so it stays translated; anything else is stored as typed."""
    kept = dict(changes)
    for field in SHOWN_FIELDS:
        if field in kept and getattr(category, field) is not None:
            if (kept[field] or "").strip() == (shown(category, field) or "").strip():
                kept.pop(field)
    return kept


def _check_attributes(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise invalid_field("attributes", _l("A list of at most 20 questions."))
    out, codes = [], set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid_field("attributes", _l("Each question must be an object."))
        code = item.get("code")
        if not isinstance(code, str) or not CODE.fullmatch(code) or code in codes:
            raise invalid_field("attributes", _l("Each question needs a unique short code."))
        codes.add(code)
        datatype = item.get("datatype", "string")
        if datatype not in DATATYPES:
            raise invalid_field("attributes", _l("Unknown answer type."))
        values = []
        if datatype.endswith("valuelist"):
            for v in item.get("values") or []:
                if not isinstance(v, dict):
                    raise invalid_field("attributes", _l("Each choice needs a key and a name."))
                values.append(
                    {
                        "key": clean_text(str(v.get("key", "")), "attributes", max_length=40),
                        "name": clean_text(str(v.get("name", "")), "attributes", max_length=80),
                    }
                )
            if not values:
                raise invalid_field("attributes", _l("A list question needs choices."))
        out.append(
            {
                "code": code,
                "datatype": datatype,
                "required": bool(item.get("required")),
                "description": clean_text(
                    str(item.get("description", "")), "attributes", max_length=200
                ),
                "order": index + 1,
                "values": values,
            }
        )
    return out


def _checked(category: CaseCategory, key: str, value):
    """One field's value as stored, or Invalid in words staff can act on."""
    if key == "name":
        return clean_name(value, "name", max_length=80)
    if key in ("description", "notice"):
        return clean_text(value or "", key, max_length=500, multiline=True, required=False) or None
    if key == "icon":
        if value not in ICONS:
            raise invalid_field("icon", _l("Please choose one of the pictures offered."))
    elif key == "handler_role":
        if value is not None and value not in HANDLER_ROLES:
            raise invalid_field("handler_role", _l("Please choose who handles these matters."))
    elif key == "handler_organization_id":
        if value is not None:
            org = db.session.get(Organization, value) if isinstance(value, int) else None
            if org is None or category.community_id not in {c.id for c in org.communities}:
                raise invalid_field("handler_organization_id", _l("Unknown organization."))
    elif key == "deadline_hours":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24 * 90:
            raise invalid_field(
                "deadline_hours",
                _l("Please enter a whole number of hours from 1 to 2160 (90 days)."),
            )
    elif key == "attributes":
        return _check_attributes(value)
    elif key == "sort_order":
        if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
            raise invalid_field("sort_order", _l("Please enter a whole number from -1000 to 1000."))
    elif key in ("allow_anonymous", "is_public", "active"):
        return bool(value)
    return value


def _apply(category: CaseCategory, changes: dict, errors: dict | None = None) -> None:
    # Every field is checked, so a form can show all its mistakes at once; nothing is kept
    # when one is wrong (the caller rolls back).
    errors = dict(errors or {})
    for key, value in changes.items():
        if key not in EDITABLE:
            continue
        try:
            setattr(category, key, _checked(category, key, value))
        except Invalid as error:
            for field, messages in error.errors.items():
                errors.setdefault(field, []).extend(messages)
    if (
        not errors
        and category.handler_organization_id is not None
        and category.handler_role is not None
    ):
        errors["handler_role"] = [str(_l("Choose an organization or a role, not both."))]
    if errors:
        raise Invalid(errors=errors)


def list_categories(
    actor: Actor, community_id: int, *, include_inactive: bool = False
) -> list[CaseCategory]:
    """A community's categories in display order (anyone who may read the community)."""
    authz.ensure_readable(actor, community_id)
    query = select(CaseCategory).where(CaseCategory.community_id == community_id)
    if not include_inactive:
        query = query.where(CaseCategory.active.is_(True))
    return list(db.session.scalars(query.order_by(CaseCategory.sort_order, CaseCategory.id)))


def get_category(actor: Actor, category_id: int) -> CaseCategory:
    """One category of a community the actor may read."""
    category = db.session.get(CaseCategory, category_id)
    if category is None:
        raise NotFound()
    authz.ensure_readable(actor, category.community_id)
    return category


_FIND: dict = {}


def _find_statement(by: str):
    # Built once per kind of look-up (every case submission runs one), values bound at execution.
    if by not in _FIND:
        _FIND[by] = select(CaseCategory).where(
            CaseCategory.community_id == bindparam("f_community"),
            CaseCategory.active.is_(True),
            getattr(CaseCategory, by) == bindparam("f_by"),
        )
    return _FIND[by]


def find_category(
    community_id: int, *, category_id: int | None = None, code: str | None = None
) -> CaseCategory:
    """An active category of the community by id or code (NotFound otherwise)."""
    if category_id is not None:
        by, value = "id", category_id
    elif code is not None:
        by, value = "code", code
    else:
        raise invalid_field("category_id", _l("Please choose what the matter is about."))
    category = db.session.scalar(_find_statement(by), {"f_community": community_id, "f_by": value})
    if category is None:
        raise NotFound(_l("This kind of matter is not handled here."))
    return category


def create_category(
    actor: Actor, community_id: int, *, code: str, name: str, **fields
) -> CaseCategory:
    """Committee staff add a category (code: lowercase letters, digits, - and _)."""
    authz.ensure_manager(actor, community_id)
    errors = {}
    if not isinstance(code, str) or not CODE.fullmatch(code):
        errors["code"] = [str(_l("Lowercase letters, digits, - and _ (up to 40)."))]
    elif db.session.scalar(
        select(CaseCategory.id).where(
            CaseCategory.community_id == community_id, CaseCategory.code == code
        )
    ):
        raise Conflict(errors={"code": [str(_l("This code is already used."))]})
    category = CaseCategory(
        community_id=community_id, code=code, icon="other", deadline_hours=72, attributes=[]
    )
    _apply(category, {"name": name, **fields}, errors)
    db.session.add(category)
    db.session.flush()
    return category


def get_for_edit(actor: Actor, category_id: int) -> CaseCategory:
    """A category the actor may change (404 for outsiders, 403 for insiders who may not)."""
    category = get_category(actor, category_id)
    authz.ensure_manager(actor, category.community_id)
    return category


def update_category(actor: Actor, category_id: int, changes: dict) -> CaseCategory:
    """Committee staff change a category (its code stays: clients and Open311 rely on it).

    A category is handled by an organization or by a role: naming one hands it over from the
    other (naming both at once is refused)."""
    category = get_for_edit(actor, category_id)
    changes = dict(changes)
    for given, other in (
        ("handler_role", "handler_organization_id"),
        ("handler_organization_id", "handler_role"),
    ):
        if changes.get(given) is not None and other not in changes:
            changes[other] = None
    _apply(category, changes)
    db.session.flush()
    return category


def install_defaults(actor: Actor | None, community_id: int) -> list[CaseCategory]:
    """Add the standard categories a community lacks (None actor: seeding)."""
    if actor is not None:
        authz.ensure_manager(actor, community_id)
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    orgs = {
        o.kind: o
        for o in sorted(
            db.session.scalars(
                select(Organization).where(
                    Organization.communities.any(Community.id == community_id)
                )
            ),
            key=lambda o: o.id,
        )
    }
    existing = {
        c.code
        for c in db.session.scalars(
            select(CaseCategory).where(CaseCategory.community_id == community_id)
        )
    }
    added = []
    for order, spec in enumerate(DEFAULTS):
        if spec["code"] in existing:
            continue
        handler = spec["handler"]
        org = orgs.get(handler) if handler in ("property", "social_org") else None
        category = CaseCategory(
            community_id=community_id,
            code=spec["code"],
            name=spec["name"],
            icon=spec["icon"],
            description=spec["description"],
            notice=spec["notice"],
            deadline_hours=spec["deadline_hours"],
            allow_anonymous=spec["allow_anonymous"],
            is_public=spec["is_public"],
            attributes=_check_attributes(spec["attributes"]),
            sort_order=order * 10,
            handler_organization_id=org.id if org is not None else None,
            handler_role=handler
            if handler in HANDLER_ROLES
            else (None if org is not None else "committee_staff"),
        )
        db.session.add(category)
        added.append(category)
    db.session.flush()
    return added
