"""Easy-mode pages through the test client: sign-in, who sees what, forms, errors in words."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from app.affairs import categories, intake, workflow
from app.extensions import db
from app.models import Person, ProxyLink
from app.models.announcement import AnnouncementAck
from app.models.case import Case
from app.notices import announcements
from app.people import invitations
from app.people.actors import Actor
from tests.factories import PIN, phone, resident


def _staff(world) -> Actor:
    return Actor.for_person(world.a.staff)


def _categories(world) -> dict:
    made = categories.install_defaults(_staff(world), world.a.community.id)
    db.session.commit()
    return {c.code: c for c in made}


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def _count_cases(person) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(Case).where(Case.reporter_id == person.id)
    )


# --- signing in -----------------------------------------------------------------------------------
def test_pages_ask_to_sign_in_then_come_back(easy, world):
    response = easy.client.get("/easy/cases")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/easy/login?next=/easy/cases")
    response = easy.post("/easy/login?next=/easy/cases", {"phone": world.a.elder.phone, "pin": PIN})
    assert response.headers["Location"] == "/easy/cases"
    assert easy.client.get("/easy/cases").status_code == 200


def test_the_phone_stays_signed_in_until_sign_out(easy, world):
    response = easy.sign_in(world.a.resident)
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    expires = re.search(r"Expires=\w+, \d+ \w+ (\d{4})", remember).group(1)
    assert int(expires) >= 2026  # a year ahead
    assert easy.post("/easy/logout").headers["Location"] == "/easy/login"
    assert easy.client.get("/easy/").status_code == 302


def test_sign_in_mistakes_are_said_in_plain_words_and_counted(easy, world, app):
    page = easy.page("/easy/login")
    assert 'autocomplete="current-password"' in page and 'inputmode="numeric"' in page
    assert "captcha" not in page.lower()
    assert "请居委会帮您重新设置密码" in page and "家人" in page
    wrong = {"phone": world.a.elder.phone, "pin": "999999"}
    response = easy.post("/easy/login", wrong)
    assert response.status_code == 401
    assert "手机号、用户名或密码不对。" in response.get_data(as_text=True)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = easy.post("/easy/login", wrong)
    html = response.get_data(as_text=True)
    assert response.status_code == 423
    assert re.search(r"\d+ ?分钟", html) and "居委会" in html
    right = easy.post("/easy/login", {"phone": world.a.elder.phone, "pin": PIN})
    assert right.status_code == 423  # the lock holds even with the right PIN


def test_next_never_leads_to_another_site(easy, world):
    response = easy.post(
        "/easy/login?next=//evil.example/x", {"phone": world.a.resident.phone, "pin": PIN}
    )
    assert response.headers["Location"] == "/easy/"


def test_join_with_an_invitation(easy, world):
    invitation = invitations.create_invitation(_staff(world), world.a.community.id)
    db.session.commit()
    page = easy.page(f"/easy/join?code={invitation.code}")
    assert f'value="{invitation.code}"' in page
    number = phone()
    form = {
        "code": invitation.code,
        "display_name": "李阿姨",
        "phone": number,
        "pin": "135792",
        "pin_again": "135799",
    }
    response = easy.post("/easy/join", form)
    assert response.status_code == 422 and "两次输入的密码不一样" in response.get_data(as_text=True)
    response = easy.post("/easy/join", {**form, "pin": "111111", "pin_again": "111111"})
    assert "这个密码太容易被猜到" in response.get_data(as_text=True)
    response = easy.post("/easy/join", {**form, "pin_again": "135792"})
    assert response.status_code == 302
    assert "李阿姨" in easy.page("/easy/")
    easy.post("/easy/logout")
    again = easy.post("/easy/join", {**form, "phone": phone(), "pin_again": "135792"})
    assert "这个邀请码不能用了" in again.get_data(as_text=True)  # single use


def test_join_with_a_phone_that_already_has_an_account(easy, world):
    invitation = invitations.create_invitation(_staff(world), world.a.community.id)
    db.session.commit()
    response = easy.post(
        "/easy/join",
        {
            "code": invitation.code,
            "display_name": "重复",
            "phone": world.a.resident.phone,
            "pin": "135792",
            "pin_again": "135792",
        },
    )
    assert response.status_code == 409
    assert "这个手机号已经有账号了" in response.get_data(as_text=True)


# --- home -----------------------------------------------------------------------------------------
def test_home_has_four_big_buttons_votes_are_under_more(easy, world):
    easy.sign_in(world.a.resident)
    page = easy.page("/easy/")
    assert page.count('class="btn big"') == 4
    for words in ("听公告", "我要反映", "我的事项", "联系居委会"):
        assert words in page
    assert "投票" not in page and "议事投票" in easy.page("/easy/more")
    assert "活动" in easy.page("/easy/more")


def test_home_without_a_community_leads_to_family_help(easy, world):
    easy.sign_in(world.a.relative)
    page = easy.page("/easy/")
    assert "还没有加入社区" in page and "/easy/family" in page
    assert "/easy/report" not in page
    assert f"现在为 {world.a.elder.display_name} 代办" in page
    assert easy.client.get("/easy/report").headers["Location"].endswith("/easy/")


# --- notices --------------------------------------------------------------------------------------
def test_notices_for_my_building_urgent_first_and_acknowledged(easy, world):
    community = world.a.community
    other = communities_building(community)
    staff = _staff(world)
    announcements.create_announcement(
        staff, community_id=community.id, title="全社区通知", body="请留意。"
    )
    urgent = announcements.create_announcement(
        staff, community_id=community.id, title="紧急检修", body="请留人。", priority="urgent"
    )
    announcements.create_announcement(
        staff,
        community_id=community.id,
        title="别的楼的通知",
        body="与您无关。",
        building_ids=[other.id],
    )
    db.session.commit()
    easy.sign_in(world.a.elder)
    page = easy.page("/easy/announcements")
    assert "别的楼的通知" not in page
    assert page.index("紧急检修") < page.index("全社区通知")
    assert "我知道了" in page and "有 1 条紧急公告" in easy.page("/easy/")
    response = easy.post(f"/easy/announcements/{urgent.id}/ack", {"next": "/easy/announcements"})
    assert response.headers["Location"] == f"/easy/announcements#a-{urgent.id}"
    assert easy.post(f"/easy/announcements/{urgent.id}/ack").status_code == 302  # again: fine
    db.session.rollback()
    acks = db.session.scalars(select(AnnouncementAck)).all()
    assert [(a.person_id, a.acked_by_id) for a in acks] == [(world.a.elder.id, None)]
    page = easy.page("/easy/announcements")
    assert "我知道了</span>" not in page and "您已告诉我们：知道了。" in page
    assert "紧急公告" not in easy.page("/easy/")


def communities_building(community):
    """A second building in the community (the elder lives in the first)."""
    from app.models import Building

    building = Building(community_id=community.id, name="9号楼")
    db.session.add(building)
    db.session.commit()
    return building


# --- reporting without JavaScript -----------------------------------------------------------------
def test_report_form_key_files_once_and_a_new_form_files_again(easy, world):
    cats = _categories(world)
    easy.sign_in(world.a.elder)
    form_page = easy.page(f"/easy/report/{cats['repair'].id}")
    assert "燃气" in form_page  # the category's notice comes before the form
    key = re.search(r'name="key" value="([^"]+)"', form_page).group(1)
    form = {
        "key": key,
        "description": "楼道灯坏了。",
        "where": "home",
        "photo": (io.BytesIO(_jpeg()), "photo.jpg"),
    }
    first = easy.post(f"/easy/report/{cats['repair'].id}", form, content_type="multipart/form-data")
    assert first.status_code == 302 and first.headers["Location"].endswith("/received")
    form["photo"] = (io.BytesIO(_jpeg()), "photo.jpg")
    again = easy.post(f"/easy/report/{cats['repair'].id}", form, content_type="multipart/form-data")
    assert again.headers["Location"] == first.headers["Location"]
    assert _count_cases(world.a.elder) == 1
    (case,) = db.session.scalars(select(Case)).all()
    assert case.household_id == world.a.elder.household_id and len(case.attachments) == 1
    form.update(key="another-form", photo=(io.BytesIO(b""), ""))
    easy.post(f"/easy/report/{cats['repair'].id}", form, content_type="multipart/form-data")
    assert _count_cases(world.a.elder) == 2


def test_report_mistakes_keep_what_was_typed(easy, world):
    cats = _categories(world)
    easy.sign_in(world.a.elder)
    url = f"/easy/report/{cats['safety'].id}"
    response = easy.post(url, {"key": "k1", "description": "", "where": "home"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "这里不能空着。" in html
    response = easy.post(
        url, {"key": "k2", "description": "通道堵了", "where": "other", "address": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "请说一说问题在哪里。" in html and "通道堵了" in html
    response = easy.post(url, {"key": "k4", "description": "通道堵了"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "请选一下是在哪里。" in html and "通道堵了" in html
    response = easy.post(
        url,
        {
            "key": "k3",
            "description": "通道堵了",
            "where": "home",
            "photo": (io.BytesIO(b"not a picture"), "x.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 415 and "JPEG" in response.get_data(as_text=True)
    assert _count_cases(world.a.elder) == 0


def test_report_in_my_building_names_the_building_not_my_flat(easy, world):
    cats = _categories(world)
    elder = world.a.elder
    easy.sign_in(elder)
    url = f"/easy/report/{cats['repair'].id}"
    form_page = easy.page(url)
    assert "在我住的楼里（楼道、电梯、楼门）" in form_page
    assert not re.search(r'name="where" value="\w+" checked', form_page)  # nothing assumed
    # A personal matter (求助) is about the resident's home: that one is chosen already.
    assert re.search(
        r'name="where" value="home" checked', easy.page(f"/easy/report/{cats['help'].id}")
    )
    response = easy.post(url, {"key": "b1", "description": "楼道灯坏了。", "where": "building"})
    assert response.status_code == 302
    (case,) = db.session.scalars(select(Case)).all()
    assert case.building_id == elder.household.building_id and case.household_id is None


def test_a_photo_can_be_added_later_and_is_only_shown_to_the_reporter(easy, world, client):
    cats = _categories(world)
    case = intake.submit_case(
        Actor.for_person(world.a.elder), category_id=cats["repair"].id, description="水管漏水。"
    )
    db.session.commit()
    easy.sign_in(world.a.elder)
    response = easy.post(
        f"/easy/cases/{case.id}/photo",
        {"photo": (io.BytesIO(_jpeg()), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = easy.page(f"/easy/cases/{case.id}")
    src = re.search(r'src="(/easy/cases/\d+/files/\d+)"', page).group(1)
    with easy.client.get(src) as photo:
        assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    easy.post("/easy/logout")
    easy.sign_in(world.a.resident)  # a neighbour in the same building
    assert easy.client.get(src).status_code == 404
    page = easy.client.get(f"/easy/cases/{case.id}")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "水管漏水" not in html and world.a.elder.display_name not in html
    assert "回到首页" in html


def test_confirm_rate_and_reopen_in_plain_words(easy, world):
    cats = _categories(world)
    elder = Actor.for_person(world.a.elder)
    staff = _staff(world)
    first = intake.submit_case(elder, category_id=cats["repair"].id, description="灯坏了。")
    second = intake.submit_case(elder, category_id=cats["repair"].id, description="门坏了。")
    for case in (first, second):
        workflow.transition(staff, case.id, "accept")
        workflow.assign_case(staff, case.id, person_id=world.a.staff.id)
        workflow.transition(staff, case.id, "resolve", note="修好了。")
    workflow.transition(staff, second.id, "close")
    db.session.commit()
    easy.sign_in(world.a.elder)
    page = easy.page(f"/easy/cases/{first.id}")
    assert "办好了，请您看看" in page and "修好了。" in page
    assert all(w in page for w in ("满意", "一般", "不满意", "没办好，退回重办"))
    bad = easy.post(f"/easy/cases/{first.id}/confirm", {"rating": "great"})
    assert bad.status_code == 422 and "满意、一般或不满意" in bad.get_data(as_text=True)
    easy.post(f"/easy/cases/{first.id}/confirm", {"rating": "okay"})
    page = easy.page(f"/easy/cases/{second.id}")
    assert "/rate" in page and "没办好" not in page  # closed by staff: rate only
    easy.post(f"/easy/cases/{second.id}/rate", {"rating": "unsatisfied"})
    db.session.rollback()
    assert (db.session.get(Case, first.id).status, db.session.get(Case, first.id).rating) == (
        "closed",
        3,
    )
    assert db.session.get(Case, second.id).rating == 1
    again = easy.post(f"/easy/cases/{second.id}/rate", {"rating": "satisfied"})
    assert again.status_code == 409 and "回到首页" not in again.get_data(as_text=True)


def test_home_says_what_waits_for_my_confirmation(easy, world):
    cats = _categories(world)
    elder = Actor.for_person(world.a.elder)
    staff = _staff(world)
    easy.sign_in(world.a.elder)
    assert "等您确认" not in easy.page("/easy/")
    made = [
        intake.submit_case(elder, category_id=cats["repair"].id, description=d)
        for d in ("灯坏了。", "门坏了。")
    ]
    neighbour = intake.submit_case(
        Actor.for_person(world.a.resident), category_id=cats["repair"].id, description="窗坏了。"
    )
    for case in (*made, neighbour):
        workflow.transition(staff, case.id, "accept")
        workflow.assign_case(staff, case.id, person_id=world.a.staff.id)
        workflow.transition(staff, case.id, "resolve", note="修好了。")
    db.session.commit()
    page = easy.page("/easy/")
    assert "有 2 件事等您确认，点这里看。" in page and 'href="/easy/cases"' in page
    easy.post(f"/easy/cases/{made[0].id}/confirm", {"rating": "okay"})
    page = easy.page("/easy/")
    # One left: the banner opens that matter itself; the neighbour's never counts.
    assert "有 1 件事等您确认" in page and f'href="/easy/cases/{made[1].id}"' in page
    easy.post(f"/easy/cases/{made[1].id}/confirm", {"rating": "okay"})
    assert "等您确认" not in easy.page("/easy/")


def test_my_matters_list_only_mine(easy, world):
    cats = _categories(world)
    intake.submit_case(
        Actor.for_person(world.a.elder), category_id=cats["repair"].id, description="我的事。"
    )
    neighbour = intake.submit_case(
        Actor.for_person(world.a.resident), category_id=cats["repair"].id, description="邻居的事。"
    )
    db.session.commit()
    easy.sign_in(world.a.elder)
    page = easy.page("/easy/cases")
    assert "居委会已收到" in page and neighbour.reference not in page


# --- contact, settings ----------------------------------------------------------------------------
def test_numbers_to_call_in_notices_are_tap_to_call(easy, world):
    cats = _categories(world)
    easy.sign_in(world.a.elder)
    page = easy.page(f"/easy/report/{cats['safety'].id}")
    # "请先拨打 119 或 120": both numbers call; nothing else in the text becomes a link.
    assert '<a class="tel" href="tel:119">119</a> 或 <a class="tel" href="tel:120">120</a>' in page
    staff = _staff(world)
    announcements.create_announcement(
        staff,
        community_id=world.a.community.id,
        title="报名",
        body="已有120人报名，周六 8:00 开始。咨询 13812345678 或 021-62345678。",
    )
    cats["repair"].notice = "<b>急修请拨打 110</b>"
    db.session.commit()
    page = easy.page("/easy/announcements")
    assert 'href="tel:13812345678"' in page and 'href="tel:02162345678"' in page
    assert "已有120人报名，周六 8:00 开始。" in page and 'tel:120"' not in page
    # The text around the link stays escaped.
    assert '&lt;b&gt;急修请拨打 <a class="tel" href="tel:110">110</a>&lt;/b&gt;' in easy.page(
        f"/easy/report/{cats['repair'].id}"
    )


def test_contact_page_has_tap_to_call(easy, world):
    easy.sign_in(world.a.resident)
    page = easy.page("/easy/contact")
    assert 'href="tel:01012345678"' in page and "8:30-17:30" in page and "测试路1号" in page


def test_settings_are_saved_on_the_person(easy, world):
    easy.sign_in(world.a.resident)
    response = easy.post("/easy/settings", {"text_size": "xlarge"})
    assert "easy_size=xlarge" in " ".join(response.headers.getlist("Set-Cookie"))
    easy.post("/easy/settings", {"speech_rate": "fast"})
    easy.post("/easy/settings", {"locale": "en"})
    db.session.rollback()
    person = db.session.get(Person, world.a.resident.id)
    assert (person.text_size, person.speech_rate, person.locale) == ("xlarge", "fast", "en")
    page = easy.page("/easy/settings")
    assert 'class="size-xlarge"' in page and 'data-speech-rate="fast"' in page
    assert 'lang="en"' in page and "Text size" in page
    bad = easy.post("/easy/settings", {"text_size": "huge"})
    assert bad.status_code == 422


def test_english_pages_are_complete(easy, world):
    someone = resident(world.a.community, name="Ann")
    db.session.commit()
    easy.client.set_cookie("lang", "en")
    pages = [
        easy.page("/easy/login"),
        easy.page("/easy/join"),
        easy.page("/easy/offline"),
        easy.page("/easy/nowhere", status=404),
    ]
    easy.sign_in(someone)
    pages += [
        easy.page(p)
        for p in (
            "/easy/",
            "/easy/more",
            "/easy/settings",
            "/easy/family",
            "/easy/cases",
            "/easy/announcements",
            "/easy/report",
        )
    ]
    for html in pages:
        leftover = set(re.findall(r"[\u4e00-\u9fff]+", html)) - {"中文"}
        assert not leftover, leftover


# --- family proxy ---------------------------------------------------------------------------------
def test_family_request_confirm_act_and_stop(easy, world, client):
    son = Person(display_name="王小明", phone=phone(), pin_hash=world.a.elder.pin_hash)
    db.session.add(son)
    db.session.commit()
    easy.sign_in(son)
    easy.post("/easy/family/request", {"phone": world.a.elder.phone, "relation": "儿子"})
    page = easy.page("/easy/family")
    assert "等待对方同意" in page and world.a.elder.display_name not in page
    twice = easy.post("/easy/family/request", {"phone": world.a.elder.phone})
    assert twice.status_code == 409 and "您已经申请过了" in twice.get_data(as_text=True)
    forbidden = easy.post("/easy/family/act", {"resident_id": str(world.a.elder.id)})
    assert forbidden.status_code == 403
    easy.post("/easy/logout")

    easy.sign_in(world.a.elder)
    assert "有家人想帮您办事" in easy.page("/easy/")
    link_id = re.search(r"/easy/family/(\d+)/confirm", easy.page("/easy/family")).group(1)
    easy.post(f"/easy/family/{link_id}/confirm")
    easy.post("/easy/logout")

    easy.sign_in(son)
    easy.post("/easy/family/act", {"resident_id": str(world.a.elder.id)})
    home = easy.page("/easy/")
    assert f"正在为 {world.a.elder.display_name} 代办" in home
    assert f'data-act-for="{world.a.elder.id}"' in home
    assert home.count('class="btn big"') == 4
    easy.post("/easy/family/stop")
    assert "正在为" not in easy.page("/easy/")
    # The relation is the son's to her: he reads her name with "you are their son".
    elder_name = world.a.elder.display_name
    page = easy.page("/easy/family")
    assert f"{elder_name}（您是对方的儿子）" in page and f"{elder_name} (儿子)" not in page


def test_ending_a_family_link_asks_once_more(easy, world):
    son = Person(display_name="王小明", phone=phone(), pin_hash=world.a.elder.pin_hash)
    db.session.add(son)
    db.session.commit()
    easy.sign_in(son)
    easy.post("/easy/family/request", {"phone": world.a.elder.phone, "relation": "儿子"})
    easy.post("/easy/logout")
    easy.sign_in(world.a.elder)
    link_id = re.search(r"/easy/family/(\d+)/confirm", easy.page("/easy/family")).group(1)
    easy.post(f"/easy/family/{link_id}/confirm")
    page = easy.page("/easy/family")
    assert "王小明（您的儿子）" in page
    # 解除绑定 is a link to a question, not a one-tap ending.
    assert f'href="/easy/family/{link_id}/end"' in page
    assert f'action="/easy/family/{link_id}/end"' not in page
    check = easy.page(f"/easy/family/{link_id}/end")
    assert "要解除和王小明的家人绑定吗？" in check and "确定解除" in check and "不解除" in check
    assert "解除以后，王小明就不能在邻里上替您办事了。" in check
    db.session.rollback()
    assert db.session.get(ProxyLink, int(link_id)).status == "confirmed"  # asking ended nothing
    easy.post(f"/easy/family/{link_id}/end")
    db.session.rollback()
    assert db.session.get(ProxyLink, int(link_id)).status == "revoked"
    # Another person's link, or one that has ended: nothing to ask about.
    assert easy.client.get(f"/easy/family/{link_id}/end").status_code == 404


def test_a_family_request_never_tells_who_has_the_number_or_where(easy, world):
    son = Person(display_name="李小军", phone=phone(), pin_hash=world.a.elder.pin_hash)
    db.session.add(son)
    db.session.commit()
    easy.sign_in(son)
    # A resident of another community (B), and a number nobody uses: the same answer.
    numbers = (world.b.elder.phone, phone())
    answers = [
        easy.post("/easy/family/request", {"phone": number, "relation": "儿子"})
        for number in numbers
    ]
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    page = easy.page("/easy/family")
    assert world.b.elder.display_name not in page
    waiting = page.split('id="wait-h"')[1].split("</section>")[0]
    assert waiting.count('class="person"') == 2 and "****" in waiting
    again = [easy.post("/easy/family/request", {"phone": number}) for number in numbers]
    assert [a.status_code for a in again] == [409, 409]
    easy.post("/easy/logout")
    # Once the elder agrees, the son sees whom he helps.
    easy.sign_in(world.b.elder)
    link_id = re.search(r"/easy/family/(\d+)/confirm", easy.page("/easy/family")).group(1)
    easy.post(f"/easy/family/{link_id}/confirm")
    easy.post("/easy/logout")
    easy.sign_in(son)
    assert world.b.elder.display_name in easy.page("/easy/family")


def test_a_revoked_link_ends_acting_on_the_next_page(easy, world):
    easy.sign_in(world.a.relative)
    easy.post("/easy/family/act", {"resident_id": str(world.a.elder.id)})
    assert "正在为" in easy.page("/easy/")
    link = world.a.relative  # the world's relative has one confirmed link to the elder
    from app.models import ProxyLink

    row = db.session.scalar(select(ProxyLink).where(ProxyLink.proxy_id == link.id))
    row.status = "revoked"
    db.session.commit()
    page = easy.page("/easy/")
    assert "正在为" not in page and "家人代办已经结束" in page


def test_a_linked_relative_resets_the_elders_pin(easy, world):
    from app.people import auth

    easy.sign_in(world.a.resident)  # not linked to the elder
    assert easy.client.get(f"/easy/family/{world.a.elder.id}/pin").status_code == 403
    easy.post("/easy/logout")
    easy.sign_in(world.a.relative)
    mismatch = easy.post(
        f"/easy/family/{world.a.elder.id}/pin", {"pin": "864200", "pin_again": "864201"}
    )
    assert mismatch.status_code == 422
    done = easy.post(
        f"/easy/family/{world.a.elder.id}/pin", {"pin": "864200", "pin_again": "864200"}
    )
    assert done.status_code == 302
    db.session.rollback()
    assert auth.authenticate(world.a.elder.phone, pin="864200").id == world.a.elder.id


def test_proxy_reports_are_recorded_as_done_for_the_resident(easy, world):
    cats = _categories(world)
    easy.sign_in(world.a.relative)
    easy.post("/easy/family/act", {"resident_id": str(world.a.elder.id)})
    easy.post(
        f"/easy/report/{cats['help'].id}",
        {"key": "p1", "description": "陪同就医。", "where": "home"},
    )
    db.session.rollback()
    (case,) = db.session.scalars(select(Case)).all()
    assert (case.reporter_id, case.proxy_id, case.channel) == (
        world.a.elder.id,
        world.a.relative.id,
        "proxy",
    )
    assert "陪同就医" in easy.page(f"/easy/cases/{case.id}")


# --- voice hooks, PWA, transport ------------------------------------------------------------------
def test_voice_buttons_follow_the_voice_api(easy, world, app):
    from flask import Flask

    from app.web import easy as easy_web

    bare = Flask("bare")
    with bare.test_request_context():
        assert easy_web.voice_hooks() == {"tts_url": None, "asr_url": None, "status_url": None}
    with_voice = Flask("voice")
    with_voice.add_url_rule("/api/v1/voice/transcriptions", "t", lambda: "", methods=["POST"])
    with_voice.add_url_rule("/api/v1/voice/speech", "s", lambda: "")
    with with_voice.test_request_context():
        assert easy_web.voice_hooks() == {
            "tts_url": "/api/v1/voice/speech",
            "asr_url": "/api/v1/voice/transcriptions",
            "status_url": None,
        }
    cats = _categories(world)
    has_voice = any(r.rule.startswith("/api/v1/voice/transcri") for r in app.url_map.iter_rules())
    anonymous = easy.page("/easy/join")
    assert "data-voice-for" not in anonymous and "data-tts-url" not in anonymous
    easy.sign_in(world.a.elder)
    page = easy.page(f"/easy/report/{cats['repair'].id}")
    assert ('data-voice-for="description"' in page) == has_voice
    assert page.count("data-speak=") >= 1 and "朗读" in page


def test_manifest_service_worker_and_offline_page(easy):
    manifest = easy.client.get("/easy/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json()
    assert body["start_url"] == "/easy/" and body["scope"] == "/easy/"
    sw = easy.client.get("/easy/sw.js")
    text = sw.get_data(as_text=True)
    assert sw.mimetype == "text/javascript" and sw.headers["Cache-Control"] == "no-cache"
    assert "/easy/static/easy.css?v=" in text and "/easy/offline" in text
    shell = re.search(r"var SHELL = (\[.*?\]);", text).group(1)
    assert "/api/" not in shell and "/easy/cases" not in shell
    assert easy.client.get("/easy/offline").status_code == 200


def test_text_is_compressed_and_assets_are_cached_for_good(easy):
    page = easy.client.get("/easy/login", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert page.headers["Cache-Control"] == "private, no-cache"
    html = easy.page("/easy/login")
    css = re.search(r'href="(/easy/static/easy.css\?v=\w+)"', html).group(1)
    asset = easy.client.get(css, headers={"Accept-Encoding": "gzip"})
    assert asset.headers["Content-Encoding"] == "gzip"
    assert "immutable" in asset.headers["Cache-Control"]
    assert "max-age=31536000" in asset.headers["Cache-Control"]
    import gzip

    assert b"font-size:30px" in gzip.decompress(asset.data)


def test_errors_say_what_to_do_next(easy, world):
    easy.sign_in(world.a.resident)
    missing = easy.client.get("/easy/cases/999999")
    html = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "回到首页" in html and 'href="/easy/"' in html
    expired = easy.client.post("/easy/settings", data={"text_size": "large"})  # no CSRF token
    assert expired.status_code == 400 and "请返回" in expired.get_data(as_text=True)
