"""An elderly resident (360×740 phone, 特大 text) and a family proxy walk every easy-mode flow
in real Chromium: sign in, hear and acknowledge notices, report with a photo, follow the matter,
confirm and rate it, call the committee, change settings, link and act as family."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Person, ProxyLink
from app.models.announcement import AnnouncementAck
from app.people import auth, invitations
from app.people.actors import Actor
from tests.browser_easy import scene
from tests.browser_easy.conftest import jpeg_bytes
from tests.factories import PIN, phone

pytestmark = pytest.mark.browser


def _xlarge(person):
    person.text_size = "xlarge"
    db.session.commit()


def test_elder_hears_notices_and_acknowledges_the_urgent_one(world, phones, fresh):
    elder = world.a.elder
    _xlarge(elder)
    scene.announce(world, "停水通知", "周六 8:00 至 14:00 停水，请提前储水。", category="outage")
    urgent = scene.announce(
        world,
        "燃气管道安全检修",
        "今天上门检修燃气管道，请家中留人。",
        priority="urgent",
        category="safety",
    )
    p = phones()
    page = p.page
    page.goto("/easy")  # what the kiosk's QR code opens
    expect(page).to_have_url(re.compile(r"/easy/login"))
    p.sign_in(elder)
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "30px"
    expect(page.locator("#title")).to_contain_text("独居老人")

    page.get_by_role("link", name=re.compile("紧急公告")).click()
    cards = page.locator("article.card")
    expect(cards.first).to_have_class(re.compile("urgent"))
    expect(cards.first.locator("h2")).to_have_text("燃气管道安全检修")
    expect(cards.nth(1).locator("h2")).to_have_text("停水通知")

    cards.first.get_by_role("button", name="朗读这一条").click()
    page.wait_for_function("() => window.__spoken.length > 0")
    said = p.spoken()[-1]
    assert "燃气管道安全检修" in said["text"] and "请家中留人" in said["text"]
    assert "朗读这一条" not in said["text"] and said["lang"] == "zh-CN"

    cards.first.get_by_role("button", name="我知道了").click()
    expect(cards.first.get_by_role("status")).to_have_text(re.compile("知道了"))
    expect(cards.first.get_by_role("button", name="我知道了")).to_have_count(0)
    fresh()
    ack = db.session.scalar(
        select(AnnouncementAck).where(AnnouncementAck.announcement_id == urgent.id)
    )
    assert ack.person_id == elder.id and ack.acked_by_id is None
    # The home banner is gone once the urgent notice is acknowledged.
    page.get_by_role("link", name="首页").click()
    expect(page.get_by_role("link", name=re.compile("紧急公告"))).to_have_count(0)
    expect(page.locator(".big4 a.big")).to_have_count(4)


def test_the_urgent_banner_reads_the_urgent_notice_at_once(world, phones):
    scene.announce(world, "停水通知", "周六 8:00 至 14:00 停水，请提前储水。", category="outage")
    scene.announce(
        world,
        "燃气管道安全检修",
        "今天上门检修燃气管道，请家中留人。",
        priority="urgent",
        category="safety",
    )
    p = phones()
    page = p.page
    p.sign_in(world.a.elder)
    page.get_by_role("link", name=re.compile("紧急公告.*点这里听")).click()
    # 点这里听 means listen: the urgent notice is read without a second tap.
    page.wait_for_function("window.__spoken.length > 0")
    said = p.spoken()[0]
    assert "燃气管道安全检修" in said["text"] and "停水" not in said["text"]
    # Once only: the address no longer asks for it, so a reload stays quiet.
    assert "listen" not in page.url
    page.reload()
    page.wait_for_timeout(500)
    assert p.spoken() == []
    assert not p.failed_requests and not p.console_errors, (p.failed_requests, p.console_errors)


def test_elder_reports_with_a_photo_follows_and_rates_it(world, phones, fresh, tmp_path):
    elder = world.a.elder
    _xlarge(elder)
    scene.install_categories(world)
    p = phones()
    page = p.page
    p.sign_in(elder)
    page.get_by_role("link", name="我要反映").click()
    page.get_by_role("link", name=re.compile("报修")).click()
    expect(page.get_by_role("note")).to_contain_text("燃气")  # the category's notice first
    page.fill("#description", "楼道灯不亮了，晚上看不清。")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes())
    page.set_input_files("#photo", str(photo))
    # The place is asked, never assumed (a stairwell light is not "at my home").
    expect(page.locator("input[name=where]:checked")).to_have_count(0)
    page.get_by_role("button", name="下一步：核对一下").click()
    expect(page.locator("#check-error")).to_have_text(re.compile("请选一下是在哪里"))
    page.check("input[name=where][value=home]")
    page.get_by_role("button", name="下一步：核对一下").click()

    check = page.locator("#report-confirm")
    expect(check).to_be_visible()
    # 下一步 only shows the check screen: no error box, nothing sent yet.
    expect(page.locator("#check-error")).to_be_hidden()
    expect(page.locator("form#report-form ~ .error, .error:not([hidden])")).to_have_count(0)
    assert not p.failed_requests and not p.console_errors, (p.failed_requests, p.console_errors)
    expect(check).to_contain_text("楼道灯不亮了")
    expect(check).to_contain_text("在我家：1号楼1单元101")
    expect(check).to_contain_text("有一张照片")
    expect(page.locator("#c-preview")).to_be_visible()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url(re.compile(r"/easy/cases/\d+/received$"))
    assert not p.failed_requests and not p.console_errors, (p.failed_requests, p.console_errors)

    (case,) = scene.cases_of(elder)
    assert case.channel == "app" and case.household_id == elder.household_id
    assert [a.kind for a in case.attachments] == ["photo"]
    expect(page.locator(".ref")).to_have_text(case.reference)
    # The number is read out digit by digit (once on arrival, and again on tap).
    year, serial = case.reference.split("-")
    digits = "零一二三四五六七八九"
    spoken = (
        "".join(digits[int(c)] for c in year) + "，杠，" + "".join(digits[int(c)] for c in serial)
    )
    page.wait_for_function("() => window.__spoken.length > 0")
    page.get_by_role("button", name="读出编号").click()
    page.wait_for_function("() => window.__spoken.length > 1")
    assert all(spoken in s["text"] for s in p.spoken())

    page.get_by_role("link", name="查看这件事").click()
    expect(page.locator(".status-box h2")).to_have_text("居委会已收到")
    expect(page.locator("img.photo")).to_have_count(1)
    # The photo loads lazily: bring it into view, wait until the browser is done with it, then
    # it must have decoded (a broken image is "complete" too, with no width).
    page.locator("img.photo").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.photo').complete")
    assert page.evaluate("document.querySelector('img.photo').naturalWidth") > 0
    page.get_by_role("link", name="我的事项").click()
    expect(page.locator("a.row")).to_contain_text(case.reference)

    scene.resolve(world, case.id, note="灯已经换好了。")
    page.locator("a.row").first.click()
    expect(page.locator(".status-box h2")).to_have_text("办好了，请您看看")
    expect(page.locator(".timeline")).to_contain_text("灯已经换好了。")
    expect(page.locator(".timeline")).to_contain_text("工作人员说已经办好了")
    page.get_by_role("button", name="满意", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("办结")
    expect(page.locator(".status-box h2")).to_have_text("已办结")
    expect(page.locator("p.done")).to_contain_text("满意")
    fresh()
    (case,) = scene.cases_of(elder)
    assert case.status == "closed" and case.rating == 5


def test_not_fixed_goes_back_and_the_second_time_is_rated_unsatisfied(world, phones, fresh):
    elder = world.a.elder
    cats = scene.install_categories(world)
    case = scene.file_case(world, elder, cats["environment"], "垃圾桶满了。")
    scene.resolve(world, case.id)
    p = phones()
    page = p.page
    p.sign_in(elder)
    page.goto(f"/easy/cases/{case.id}")
    page.get_by_role("link", name="没办好，退回重办").click()
    page.fill("#reason", "还是满的。")
    page.get_by_role("button", name="退回重办").click()
    expect(page.locator(".status-box h2")).to_have_text("重新办理中")
    expect(page.locator(".timeline")).to_contain_text("还是满的。")
    scene.resolve(world, case.id, note="这次清空了。")
    page.reload()
    page.get_by_role("button", name="不满意").click()
    expect(page.locator("p.done")).to_contain_text("不满意")
    fresh()
    assert scene.cases_of(elder)[0].rating == 1


def test_a_double_tap_or_a_lost_answer_files_one_case(world, phones, fresh):
    elder = world.a.elder
    scene.install_categories(world)
    p = phones()
    page = p.page
    p.sign_in(elder)
    page.goto("/easy/report")
    page.get_by_role("link", name=re.compile("环境卫生")).click()
    page.fill("#description", "1号楼楼道里的垃圾桶满了。")
    page.check("input[name=where][value=building]")
    page.get_by_role("button", name="下一步：核对一下").click()
    expect(page.locator("#c-place")).to_have_text("在我住的楼里（楼道、电梯、楼门）：1号楼")

    # The first answer is lost on the way back (the server did create the case).
    lost = []

    def lose_answer(route):
        route.fetch()
        lost.append(route.request.headers["idempotency-key"])
        route.abort("connectionreset")

    page.route("**/api/v1/cases", lose_answer, times=1)
    page.get_by_role("button", name="确认提交").click()
    expect(page.locator("#send-error")).to_contain_text("网络不好")
    assert len(scene.cases_of(elder)) == 1
    page.get_by_role("button", name="确认提交").dblclick()
    page.wait_for_url(re.compile(r"/received$"))
    (case,) = scene.cases_of(elder)
    expect(page.locator(".ref")).to_have_text(case.reference)
    assert lost and len(lost[0]) >= 16
    assert case.building_id == elder.household.building_id and case.household_id is None


def test_reporting_works_without_javascript(world, browser, live_server, db):
    elder = world.a.elder
    scene.install_categories(world)
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        java_script_enabled=False,
    )
    try:
        page = context.new_page()
        page.goto("/easy/login")
        page.fill("#phone", elder.phone)
        page.fill("#pin", PIN)
        page.click("form.form button[type=submit]")
        page.goto("/easy/report")
        page.get_by_role("link", name=re.compile("安全隐患")).click()
        page.check("input[value=other]")
        page.fill("#description", "消防通道被堵了。")
        page.fill("#address", "3号楼后面")
        page.get_by_role("button", name="提交").click()
        page.wait_for_url(re.compile(r"/received$"))
        (case,) = scene.cases_of(elder)
        assert case.address == "3号楼后面" and case.household_id is None
        assert page.locator(".ref").inner_text() == case.reference
        page.go_back()  # back works: the form is there again
        expect(page.locator("#description")).to_be_visible()
    finally:
        context.close()


def test_home_stays_light_without_a_recognizer(world, phones):
    p = phones()
    fetched = []
    p.page.on("request", lambda request: fetched.append(request.url))
    p.sign_in(world.a.resident)
    p.page.wait_for_load_state("networkidle")
    assert any("/easy/static/easy.js" in u for u in fetched)
    assert not [u for u in fetched if "/static/voice/" in u]  # no recognizer: no assistant


def test_contact_page_calls_the_committee(world, phones):
    p = phones()
    page = p.page
    p.sign_in(world.a.resident)
    page.get_by_role("link", name="联系居委会").click()
    call = page.get_by_role("link", name=re.compile("打电话"))
    expect(call).to_have_attribute("href", "tel:01012345678")
    expect(page.locator(".facts")).to_contain_text("8:30-17:30")
    expect(page.locator(".facts")).to_contain_text("测试路1号")
    # At the largest text the number breaks, if at all, between its groups (010-1234 / 5678),
    # never inside one (it used to: "010-12" / "34 5678").
    _xlarge(world.a.resident)
    world.a.community.phone = "13812345678"  # a mobile: one group, wider than the button's text
    db.session.commit()
    page.reload()
    number = page.locator("a.call .tel")
    expect(number).to_have_text(re.compile(r"^[\d -]+$"))
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "30px"
    lines_per_group = number.evaluate("""e => {
        const text = e.firstChild, out = [];
        for (const m of text.data.matchAll(/\\d+/g)) {
            const r = document.createRange();
            r.setStart(text, m.index); r.setEnd(text, m.index + m[0].length);
            out.push(new Set([...r.getClientRects()].map(x => Math.round(x.top))).size);
        }
        return out;
    }""")
    assert lines_per_group and set(lines_per_group) == {1}, lines_per_group
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "30px"


def test_settings_change_size_speed_and_language(world, phones, fresh):
    resident = world.a.resident
    p = phones()
    page = p.page
    p.sign_in(resident)
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "20px"
    page.goto("/easy/settings")
    page.get_by_role("button", name="特大").click()
    expect(page.get_by_role("button", name="特大")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "30px"
    page.get_by_role("button", name="快").click()
    expect(page.locator("body")).to_have_attribute("data-speech-rate", "fast")
    page.get_by_role("button", name="朗读", exact=True).click()
    page.wait_for_function("() => window.__spoken.length > 0")
    # Fast: the server's "fast" voice, or the browser's speech at 1.25×.
    assert {(s["via"], s["rate"]) for s in p.spoken()} & {("server", "fast"), ("browser", 1.25)}
    page.get_by_role("button", name="English").click()
    expect(page.locator("#title")).to_have_text("Settings")
    fresh()
    person = db.session.get(Person, resident.id)
    assert (person.text_size, person.speech_rate, person.locale) == ("xlarge", "fast", "en")
    # The choices follow the person to another phone.
    other = phones()
    other.sign_in(person)
    assert other.page.evaluate("document.documentElement.className") == "size-xlarge"
    expect(other.page.get_by_role("link", name="Report a problem")).to_be_visible()


def test_sign_in_mistakes_and_lockout_are_explained(world, phones, app):
    p = phones()
    page = p.page
    page.goto("/easy/login")
    expect(page.locator("#pin")).to_have_attribute("autocomplete", "current-password")
    expect(page.locator("#pin")).to_have_attribute("inputmode", "numeric")
    expect(page.locator("body")).to_contain_text("请居委会帮您重新设置密码")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        page.fill("#phone", world.a.elder.phone)
        page.fill("#pin", "999999")
        page.click("form.form button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("密码不对")
    page.fill("#phone", world.a.elder.phone)
    page.fill("#pin", "999999")
    page.click("form.form button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("分钟")
    expect(page.get_by_role("alert")).to_contain_text("居委会")
    page.fill("#phone", world.a.elder.phone)
    page.fill("#pin", PIN)  # the right PIN, but the phone number is locked for now
    page.click("form.form button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("分钟")
    assert "/easy/login" in page.url


def test_join_with_the_committee_invitation_and_stay_signed_in(world, phones, fresh):
    invitation = invitations.create_invitation(scene.staff(world), world.a.community.id)
    db.session.commit()
    p = phones()
    page = p.page
    page.goto(f"/easy/join?code={invitation.code}")
    expect(page.locator("#code")).to_have_value(invitation.code)
    number = phone()
    page.fill("#display_name", "新来的李阿姨")
    page.fill("#phone", number)
    page.fill("#pin", "135792")
    page.fill("#pin_again", "135790")
    page.get_by_role("button", name="加入").click()
    expect(page.get_by_role("alert")).to_contain_text("两次输入的密码不一样")
    page.fill("#pin", "135792")
    page.fill("#pin_again", "135792")
    page.get_by_role("button", name="加入").click()
    page.wait_for_url(re.compile(r"/easy/$"))
    expect(page.locator("#title")).to_contain_text("新来的李阿姨")
    remember = [c for c in p.context.cookies() if c["name"] == "remember_token"]
    assert remember and remember[0]["expires"] > __import__("time").time() + 300 * 86400
    # A new browser session with only the remember cookie is still signed in.
    again = phones()
    again.context.add_cookies(remember)
    again.page.goto("/easy/")
    expect(again.page.locator("#title")).to_contain_text("新来的李阿姨")


def test_family_proxy_links_acts_and_is_recorded(world, phones, fresh):
    elder = world.a.elder
    cats = scene.install_categories(world)
    urgent = scene.announce(world, "暴雨预警", "请关好门窗。", priority="urgent", category="safety")
    son = Person(display_name="王小明", phone=phone(), pin_hash=auth.hash_secret(PIN))
    db.session.add(son)
    db.session.commit()

    son_phone = phones()
    page = son_phone.page
    son_phone.sign_in(son)
    expect(page.locator("main")).to_contain_text("还没有加入社区")
    page.get_by_role("link", name="家人代办").click()
    page.fill("#phone", elder.phone)
    page.fill("#relation", "儿子")
    page.get_by_role("button", name="申请代办").click()
    expect(page.get_by_role("status").first).to_contain_text("申请已发出")
    waiting = page.locator("section[aria-labelledby=wait-h]")
    expect(waiting).to_contain_text(elder.phone[:3] + "****" + elder.phone[-4:])
    expect(page.locator("main")).not_to_contain_text(elder.display_name)  # no name before a yes

    elder_phone = phones()
    elder_page = elder_phone.page
    elder_phone.sign_in(elder)
    elder_page.get_by_role("link", name=re.compile("有家人想帮您办事")).click()
    asking = elder_page.locator("section[aria-labelledby=ask-h]")
    expect(asking).to_contain_text("王小明")
    expect(asking).to_contain_text("儿子")
    asking.get_by_role("button", name="同意", exact=True).click()
    expect(elder_page.get_by_role("status").first).to_contain_text("可以帮您办事")
    fresh()
    link = db.session.scalar(select(ProxyLink).where(ProxyLink.proxy_id == son.id))
    assert link.status == "confirmed" and link.confirmed_by_id == elder.id

    page.goto("/easy/family")
    page.get_by_role("button", name=f"现在为 {elder.display_name} 代办").click()
    banner = page.locator(".acting")
    expect(banner).to_contain_text(f"正在为 {elder.display_name} 代办")
    expect(page.locator(".big4 a.big")).to_have_count(4)

    # Acknowledge the urgent notice for the elder (through the API, with X-Act-For).
    page.get_by_role("link", name="听公告").click()
    page.get_by_role("button", name="我知道了").click()
    expect(page.locator("article.urgent").get_by_role("status")).to_contain_text("知道了")
    # Report a problem for the elder.
    page.get_by_role("link", name="首页").click()
    page.get_by_role("link", name="我要反映").click()
    page.get_by_role("link", name=re.compile("求助")).click()
    page.fill("#description", "老人想请人陪同去医院复查。")
    page.get_by_role("button", name="下一步：核对一下").click()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_url(re.compile(r"/received$"))
    expect(banner).to_be_visible()
    fresh()
    (case,) = scene.cases_of(elder)
    assert case.proxy_id == son.id and case.channel == "proxy"
    assert case.category_id == cats["help"].id
    assert case.events[0].actor_person_id == son.id and case.events[0].on_behalf_of_id == elder.id
    ack = db.session.scalar(
        select(AnnouncementAck).where(AnnouncementAck.announcement_id == urgent.id)
    )
    assert ack.person_id == elder.id and ack.acked_by_id == son.id

    # The elder forgot the PIN: the son sets a new one from his own phone.
    page.goto("/easy/family")
    page.get_by_role("link", name=f"帮 {elder.display_name} 重设密码").click()
    page.fill("#pin", "864200")
    page.fill("#pin_again", "864200")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.get_by_role("status").first).to_contain_text("新密码设置好了")
    fresh()
    assert auth.authenticate(elder.phone, pin="864200").id == elder.id
    db.session.commit()

    page.locator(".acting").get_by_role("button", name="结束代办").click()
    expect(page.locator(".acting")).to_have_count(0)

    # Acting again, then the elder ends the link: the son's next page says so.
    page.get_by_role("button", name=f"现在为 {elder.display_name} 代办").click()
    expect(page.locator(".acting")).to_be_visible()
    # The new PIN ended the elder's sign-ins: her phone asks for it.
    elder_page.goto("/easy/family")
    elder_page.wait_for_url(re.compile(r"/easy/login"))
    elder_phone.sign_in(elder, pin="864200")
    elder_page.goto("/easy/family")
    helper = elder_page.locator("section[aria-labelledby=helpers-h] .person").filter(
        has_text="王小明"
    )
    expect(helper).to_contain_text("王小明（您的儿子）")
    # One tap asks first; 不解除 keeps the link.
    helper.get_by_role("link", name="解除绑定").click()
    expect(elder_page.get_by_role("heading", name="要解除和王小明的家人绑定吗？")).to_be_visible()
    elder_page.get_by_role("link", name="不解除").click()
    elder_page.locator("section[aria-labelledby=helpers-h] .person").filter(
        has_text="王小明"
    ).get_by_role("link", name="解除绑定").click()
    elder_page.get_by_role("button", name="确定解除").click()
    expect(elder_page.get_by_role("status").first).to_contain_text("绑定已经解除")
    page.reload()
    expect(page.locator(".acting")).to_have_count(0)
    expect(page.get_by_role("status").first).to_contain_text("家人代办已经结束")
    assert Actor.for_person(son).on_behalf_of is None


def test_activities_and_votes_sit_on_the_second_page(world, phones):
    scene.announce(world, "重阳节敬老联欢会", "周五下午在活动室。", category="activity")
    scene.announce(world, "停电通知", "周日上午停电。", category="outage")
    p = phones()
    page = p.page
    p.sign_in(world.a.resident)
    expect(page.locator("main")).not_to_contain_text("投票")  # the first page keeps its four
    page.get_by_role("link", name=re.compile("更多")).click()
    expect(page.get_by_role("link", name="议事投票")).to_be_visible()
    page.get_by_role("link", name="社区活动").click()  # activities with sign-up …
    page.get_by_role("link", name="活动通知").click()  # … and the activity announcements
    expect(page.locator("article h2")).to_have_text(["重阳节敬老联欢会"])
    page.get_by_role("link", name="返回").click()
    expect(page).to_have_url(re.compile(r"/easy/more$"))


def test_new_notices_appear_as_a_banner_without_reordering(world, phones, app):
    scene.announce(world, "第一条", "内容一。")
    app.config["EASY_POLL_SECONDS"] = 1
    try:
        p = phones()
        page = p.page
        p.sign_in(world.a.resident)
        page.goto("/easy/announcements")
        expect(page.locator("#fresh")).to_be_hidden()
        scene.announce(world, "第二条", "内容二。")
        expect(page.locator("#fresh")).to_be_visible(timeout=10000)
        expect(page.locator("article h2")).to_have_text(["第一条"])  # nothing moved
        page.locator("#fresh a").click()
        expect(page.locator("article h2")).to_have_text(["第二条", "第一条"])
    finally:
        app.config.pop("EASY_POLL_SECONDS")


def test_the_app_installs_and_keeps_only_the_shell(world, phones, live_server):
    p = phones()
    page = p.page
    p.sign_in(world.a.resident)
    manifest = page.evaluate("fetch('/easy/manifest.webmanifest').then(r => r.json())")
    assert manifest["start_url"] == "/easy/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    page.wait_for_function(
        "() => navigator.serviceWorker.controller !== null || "
        "navigator.serviceWorker.ready.then(() => true)"
    )
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    cached = page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const r of await cache.keys()) urls.push(new URL(r.url).pathname);
        }
        return urls;
    }""")
    assert "/easy/static/easy.css" in cached and "/easy/offline" in cached
    assert not [u for u in cached if u.startswith("/api/") or u in ("/easy/", "/easy/cases")]
    # Offline, a page shows the kind offline page instead of an error.
    p.context.set_offline(True)
    page.goto("/easy/cases", wait_until="commit")
    expect(page.locator("h1")).to_have_text("现在没有网络")
    p.context.set_offline(False)


