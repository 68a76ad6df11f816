"""Demo cases: categories for every demo community and a few dozen cases with
real-looking timelines (registered with `seed_hook`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.affairs import categories, policy
from app.affairs.common import clock
from app.affairs.deadlines import run_due_work
from app.affairs.intake import submit_case
from app.affairs.views import suggested_assignee
from app.affairs.workflow import (
    add_note,
    assign_case,
    confirm_case,
    merge_case,
    support_case,
    transition,
)
from app.demo import seed_hook
from app.extensions import db
from app.models.base import utcnow
from app.models.case import (
    OPEN_STATUSES,
    Case,
    CaseCategory,
)
from app.people.actors import Actor

_DEMO_TEXT = {
    "repair": [
        "楼道灯不亮了，晚上上下楼看不清，怕摔倒。",
        "电梯这两天老是停在五楼不动，老人上下楼很困难。",
        "地下车库入口有积水，好像是水管漏了。",
        "顶楼水箱漏水，楼下天花板都发霉了。",
        "单元门禁坏了，门关不上。",
    ],
    "environment": [
        "东门垃圾桶满了两天没人清，味道很大。",
        "楼道里堆了很多纸箱和旧家具，过不去人。",
        "绿化带里的树枝断了，挡住了人行道。",
        "小广场地面有一大片积水。",
    ],
    "safety": [
        "有人在楼道里给电动车充电，很危险。",
        "消防通道被私家车堵住了。",
        "楼旁边的井盖松动了，踩上去会晃。",
    ],
    "dispute": [
        "楼上邻居每天晚上十一点以后还在装修，噪音很大。",
        "对门邻居把鞋柜放在公共走廊上，影响通行。",
    ],
    "suggestion": [
        "建议在小区广场多放几张长椅，老人散步累了可以歇歇脚。",
        "希望社区组织一次智能手机使用培训。",
        "建议在单元门口装个扶手，下雨天台阶滑。",
    ],
    "help": [
        "我一个人住，最近腿脚不方便，想请人帮忙买点菜。",
        "老伴住院了，想请人陪我去医院复查。",
        "家里水龙头拧不动了，自己修不了，想请人来看看。",
    ],
}


# (category, final state, days ago, channel): a month and a half of life in a community.
_DEMO_PLAN = [
    ("repair", "closed", 38, "app"),
    ("environment", "closed", 35, "kiosk"),
    ("help", "closed", 33, "proxy"),
    ("safety", "closed", 30, "patrol"),
    ("suggestion", "rejected", 28, "app"),
    ("repair", "closed", 26, "phone"),
    ("dispute", "closed", 24, "counter"),
    ("environment", "auto", 22, "app"),
    ("repair", "closed", 20, "voice"),
    ("help", "closed", 18, "phone"),
    ("safety", "in_progress", 17, "patrol"),
    ("safety", "merged", 16, "app"),
    ("suggestion", "in_progress", 14, "app"),
    ("repair", "overdue", 12, "app"),
    ("environment", "closed", 10, "kiosk"),
    ("repair", "resolved", 8, "proxy"),
    ("environment", "in_progress", 6, "app"),
    ("safety", "assigned", 5, "patrol"),
    ("dispute", "accepted", 4, "phone"),
    ("help", "closed", 3, "proxy"),
    ("repair", "resolved", 2, "app"),
    ("environment", "assigned", 2, "kiosk"),
    ("suggestion", "submitted", 1, "app"),
    ("repair", "submitted", 1, "voice"),
    ("safety", "submitted", 0, "kiosk"),
    ("help", "submitted", 0, "proxy"),
    ("environment", "closed", 0, "app"),
]


@seed_hook
def seed_demo_cases(ctx: dict) -> None:
    """Categories for every demo community and a few dozen cases with real-looking timelines."""
    now = utcnow()
    for code, data in ctx["communities"].items():
        community = data["community"]
        categories.install_defaults(None, community.id)
        if db.session.scalar(select(Case.id).where(Case.community_id == community.id).limit(1)):
            continue
        _seed_community(ctx, code, data, now)
    db.session.flush()


def _seed_community(ctx: dict, code: str, data: dict, now: datetime) -> None:
    community = data["community"]
    cats = {
        c.code: c
        for c in db.session.scalars(
            select(CaseCategory).where(CaseCategory.community_id == community.id)
        )
    }
    staff = Actor.for_person(data["staff"])
    grid = Actor.for_person(data["grid_worker"])
    residents = data["residents"]
    workers = {
        ctx["property"].id: Actor.for_person(ctx["property_staff"]),
        ctx["social_org"].id: Actor.for_person(ctx["volunteer"]),
    }
    device = None
    if ctx.get("device") is not None and ctx["device"].community_id == community.id:
        device = Actor.for_device(ctx["device"])
    cutoff = now - timedelta(minutes=5)
    for n, (cat_code, final, days, channel) in enumerate(_DEMO_PLAN):
        category = cats[cat_code]
        texts = _DEMO_TEXT[cat_code]
        text = texts[(n + len(code)) % len(texts)]
        resident = residents[(n * 7 + 1) % len(residents)]
        kwargs: dict = {"category_id": category.id, "description": text}
        if (
            channel == "proxy"
            and ctx.get("elder") is not None
            and ctx["elder"].community_id == community.id
        ):
            author = Actor.for_person(ctx["family_proxy"], on_behalf_of=ctx["elder"])
        elif channel == "kiosk" and device is not None and category.allow_anonymous:
            author = device
        elif channel in ("phone", "counter"):
            author = staff
            kwargs.update(channel=channel, reporter_id=resident.id)
        elif channel == "patrol":
            author = grid
            kwargs.update(
                channel="patrol", building_id=data["buildings"][n % len(data["buildings"])].id
            )
        else:
            author = Actor.for_person(resident)
            kwargs["channel"] = "voice" if channel == "voice" else "app"
            if channel == "voice":
                kwargs.update(transcript=text, description=None)
        moments = iter(
            min(now - timedelta(days=days, hours=9 - (n * 5) % 9) + timedelta(hours=h), cutoff)
            for h in (0, 1.5, 3.5, 6.5, 27, 33, 40)
        )
        with clock(next(moments)):
            case = submit_case(author, **kwargs)
        if final == "submitted":
            continue
        if final == "rejected":
            with clock(next(moments)):
                transition(
                    staff,
                    case.id,
                    "reject",
                    reason="经核实不属于社区受理范围，已告知可拨打 12345 反映。",
                )
            continue
        if final == "merged":
            target = db.session.scalar(
                select(Case)
                .where(
                    Case.community_id == community.id,
                    Case.category_id == category.id,
                    Case.id != case.id,
                    Case.status.in_(OPEN_STATUSES),
                )
                .order_by(Case.id)
            )
            if target is not None:
                with clock(next(moments)):
                    merge_case(staff, case.id, target.id, note="与同一位置的诉求合并处理。")
            continue
        with clock(next(moments)):
            transition(staff, case.id, "accept", note="已受理，马上安排。")
        if final == "accepted":
            continue
        handler = suggested_assignee(case) or {"person_id": data["grid_worker"].id}
        handler.pop("name", None)
        worker = workers.get(handler.get("organization_id"), grid)
        if handler.get("person_id") not in (None, data["grid_worker"].id):
            worker = staff
        with clock(next(moments)):
            assign_case(staff, case.id, note="请尽快处理。", **handler)
        if final in ("assigned", "overdue"):
            continue
        with clock(next(moments)):
            transition(worker, case.id, "start", note="已联系居民，约好时间上门。")
        if final == "in_progress":
            with clock(next(moments)):
                add_note(worker, case.id, "配件已订，预计明天到。", public=True)
            continue
        with clock(next(moments)):
            transition(worker, case.id, "resolve", note="已处理完毕，请您看看是否满意。")
        if final in ("resolved", "auto"):
            continue
        rating = 5 if n % 3 else 4
        with clock(next(moments)):
            if case.reporter_id is not None:
                who = (
                    author
                    if author.person is not None
                    and author.device is None
                    and author.subject.id == case.reporter_id
                    else Actor.for_person(case.reporter)
                )
                confirm_case(
                    who,
                    case.id,
                    rating=rating,
                    comment="师傅很负责，谢谢社区！" if rating == 5 else None,
                )
            else:
                transition(staff, case.id, "close", note="电话回访，居民表示满意。")
    run_due_work(now=now, community_id=community.id)
    # A few neighbours say "me too" on open public cases.
    open_public = db.session.scalars(
        select(Case)
        .where(
            Case.community_id == community.id,
            Case.status.in_(OPEN_STATUSES),
            Case.is_public.is_(True),
        )
        .order_by(Case.id)
    ).all()
    for i, case in enumerate(open_public[:4]):
        for resident in residents[10 + i : 13 + i]:
            actor = Actor.for_person(resident)
            if policy.may(actor, "support", case):
                support_case(actor, case.id)
