"""The demo community: realistic Chinese data, safe to seed again (nothing is duplicated).

Other features add their demo data through `seed_hook`: each hook gets the seed context
(a dict of what was created) and may add keys to the JSON summary.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import (
    ApiToken,
    Building,
    Community,
    Device,
    Grid,
    Household,
    Organization,
    Person,
    ProxyLink,
    RoleAssignment,
    StreetOffice,
)
from app.models.base import utcnow
from app.people.auth import hash_secret

DEMO_PASSWORD = "linli-demo-2026"
DEMO_PIN = "135790"
_HOOKS: list[Callable[[dict], None]] = []

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = [
    "秀英",
    "桂兰",
    "建国",
    "淑珍",
    "国强",
    "玉兰",
    "德明",
    "凤英",
    "志强",
    "海燕",
    "文华",
    "丽华",
    "永福",
    "春梅",
    "金凤",
    "明辉",
    "晓东",
    "静",
    "磊",
    "婷",
]


def seed_hook(fn: Callable[[dict], None]) -> Callable[[dict], None]:
    """Register a function that adds a feature's demo data."""
    if fn not in _HOOKS:
        _HOOKS.append(fn)
    return fn


def _get_or_create(model, defaults: dict | None = None, **keys):
    row = db.session.scalar(select(model).filter_by(**keys))
    if row is None:
        row = model(**keys, **(defaults or {}))
        db.session.add(row)
        db.session.flush()
    return row


def _role(person: Person, role: str, **scope) -> None:
    existing = db.session.scalar(
        select(RoleAssignment).filter_by(person_id=person.id, role=role, **scope)
    )
    if existing is None:
        person.roles.append(RoleAssignment(role=role, **scope))
        db.session.flush()


def _staff(username: str, name: str, phone: str) -> Person:
    person = db.session.scalar(select(Person).where(Person.username == username))
    if person is None:
        person = Person(
            username=username,
            display_name=name,
            phone=phone,
            password_hash=hash_secret(DEMO_PASSWORD),
        )
        db.session.add(person)
        db.session.flush()
    return person


def _resident(
    community: Community,
    household: Household,
    name: str,
    phone: str,
    birth_year: int,
    care: list[str],
) -> Person:
    person = db.session.scalar(select(Person).where(Person.phone == phone))
    if person is None:
        person = Person(
            display_name=name,
            phone=phone,
            pin_hash=hash_secret(DEMO_PIN),
            birth_year=birth_year,
            care_flags=care,
            community_id=community.id,
            household=household,
        )
        db.session.add(person)
        db.session.flush()
    _role(person, "resident", community_id=community.id)
    return person


