"""Every easy page, at 大 and 特大, on a 360 px phone: axe-core finds no WCAG 2.2 AA violation,
and the measured sizes, spacing, fonts, contrast and reflow meet the age-friendly floor."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.affairs import workflow
from app.extensions import db
from app.models import Person, ProxyLink
from app.people import auth, invitations
from tests.browser_easy import rules, scene
from tests.factories import PIN, phone, proxy_link

MIN_FONT = {"large": 18, "xlarge": 30}

pytestmark = pytest.mark.browser


@pytest.fixture()
def town(world):
    """A community with something on every page: notices, matters in every state, family links."""
    cats = scene.install_categories(world)
    scene.announce(
        world,
        "燃气管道安全检修",
        "今天上门检修燃气管道，请家中留人。\n\n请查验证件。",
        priority="urgent",
        category="safety",
    )
    scene.announce(world, "重阳节敬老联欢会", "周五下午在活动室，欢迎参加。", category="activity")
    scene.announce(world, "停水通知", "周六 8:00 至 14:00 停水。", category="outage")
    elder = world.a.elder
    resolved = scene.file_case(world, elder, cats["repair"], "楼道灯不亮了，晚上看不清楚。")
    scene.resolve(world, resolved.id, note="灯已经换好了。")
    rejected = scene.file_case(world, elder, cats["suggestion"], "希望多办活动。")
    workflow.transition(scene.staff(world), rejected.id, "reject", reason="本月活动已经排满。")
    scene.file_case(world, elder, cats["environment"], "垃圾桶满了。")
    db.session.commit()
    # The elder has a helper (the world's relative) and a new request from a grandson; the
    # relative waits for a yes from another resident.
    grandson = Person(display_name="王小刚", phone=phone(), pin_hash=auth.hash_secret(PIN))
    db.session.add(grandson)
    db.session.flush()
    proxy_link(grandson, elder, status="pending")
    proxy_link(world.a.relative, world.a.resident, status="pending")
    invitation = invitations.create_invitation(scene.staff(world), world.a.community.id)
    db.session.commit()
    link = db.session.scalar(
        select(ProxyLink.id).where(
            ProxyLink.proxy_id == world.a.relative.id,
            ProxyLink.resident_id == elder.id,
            ProxyLink.status == "confirmed",
        )
    )
    return {
        "cats": cats,
        "resolved": resolved.id,
        "rejected": rejected.id,
        "invitation": invitation.code,
        "link": link,
    }


def _pages(world, town):
    """(who, path, what to do on the page first) for every easy page and state."""
    elder_id = world.a.elder.id
    repair = town["cats"]["repair"].id

    def fill_report(page):
        page.fill("#description", "楼道灯不亮了。")
        page.check("input[name=where][value=building]")
        page.locator("#report-form button[type=submit]").click()
        page.locator("#report-confirm").wait_for()

    def report_mistake(page):
        page.locator("#report-form button[type=submit]").click()
        page.locator("#check-error").wait_for()

    def wrong_pin(page):
        page.fill("#phone", world.a.resident.phone)
        page.fill("#pin", "999999")
        page.click("form.form button[type=submit]")
        page.locator("#form-errors").wait_for()

    return [
        (None, "/easy/login", None),
        (None, "/easy/login", wrong_pin),
        (None, f"/easy/join?code={town['invitation']}", None),
        (None, "/easy/offline", None),
        ("elder", "/easy/", None),
        ("elder", "/easy/more", None),
        ("elder", "/easy/announcements", None),
        ("elder", "/easy/activities", None),
        ("elder", "/easy/community-activities", None),
        ("elder", "/easy/points", None),
        ("elder", "/easy/report", None),
        ("elder", f"/easy/report/{repair}", None),
        ("elder", f"/easy/report/{repair}", report_mistake),
        ("elder", f"/easy/report/{repair}", fill_report),
        ("elder", "/easy/cases", None),
        ("elder", f"/easy/cases/{town['resolved']}", None),
        ("elder", f"/easy/cases/{town['resolved']}/received", None),
        ("elder", f"/easy/cases/{town['resolved']}/reopen", None),
        ("elder", f"/easy/cases/{town['rejected']}", None),
        ("elder", "/easy/contact", None),
        ("elder", "/easy/settings", None),
        ("elder", "/easy/family", None),
        ("elder", "/easy/no-such-page", None),
        ("relative", "/easy/", None),
        ("relative", "/easy/family", None),
        ("relative", f"/easy/family/{elder_id}/pin", None),
        ("relative", f"/easy/family/{town['link']}/end", None),
        ("helping", "/easy/", None),
        ("helping", "/easy/announcements", None),
        ("helping", "/easy/points", None),
    ]


def _phone_for(phones, who, world, size, **options):
    p = phones(**options)
    if who is None:
        p.context.add_cookies([{"name": "easy_size", "value": size, "url": p.base}])
        return p
    person = world.a.elder if who == "elder" else world.a.relative
    db.session.rollback()
    db.session.get(Person, person.id).text_size = size
    db.session.commit()
    p.sign_in(person)
    if who == "helping":
        p.page.goto("/easy/family")
        p.page.get_by_role("button", name=f"现在为 {world.a.elder.display_name} 代办").click()
        p.page.locator(".acting").wait_for()
    return p


@pytest.mark.parametrize("size", ["large", "xlarge"])
def test_every_page_passes_axe_and_the_age_friendly_measures(world, town, phones, size):
    found: dict[str, list[str]] = {}
    visited = 0
    browsers = {}
    for who, path, prepare in _pages(world, town):
        if who not in browsers:
            browsers[who] = _phone_for(phones, who, world, size)
        page = browsers[who].page
        page.goto(path)
        if prepare is not None:
            prepare(page)
        page.wait_for_load_state("load")
        assert (
            page.evaluate("document.documentElement.className") == f"size-{size}"
            or path == "/easy/offline"
        )
        label = f"{who or 'anonymous'} {path}{' +' + prepare.__name__ if prepare else ''}"
        problems = rules.axe_violations(page)
        result = rules.measure(page, MIN_FONT[size] if path != "/easy/offline" else 18)
        assert result["texts"] >= 3 and result["targets"] >= 1, (label, result)
        problems += result["problems"]
        if problems:
            found[label] = problems
        visited += 1
    assert visited == len(_pages(world, town))
    assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())


@pytest.mark.parametrize("size", ["large", "xlarge"])
def test_every_page_reflows_at_200_percent_zoom(world, town, phones, size):
    # 200 % browser zoom on a 360 px wide phone lays the page out in 180 CSS pixels.
    wide = {}
    browsers = {}
    for who, path, prepare in _pages(world, town):
        if who not in browsers:
            browsers[who] = _phone_for(
                phones,
                who,
                world,
                size,
                viewport={"width": 180, "height": 370},
                device_scale_factor=2,
            )
        page = browsers[who].page
        page.goto(path)
        if prepare is not None:
            prepare(page)
        extra = rules.overflow(page)
        if extra > 0:
            wide[f"{who} {path}"] = extra
    assert not wide, wide


def test_the_checks_catch_what_they_are_meant_to_catch(world, phones):
    """The measures are real: a page made too small, too tight, too faint or too wide fails."""
    p = phones()
    p.sign_in(world.a.resident)
    page = p.page
    assert rules.measure(page, 18)["problems"] == []
    page.add_style_tag(
        content=".big4 .btn{display:flex;min-height:0;padding:0;font-size:14px;"
        "line-height:1;color:#999;background:#fff} .big4{gap:2px}"
        " main::after{content:'';display:block;width:900px;height:1px}"
    )
    found = "\n".join(rules.measure(page, 18)["problems"])
    for expected in (
        "font-size 14px",
        "line-height 1.00",
        "contrast",
        "< 60×60",
        "only 2.0px",
        "horizontal overflow",
    ):
        assert expected in found, (expected, found)
    page.evaluate("document.querySelector('.big4 a span').remove()")
    assert "icon without words" in "\n".join(rules.measure(page, 18)["problems"])
    page.set_content("<html lang=en><body><img src=x><button></button></body></html>")
    assert {line.split(" ")[0] for line in rules.axe_violations(page)} >= {
        "image-alt",
        "button-name",
    }


def test_no_pop_ups_no_time_limits(world, town, phones):
    """Nothing opens a dialog on its own, and a page left alone stays as it is."""
    p = phones()
    dialogs = []
    p.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.sign_in(world.a.elder)
    for path in ("/easy/", "/easy/announcements", f"/easy/cases/{town['resolved']}/received"):
        p.page.goto(path)
        p.page.wait_for_load_state("networkidle")
        assert p.page.locator("dialog[open], [role=dialog], [role=alertdialog]").count() == 0
    assert dialogs == []
    assert p.page.evaluate("document.querySelectorAll('meta[http-equiv=refresh]').length") == 0
