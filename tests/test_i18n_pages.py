"""English complete: every page, rendered in English over data that is all English, shows no
Chinese, so any Chinese on an English page came from the code or a template.

The data is the demo data (`flask seed-demo`: cases with timelines, announcements with history,
screens, keys, family links), with every stored text that holds Chinese replaced by ASCII. The
one exception is the built-in categories' seeded wording, which the code wrote: it is shown in
the reader's language while nobody has changed it.

The pages are every GET route of the staff console, easy mode, the lobby screen and the voice
demo, found in the URL map (so a new page is covered without listing it), for each role, plus
error pages and forms sent with bad input (the services' messages).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import url_for
from flask_babel import force_locale
from sqlalchemy import JSON, String, Text, select, update

from app.affairs import categories
from app.extensions import db
from app.infra import audit
from app.models import Device, Person, ProxyLink
from app.models.announcement import Announcement
from app.models.case import Case, CaseAttachment, CaseCategory
from app.models.open311 import Open311Key
from app.notices import announcements
from app.people.actors import Actor
from tests.pages import csrf_token, staff_login

# CJK ideographs, CJK punctuation and full-width forms (a "，" is as Chinese as a "的").
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
# Intentionally bilingual: the language switch (a link or, in easy mode's settings, a button)
# names Chinese in Chinese, marked lang="zh-CN".
SWITCH = re.compile(r'lang="zh-CN"[^>]*>(?:\s|<[^>]*>)*中文')
DEMO_PASSWORD = "linli-demo-2026"
DEMO_PIN = "135790"
STAFF = ("heping_staff", "heping_grid1", "xiyanghong", "xingfu_official", "admin")
RESIDENTS = ("13900000001", "13900000002", "13911110000")  # elder, neighbour, family proxy
PREFIXES = ("/staff", "/easy", "/kiosk", "/voice")
# Not pages: files, the lobby screen's live stream, health probes.
SKIP_ENDPOINTS = {"static", "kiosk.static", "easy.asset", "kiosk.stream"}


def chinese_in(text: str) -> set[str]:
    """The Chinese runs in a page, less the language switch."""
    return set(CJK.findall(SWITCH.sub("", text)))


def _builtin_texts() -> dict[str, dict]:
    return {
        spec["code"]: {
            "name": spec["name"],
            "description": spec["description"],
            "notice": spec["notice"],
            "attributes": categories._check_attributes(spec["attributes"]),
        }
        for spec in categories.DEFAULTS
    }


def _ascii(value, label: str, counter: list[int]):
    """`value` with every string that holds Chinese replaced by a short ASCII one."""
    if isinstance(value, str):
        if CJK.search(value):
            counter[0] += 1
            return f"{label[:6]}-{counter[0]}"
        return value
    if isinstance(value, list):
        return [_ascii(v, label, counter) for v in value]
    if isinstance(value, dict):
        return {k: _ascii(v, label, counter) for k, v in value.items()}
    return value


def english_data() -> None:
    """Replace the Chinese in every stored text (built-in category wording excepted) and make
    everyone's chosen language English."""
    builtin = _builtin_texts()
    counter = [0]
    session = db.session
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        for row in session.execute(select(*keys, *columns)).mappings().all():
            changes = {}
            for column in columns:
                value = row[column.name]
                if table.name == CaseCategory.__tablename__ and column.name in builtin.get(
                    row.get("code"), {}
                ):
                    if value == builtin[row["code"]][column.name]:
                        continue  # the code's own seeded wording: translated when shown
                new = _ascii(value, column.name, counter)
                if new != value:
                    changes[column.name] = new
            if changes:
                where = [k == row[k.name] for k in keys]
                session.execute(update(table).where(*where).values(**changes))
    session.execute(update(Person).values(locale="en"))
    session.commit()


def _stored_chinese() -> list:
    builtin = _builtin_texts()
    found = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        for column in columns:
            for row in db.session.execute(select(table)).mappings():
                value = row[column.name]
                text = json.dumps(value, ensure_ascii=False) if value is not None else ""
                if not CJK.search(text):
                    continue
                seeded = builtin.get(row.get("code"), {}) if table.name == "case_category" else {}
                if column.name in seeded and seeded[column.name] == value:
                    continue
                found.append((table.name, column.name, text[:40]))
    return found