def demo_kiosk_token() -> str:
    """The demo screen's token, derived from SECRET_KEY so seeding again finds the same one."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"linli-demo-kiosk", hashlib.sha256).hexdigest()


def seed() -> dict:
    """Create (or complete) the demo; returns the summary printed by `flask seed-demo --json`."""
    office = _get_or_create(
        StreetOffice, {"name": "幸福街道办事处", "phone": "010-6500 1000"}, code="xingfu"
    )
    specs = [
        ("heping", "和平社区", "幸福路 88 号", "010-6500 1234", "周一至周五 8:30-17:30"),
        ("guangming", "光明社区", "光明街 16 号", "010-6500 5678", "周一至周六 9:00-17:00"),
    ]
    accounts: list[dict] = []
    ctx: dict = {"street_office": office, "communities": {}, "accounts": accounts}
    serial = 0
    for index, (code, name, address, phone, hours) in enumerate(specs):
        community = _get_or_create(
            Community,
            {
                "name": name,
                "address": address,
                "phone": phone,
                "office_hours": hours,
                "street_office_id": office.id,
            },
            code=code,
        )
        grids = [
            _get_or_create(Grid, community_id=community.id, name=f"第{n}网格") for n in ("一", "二")
        ]
        buildings = []
        for b in range(1, 7):
            building = _get_or_create(
                Building,
                {
                    "grid_id": grids[(b - 1) // 3].id,
                    "latitude": 39.90 + index * 0.01 + b * 0.0005,
                    "longitude": 116.40 + b * 0.0005,
                },
                community_id=community.id,
                name=f"{b}号楼",
            )
            buildings.append(building)
        households = []
        for building in buildings:
            for unit in ("1", "2"):
                for room in ("101", "302", "501"):
                    households.append(
                        _get_or_create(Household, building_id=building.id, unit=unit, room=room)
                    )
        residents = []
        for n in range(18):
            serial += 1
            surname = SURNAMES[(serial * 7) % len(SURNAMES)]
            given = GIVEN[(serial * 3) % len(GIVEN)]
            elderly = n % 3 == 0
            care = ["lives_alone"] if n % 6 == 0 else (["limited_mobility"] if n % 9 == 3 else [])
            residents.append(
                _resident(
                    community,
                    households[(n * 5) % len(households)],
                    surname + given,
                    f"1390000{serial:04d}",
                    1940 + (n % 5) if elderly else 1970 + n,
                    care,
                )
            )
        staff = _staff(
            f"{code}_staff",
            f"{community.name}居委会·{SURNAMES[index]}主任",
            f"1380000{index:02d}01",
        )
        _role(staff, "committee_staff", community_id=community.id)
        grid_worker = _staff(
            f"{code}_grid1", f"网格员·{SURNAMES[index + 5]}晓燕", f"1380000{index:02d}02"
        )
        _role(grid_worker, "grid_worker", grid_id=grids[0].id)
        ctx["communities"][code] = {
            "community": community,
            "grids": grids,
            "buildings": buildings,
            "residents": residents,
            "staff": staff,
            "grid_worker": grid_worker,
        }
        accounts += [
            {
                "role": "committee_staff",
                "login": staff.username,
                "password": DEMO_PASSWORD,
                "community": community.name,
            },
            {
                "role": "grid_worker",
                "login": grid_worker.username,
                "password": DEMO_PASSWORD,
                "community": community.name,
            },
        ]

    heping = ctx["communities"]["heping"]
    guangming = ctx["communities"]["guangming"]
    social = _get_or_create(
        Organization, {"kind": "social_org", "phone": "010-6500 2222"}, name="夕阳红志愿服务社"
    )
    prop = _get_or_create(
        Organization, {"kind": "property", "phone": "010-6500 3333"}, name="安居物业服务有限公司"
    )
    for org in (social, prop):
        for c in (heping["community"], guangming["community"]):
            if c not in org.communities:
                org.communities.append(c)
    volunteer = _staff("xiyanghong", "夕阳红志愿服务社·孙志愿", "13800000301")
    _role(volunteer, "org_member", organization_id=social.id)
    # 夕阳红's lead (负责人) manages its members in both communities (我的组织 in the console);
    # one 和平 resident already volunteers with it.
    for membership in volunteer.roles:
        if membership.role == "org_member" and membership.organization_id == social.id:
            membership.leads_organization = True
    _role(
        heping["residents"][4],
        "org_member",
        organization_id=social.id,
        community_id=heping["community"].id,
    )
    property_staff = _staff("anju_wuye", "安居物业·钱师傅", "13800000302")
    _role(property_staff, "org_member", organization_id=prop.id)
    official = _staff("xingfu_official", "幸福街道·周科长", "13800000401")
    _role(official, "street_official", street_office_id=office.id)
    admin = _staff("admin", "平台管理员", "13800000501")
    _role(admin, "platform_admin")
    ctx.update(
        social_org=social,
        property=prop,
        volunteer=volunteer,
        property_staff=property_staff,
        official=official,
        admin=admin,
    )

    elder = heping["residents"][0]  # lives alone (n = 0)
    child = db.session.scalar(select(Person).where(Person.phone == "13911110000"))
    if child is None:
        child = Person(
            display_name=f"{elder.display_name[0]}晓明",
            phone="13911110000",
            pin_hash=hash_secret(DEMO_PIN),
        )
        db.session.add(child)
        db.session.flush()
    link = _get_or_create(
        ProxyLink,
        {
            "relation": "儿子",
            "status": "confirmed",
            "confirmed_by_id": heping["staff"].id,
            "confirmed_at": utcnow(),
        },
        proxy_id=child.id,
        resident_id=elder.id,
    )
    ctx.update(elder=elder, family_proxy=child, proxy_link=link)

    device = _get_or_create(
        Device,
        {
            "location": "1号楼一层大堂",
            "orientation": "landscape",
            "building_id": heping["buildings"][0].id,
        },
        community_id=heping["community"].id,
        name="1号楼大堂屏",
    )
    token = demo_kiosk_token()
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    if db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash)) is None:
        db.session.add(ApiToken(token_hash=token_hash, device=device, label="demo kiosk"))
    ctx["device"] = device

    accounts += [
        {"role": "platform_admin", "login": "admin", "password": DEMO_PASSWORD, "community": None},
        {
            "role": "street_official",
            "login": official.username,
            "password": DEMO_PASSWORD,
            "community": office.name,
        },
        {
            "role": "org_member",
            "login": volunteer.username,
            "password": DEMO_PASSWORD,
            "community": social.name,
        },
        {
            "role": "org_member",
            "login": property_staff.username,
            "password": DEMO_PASSWORD,
            "community": prop.name,
        },
        {
            "role": "resident",
            "login": elder.phone,
            "pin": DEMO_PIN,
            "community": heping["community"].name,
            "note": "独居老人",
        },
        {
            "role": "resident",
            "login": heping["residents"][1].phone,
            "pin": DEMO_PIN,
            "community": heping["community"].name,
        },
        {
            "role": "family_proxy",
            "login": child.phone,
            "pin": DEMO_PIN,
            "community": heping["community"].name,
            "acts_for": elder.id,
        },
    ]
    summary: dict = {
        "accounts": accounts,
        "kiosk_token": token,
        "kiosk_url": f"/kiosk?token={token}",
    }
    ctx["summary"] = summary
    for hook in _HOOKS:
        hook(ctx)
    db.session.flush()
    return summary