def test_an_announcements_recording_comes_compressed_to_a_phone(world, phones):
    a = scene.announce(world, "停电通知", "周日上午停电。")
    a.speech_url = "/api/v1/voice/speech/" + "ab" * 16
    db.session.commit()
    p = phones()
    page = p.page
    asked = []

    def answer(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="audio/ogg", body=b"")

    page.route("**/api/v1/voice/speech/**", answer)
    p.sign_in(world.a.resident)
    page.goto("/easy/announcements")
    page.get_by_role("button", name="朗读这一条").click()
    page.wait_for_function("() => window.__spoken.length > 0")
    # Chromium plays Ogg/Opus: the phone asks for it, not the 1.8 MB WAV.
    assert asked and all(u.endswith("/speech/" + "ab" * 16 + "?format=ogg") for u in asked), asked


def test_read_aloud_uses_server_speech_and_falls_back_to_the_browser(world, phones, app):
    if not any(r.rule == "/api/v1/voice/speech" for r in app.url_map.iter_rules()):
        pytest.skip("the voice API offers no speech endpoint in this build")
    scene.announce(world, "停气通知", "周三停气。")
    p = phones()
    page = p.page
    p.sign_in(world.a.resident)
    page.goto("/easy/announcements")
    button = page.get_by_role("button", name="朗读这一条")
    with page.expect_response(re.compile(r"/api/v1/voice/speech\?")) as answer:
        button.click()
    assert answer.value.status in (200, 206)  # media elements ask for byte ranges
    assert answer.value.headers["content-type"].startswith("audio/")
    page.wait_for_function("() => window.__played.length === 1", timeout=20000)  # played to the end
    expect(button).to_have_attribute("aria-pressed", "false")
    assert [s["via"] for s in p.spoken()] == ["server"]
    assert "停气通知" in p.spoken()[0]["text"]

    # The speech service fails: the browser's own voice reads instead, nothing is lost.
    page.route("**/api/v1/voice/speech?*", lambda route: route.fulfill(status=503, body="{}"))
    button.click()
    page.wait_for_function("() => window.__spoken.some(s => s.via === 'browser')")
    assert "周三停气" in [s for s in p.spoken() if s["via"] == "browser"][0]["text"]