@pytest.fixture()
def english(app, runner, client):
    """Demo data made English, and a client that asks for English pages."""
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{") :])
    english_data()
    assert not _stored_chinese()
    client.set_cookie("lang", "en")
    return summary


def _ids() -> dict[str, list[int]]:
    """Real ids to put in URLs, by the name of the URL's argument."""

    def ids(model):
        return list(db.session.scalars(select(model.id).order_by(model.id)))

    links = list(db.session.scalars(select(ProxyLink)))
    return {
        "case_id": ids(Case),
        "announcement_id": ids(Announcement),
        "category_id": ids(CaseCategory),
        "device_id": ids(Device),
        "key_id": ids(Open311Key),
        "attachment_id": ids(CaseAttachment),
        "link_id": [link.id for link in links],
        "resident_id": [link.resident_id for link in links],
    }


def _urls(app) -> list[str]:
    """One URL for each page (GET route) under the page prefixes, with ids from the data."""
    ids = _ids()
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS:
            continue
        if not rule.rule.startswith(PREFIXES) and rule.rule != "/":
            continue
        values = {}
        for arg in rule.arguments:
            # The first id of each kind and the last (another community's, often).
            choices = ids.get(arg) or [1]
            values[arg] = choices
        if not values:
            urls.add(rule.rule)
            continue
        with app.test_request_context():
            for pick in (0, -1):
                args = {k: v[pick] for k, v in values.items()}
                urls.add(url_for(rule.endpoint, **args))
    return sorted(urls)


def _english(url: str) -> str:
    """The lobby screen speaks the community's language unless its address asks for another
    (kiosk/views.py); every other page follows the cookie and the person's own choice."""
    if url.startswith("/kiosk"):
        return url + ("&" if "?" in url else "?") + "lang=en"
    return url


def _read(client, url: str, **kw) -> tuple[int, str]:
    response = client.get(_english(url), follow_redirects=True, buffered=False, **kw)
    try:
        if response.mimetype == "text/event-stream" or not response.mimetype.startswith(
            ("text/", "application/json", "application/manifest", "application/javascript")
        ):
            return response.status_code, ""
        return response.status_code, response.get_data(as_text=True)
    finally:
        response.close()


def _check(found: dict, who: str, url: str, read: tuple[int, str] | str) -> None:
    status, text = read if isinstance(read, tuple) else (200, read)
    if status >= 500:  # an error page has no Chinese either, but hides the page under test
        found[f"{who} {url}"] = [status]
    chinese = chinese_in(text)
    if chinese:
        found[f"{who} {url}"] = sorted(chinese)[:8]


def _staff_sign_in(client, login: str) -> None:
    r = client.post(
        "/staff/login",
        data={"login": login, "password": DEMO_PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert r.status_code == 302, (login, r.status_code)


def _easy_token(client) -> str:
    page = client.get("/easy/settings").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def _easy_sign_in(client, phone: str) -> None:
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/easy/login").get_data(as_text=True)
    ).group(1)
    r = client.post("/easy/login", data={"phone": phone, "pin": DEMO_PIN, "csrf_token": token})
    assert r.status_code == 302, (phone, r.status_code)


def _post(client, url: str, data: dict, token: str) -> tuple[int, str]:
    r = client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)
    return r.status_code, r.get_data(as_text=True)


def test_the_data_of_the_english_pages_test_is_english(english):
    # The premise of the tests below: no Chinese is stored but the code's seeded wording.
    assert not _stored_chinese()
    seeded = db.session.scalars(select(CaseCategory.name)).all()
    assert any(CJK.search(name) for name in seeded)  # the built-in ones stay as seeded


def test_every_page_for_every_role_is_english(app, client, english):
    urls = _urls(app)
    assert any(u.startswith("/staff/cases/") for u in urls) and "/easy/" in urls
    found: dict = {}
    for url in urls:  # anonymous: sign-in pages, redirects to them, public pages
        _check(found, "anonymous", url, _read(client, url))
    for login in STAFF:
        _staff_sign_in(client, login)
        for url in urls:
            if url.startswith(("/staff", "/kiosk/preview")):
                _check(found, login, url, _read(client, url))
        client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    for phone in RESIDENTS:
        _easy_sign_in(client, phone)
        for url in urls:
            if url.startswith("/easy"):
                _check(found, phone, url, _read(client, url))
        client.post("/easy/logout", data={"csrf_token": _easy_token(client)})
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_the_lobby_screen_and_the_voice_demo_are_english(client, english):
    found: dict = {}
    token = english["kiosk_token"]
    screen = {"Authorization": f"Bearer {token}"}
    for url, headers in (
        (f"/kiosk?token={token}", {}),
        ("/kiosk/snapshot", screen),
        ("/kiosk/api/report", screen),
        ("/voice/demo", {}),
    ):
        status, text = _read(client, url, headers=headers)
        assert status == 200, (url, status)
        _check(found, "screen", url, (status, text))
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_error_pages_and_refused_forms_are_english(client, english):
    found: dict = {}
    for url in ("/no-such-page", "/staff/logout", "/easy/cases/2147483647"):
        _check(found, "anonymous", url, _read(client, url))
    bad_csrf = client.post("/staff/login", data={"login": "x", "password": "y"})
    _check(found, "anonymous", "POST /staff/login (no CSRF)", bad_csrf.get_data(as_text=True))
    wrong = client.post(
        "/staff/login",
        data={"login": "heping_staff", "password": "wrong", "csrf_token": csrf_token(client)},
    )
    _check(found, "anonymous", "POST /staff/login (wrong)", wrong.get_data(as_text=True))

    ids = _ids()
    case, category = ids["case_id"][0], ids["category_id"][0]
    _staff_sign_in(client, "heping_staff")
    token = csrf_token(client, "/staff/")
    for url, data in (
        ("/staff/cases/new", {}),
        ("/staff/categories/new", {}),
        ("/staff/announcements/new", {}),
        ("/staff/devices", {}),
        ("/staff/open311-keys", {}),
        (f"/staff/cases/{case}/note", {"text": ""}),
        (f"/staff/cases/{case}/transition", {"to": "nonsense"}),
        (f"/staff/cases/{case}/assign", {}),
        (f"/staff/cases/{case}/merge", {"into": str(case)}),
        (f"/staff/categories/{category}/edit", {"name": ""}),
    ):
        _check(found, "heping_staff", f"POST {url}", _post(client, url, data, token))
    client.post("/staff/logout", data={"csrf_token": token})

    wrong_pin = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/easy/login").get_data(as_text=True)
    ).group(1)
    page = _post(client, "/easy/login", {"phone": RESIDENTS[1], "pin": "000000"}, wrong_pin)
    _check(found, "anonymous", "POST /easy/login (wrong PIN)", page)
    _check(found, "anonymous", "POST /easy/join", _post(client, "/easy/join", {}, wrong_pin))
    _easy_sign_in(client, RESIDENTS[1])
    token = _easy_token(client)
    for url, data in (
        (f"/easy/report/{category}", {}),
        ("/easy/settings", {"text_size": "huge"}),
        ("/easy/family/request", {}),
        (f"/easy/cases/{case}/reopen", {}),
    ):
        _check(found, RESIDENTS[1], f"POST {url}", _post(client, url, data, token))
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_signing_in_is_asked_for_in_chinese_in_the_chinese_console(client, db):
    page = client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    assert "Please log in" not in page
    assert "请先登录后再打开这个页面。" in page


# --- the fixes, one by one, in the Chinese console as well ----------------------------------------
def test_the_built_in_categories_wording_comes_back_as_seeded_in_chinese(app):
    # shown() translates only while the stored text is the seeded Chinese: the catalog must give
    # back exactly that text, or a Chinese page would show the built-ins in other words.
    specs = {spec["code"]: spec for spec in categories.DEFAULTS}
    with app.test_request_context(), force_locale("zh_CN"):
        for code, words in categories.BUILTIN_WORDS.items():
            for field, word in words.items():
                assert str(word) == specs[code][field], (code, field)
    for spec in categories.DEFAULTS:  # every seeded text has its English
        for field in categories.SHOWN_FIELDS:
            if spec[field]:
                assert field in categories.BUILTIN_WORDS[spec["code"]], (spec["code"], field)


def test_built_in_categories_are_translated_and_staff_text_stays_as_typed(client, cats):
    side = cats.a
    repair, safety = (
        db.session.scalar(
            select(CaseCategory).where(
                CaseCategory.community_id == side.community.id, CaseCategory.code == code
            )
        )
        for code in ("repair", "safety")
    )
    safety.name = "楼道安全"  # what staff typed stays as typed, in every language
    db.session.commit()
    staff_login(client, side.staff)
    client.set_cookie("lang", "en")
    listing = client.get(f"/staff/categories?community_id={side.community.id}").get_data(True)
    assert "Repairs (water, electricity, gas)" in listing and "报修" not in listing
    assert "楼道安全" in listing
    form = client.get(f"/staff/categories/{repair.id}/edit").get_data(True)
    assert 'value="Repairs (water, electricity, gas)"' in form
    assert "If you smell gas, leave at once" in form

    # Saving the form as shown keeps the seeded wording (so Chinese pages still show Chinese).
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    data = {
        "csrf_token": fields["csrf_token"],
        "name": "Repairs (water, electricity, gas)",
        "description": str(categories.BUILTIN_WORDS["repair"]["description"]),
        "notice": "Call the caretaker first.",
        "icon": repair.icon,
        "deadline_hours": str(repair.deadline_hours),
        "handler": f"org:{repair.handler_organization_id}"
        if repair.handler_organization_id
        else repair.handler_role,
        "is_public": "y",
        "active": "y",
    }
    assert client.post(f"/staff/categories/{repair.id}/edit", data=data).status_code == 302
    db.session.refresh(repair)
    assert repair.name == "报修（水电燃气）"
    assert repair.description.startswith("公共区域")
    assert repair.notice == "Call the caretaker first."  # typed: stored and shown as typed
    client.set_cookie("lang", "zh_CN")
    listing = client.get(f"/staff/categories?community_id={side.community.id}").get_data(True)
    assert "报修（水电燃气）" in listing


def test_announcement_history_and_channels_are_in_words(client, world):
    item = announcements.create_announcement(
        Actor.for_person(world.a.staff), title="停水通知", body="明天停水。"
    )
    announcements.withdraw_announcement(Actor.for_person(world.a.staff), item.id)
    db.session.commit()
    staff_login(client, world.a.staff)
    page = client.get(f"/staff/announcements/{item.id}").get_data(as_text=True)
    history = page[page.index('id="history-h"') :]
    for word in ("创建", "已发布", "已撤回"):
        assert f"<td>{word}</td>" in history
    for code in ("create", "publish", "withdraw"):
        assert f"<td>{code}</td>" not in history
    assert "社区大屏, 手机应用, 语音热线" in page and "kiosk, app" not in page


def test_the_brand_is_written_once_and_a_screen_has_a_name_not_a_surname(client, world):
    login = client.get("/staff/login").get_data(as_text=True)
    assert '<span class="brand">邻里</span>' in login and "邻里 邻里" not in login
    staff_login(client, world.a.staff)
    page = client.get(f"/staff/devices/{world.a.device.id}/edit").get_data(as_text=True)
    assert '<label for="name">名称</label>' in page and "姓名" not in page


def test_scripts_take_the_words_they_show_from_the_page():
    # Words a script shows come from the page (data- attributes or a JSON block rendered in the
    # page's language), so an English page's script shows no Chinese. Comments aside, Chinese
    # in a script is allowed only where listed here, with the reason.
    root = Path(__file__).resolve().parent.parent
    allowed = {
        # The voice widget's own per-locale dictionary, chosen by the page's lang; and the
        # phrases its screen buttons say to a Chinese dialog (heard by the assistant, not shown).
        "app/static/voice/voice.js": None,
        # Sentence and clause ends where read-aloud text and screen pages may be cut (not shown).
        "app/static/easy/easy.js": {"。！？", "；", "，"},
        "kiosk/static/paging.js": {"。！？", "；", "，", "、：", "」』）", "】》"},
    }
    found = {}
    scripts = [*root.glob("app/static/**/*.js"), *root.glob("kiosk/static/**/*.js")]
    scripts += [*root.glob("app/templates/**/*.js"), *root.glob("kiosk/templates/**/*.js")]
    for path in scripts:
        name = path.relative_to(root).as_posix()
        if "/vendor/" in name or (name in allowed and allowed[name] is None):
            continue
        code = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        code = re.sub(r"(^|\s)//.*$", "", code, flags=re.M)
        chinese = set(CJK.findall(code)) - (allowed.get(name) or set())
        if chinese:
            found[name] = sorted(chinese)
    assert not found, found


def test_the_audit_log_names_actions_and_records_in_words(client, world):
    actor = Actor.for_person(world.a.staff)
    audit.bind_actor(actor)  # as a request does (app.security.current_actor)
    announcements.create_announcement(actor, title="停水通知")
    db.session.commit()
    staff_login(client, world.a.staff)
    page = client.get(f"/staff/audit?community_id={world.a.community.id}").get_data(True)
    assert "<td>新增</td><td>公告 " in page
    assert "<td>create</td>" not in page and "<td>announcement " not in page
