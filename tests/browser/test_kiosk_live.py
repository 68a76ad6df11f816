"""The lobby screen in real Chromium against a real server: live updates, urgent banner,
restart and offline behaviour, pairing, reading aloud."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import expect


def _title(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def _open(page, server, token: str, query: str = ""):
    page.goto(f"{server.url}/kiosk?token={token}{query}")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    return page


def _rail(page, title: str):
    return page.locator("#rail li", has_text=title)


def test_posted_announcement_appears_live_and_withdrawal_removes_it(page, server, staff):
    _device, token = staff.new_screen("测试屏-实时")
    _open(page, server, token)
    # The token left the address bar and is kept by the page.
    assert "token" not in page.url
    assert page.evaluate("localStorage.getItem('linli.kiosk.token')") == f'"{token}"'
    expect(page.locator("html[data-stream='1']")).to_have_count(1)

    title = _title("停水通知")
    item = staff.post(title=title)
    committed = time.monotonic()  # the API answers after the commit: the change is out
    expect(_rail(page, title)).to_be_visible(timeout=5000)
    assert time.monotonic() - committed < 2.0

    staff.withdraw(item["id"])
    committed = time.monotonic()
    expect(_rail(page, title)).to_have_count(0, timeout=5000)
    assert time.monotonic() - committed < 2.0


def test_edits_reach_the_screen_without_restarting_the_rotation(page, server, staff):
    _device, token = staff.new_screen("测试屏-修改")
    first = staff.post(title=_title("社区通知"))
    _open(page, server, token)
    page.locator("#pause-btn").click()
    expect(page.locator("html[data-paused='1']")).to_have_count(1)
    current = page.locator("html").get_attribute("data-current")
    new_title = _title("新公告")
    staff.post(title=new_title)
    expect(_rail(page, new_title)).to_be_visible(timeout=5000)
    edited = _title("改过的标题")
    staff.call("PATCH", f"/announcements/{first['id']}", json={"title": edited})
    expect(_rail(page, edited)).to_be_visible(timeout=5000)
    # The slide on screen and the pause stay as they were.
    assert page.locator("html").get_attribute("data-current") == current
    expect(page.locator("html[data-paused='1']")).to_have_count(1)


def test_a_tab_shows_its_item_at_once_and_labels_stay_readable(page, server, staff):
    _device, token = staff.new_screen("测试屏-标签")
    posted = [
        staff.post(title=_title(f"第{n}条很长的社区公告标题用来测试标签宽度")) for n in range(1, 7)
    ]
    try:
        _open(page, server, token)
        tabs = page.locator("#rail .rail-tab")
        expect(tabs.filter(has_text=posted[-1]["title"])).to_have_count(1, timeout=5000)
        assert tabs.count() >= 6
        for box in tabs.evaluate_all("ts => ts.map(t => t.getBoundingClientRect().toJSON())"):
            # 30 px text at 1080p: at least six characters wide, and a 60 px touch target.
            assert box["width"] >= 180 and box["height"] >= 60, box
        target = posted[2]
        tab = tabs.filter(has_text=target["title"])
        tab.scroll_into_view_if_needed()
        tab.click()
        expect(page.locator("#slide-title")).to_have_text(target["title"])
        expect(page.locator(f"html[data-current='{target['id']}']")).to_have_count(1)
        expect(page.locator("html[data-paused='1']")).to_have_count(1)
        expect(tab).to_have_attribute("aria-current", "true")
    finally:
        for item in posted:
            staff.withdraw(item["id"])


def test_urgent_interrupts_pins_the_banner_and_reads_aloud_once(page, server, staff):
    _device, token = staff.new_screen("测试屏-紧急")
    _open(page, server, token)
    title = _title("燃气泄漏紧急通知")
    item = staff.post(
        title=title, priority="urgent", category="safety", body="请立即关闭燃气阀门并开窗通风。"
    )
    banner = page.locator("#urgent-banner")
    expect(banner).to_be_visible(timeout=5000)
    expect(page.locator("#urgent-title")).to_contain_text(title)
    # It interrupts the rotation: on screen now, marked as urgent.
    expect(page.locator("#slide-title")).to_have_text(title)
    expect(page.locator("#slide.is-urgent")).to_have_count(1)
    # Heard once per revision (an edit is read again): the screen keeps "id:revision".
    page.wait_for_function(
        "key => (JSON.parse(localStorage.getItem('linli.kiosk.announced')) || []).includes(key)",
        arg=f"{item['id']}:{item['revision']}",
    )
    # It leaves the banner when withdrawn (the demo's own urgent item stays pinned).
    staff.withdraw(item["id"])
    expect(page.locator("#urgent-title")).not_to_contain_text(title, timeout=5000)
    expect(page.locator("#slide-title")).not_to_have_text(title)


def test_server_restart_shows_offline_then_catches_up(page, server, staff):
    _device, token = staff.new_screen("测试屏-重启")
    _open(page, server, token)
    server.stop()
    status = page.locator("#conn-status")
    expect(status).to_contain_text("离线", timeout=15000)
    expect(status).to_contain_text("更新于")
    server.start()
    title = _title("恢复后的公告")
    staff.post(title=title)
    # Reconnects with backoff and fetches what it missed.
    expect(_rail(page, title)).to_be_visible(timeout=40000)
    expect(page.locator("html[data-online='1']")).to_have_count(1, timeout=10000)
    expect(status).to_have_text("")


def test_reload_with_the_server_down_still_shows_the_last_content(page, server, staff):
    _device, token = staff.new_screen("测试屏-离线")
    title = _title("离线也能看")
    staff.post(title=title)
    _open(page, server, token)
    expect(_rail(page, title)).to_be_visible()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    page.wait_for_function(
        "async () => { const c = await caches.keys();"
        " return c.some(k => k.startsWith('linli-kiosk-shell-')); }"
    )
    server.stop()
    page.reload()
    expect(page.locator("html[data-restored='1']")).to_have_count(1)
    expect(_rail(page, title)).to_be_visible()
    expect(page.locator("#slide-title")).not_to_be_empty()
    expect(page.locator("#conn-status")).to_contain_text("离线", timeout=15000)
    # The shared chime (app static, not the screen's own folder) came from the worker's cache.
    assert page.evaluate("typeof window.LinliChime.play") == "function"
    # So did the voice button's script (app static too): the widget is built offline.
    assert page.evaluate("typeof window.LinliVoice") == "object"


def test_a_screen_pairs_itself_with_a_code(page, server, staff):
    page.goto(f"{server.url}/kiosk")
    code_el = page.locator("#pair-code")
    expect(code_el).to_have_text(__import__("re").compile(r"^\d{3} \d{3}$"))
    code = page.locator("html").get_attribute("data-pair-code")
    device = staff.call(
        "POST", f"/communities/{staff.community['id']}/devices", 201, json={"name": "自助配对屏"}
    )
    staff.call("POST", f"/devices/{device['id']}/pairing", json={"code": code})
    expect(page.locator("#pairing")).to_be_hidden(timeout=10000)
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    assert page.evaluate("localStorage.getItem('linli.kiosk.token')")
    # Revoking the screen sends it back to the pairing page.
    staff.call("DELETE", f"/devices/{device['id']}")
    expect(page.locator("#pairing")).to_be_visible(timeout=10000)


def test_read_aloud_plays_server_speech_with_a_visible_stop(page, server, staff, live):
    title = _title("语音公告")
    item = staff.post(title=title, draft=True)
    _attach_speech(live, item["id"], _speech_file(live, seconds=4))
    _device, token = staff.new_screen("测试屏-朗读")
    _open(page, server, token)
    staff.call("POST", f"/announcements/{item['id']}/publish")
    expect(_rail(page, title)).to_be_visible(timeout=5000)
    page.locator("#pause-btn").click()
    page.evaluate("id => LinliKiosk.speak(LinliKiosk.items().find(i => i.id === id))", item["id"])
    page.locator("#stop-btn").click()
    expect(page.locator("#speaking-bar")).to_be_hidden()
    # Now the real button: 听公告 reads the item on screen.
    expect(page.locator("#slide-title")).to_have_text(title)
    page.get_by_role("button", name="听公告").click()
    bar = page.locator("#speaking-bar")
    expect(bar).to_be_visible()
    # Server speech, not the browser's synthesizer: the file attached above, or the server's own
    # rendering of the text, which the voice engine attaches in its place when it gets to it
    # (later on a busy machine, so the test takes either).
    page.wait_for_function(
        "() => { const a = document.getElementById('speech-audio');"
        " return !a.paused && a.currentTime > 0 && a.currentSrc !== '' &&"
        " /^\\/api\\/v1\\/voice\\/speech\\//"
        ".test(new URL(a.currentSrc).pathname); }"
    )
    expect(page.locator("#slide-body p.reading")).to_have_count(1, timeout=5000)
    page.get_by_role("button", name="停止朗读").click()
    expect(bar).to_be_hidden()
    assert page.evaluate("document.getElementById('speech-audio').paused")
    expect(page.locator("#slide-body p.reading")).to_have_count(0)


def _speech_file(live, seconds: int = 6) -> str:
    """A server speech of `seconds` of quiet tone, left in the app's speech cache as the voice
    engine leaves a rendering; its URL (/api/v1/voice/speech/<id>)."""
    import os
    import subprocess
    import sys
    import urllib.request

    script = (
        "import wave\nfrom app import create_app\nfrom app.assistant import runtime\n"
        "app = create_app()\nwith app.app_context():\n"
        "    rt, rate = runtime.runtime(), runtime.ANNOUNCEMENT_RATE\n"
        "    tone = rt.pack(None).tts_voice\n"
        f"    text = 'tone {uuid.uuid4().hex}'\n"
        "    url = rt.speech_url(text, tone, rate)\n"
        "    path = rt.tts.path_for(rt.tts.key(text, tone, rate, 'wav'), 'wav')\n"
        "    path.parent.mkdir(parents=True, exist_ok=True)\n"
        "    with wave.open(str(path), 'wb') as w:\n"
        "        w.setnchannels(1)\n        w.setsampwidth(2)\n        w.setframerate(22050)\n"
        f"        w.writeframes(b'\\x00\\x10' * 22050 * {seconds})\n"
        "    print(url)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **live.env},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    url = done.stdout.strip().splitlines()[-1]
    with urllib.request.urlopen(live.url + url + "?format=wav", timeout=10) as served:
        assert served.headers["Content-Type"] == "audio/wav"
        assert int(served.headers["Content-Length"]) > 22050 * 2 * seconds
    return url


def test_urgent_speech_plays_on_arrival_except_in_quiet_hours(browser, server, staff, live):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    quiet = {
        "quiet_start": (local - timedelta(hours=1)).strftime("%H:%M"),
        "quiet_end": (local + timedelta(hours=1)).strftime("%H:%M"),
    }
    pages = {}
    for kind in ("normal", "quiet"):
        device, token = staff.new_screen(f"测试屏-{kind}")
        if kind == "quiet":
            staff.call("PATCH", f"/devices/{device['id']}", json=quiet)
        ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
        ctx.set_default_timeout(30_000)
        pages[kind] = _open(ctx.new_page(), server, token)
    try:
        title = _title("停电紧急通知")
        item = staff.post(title=title, priority="urgent", draft=True)
        _attach_speech(live, item["id"], _speech_file(live))
        staff.call("POST", f"/announcements/{item['id']}/publish")
        for page in pages.values():
            expect(page.locator("#urgent-title")).to_contain_text(title)
        # Read aloud by itself on arrival, with the stop button showing …
        loud = pages["normal"]
        expect(loud.locator(f"html[data-speaking='{item['id']}']")).to_have_count(1)
        expect(loud.locator("#speaking-bar")).to_be_visible()
        loud.wait_for_function("() => !document.getElementById('speech-audio').paused")
        loud.locator("#stop-btn").click()
        expect(loud.locator("#speaking-bar")).to_be_hidden()
        # … but silent on the screen in its quiet hours (shown, not spoken).
        silent = pages["quiet"]
        expect(silent.locator("#slide-title")).to_have_text(title)
        assert silent.locator("html").get_attribute("data-speaking") in (None, "")
        assert silent.evaluate("document.getElementById('speech-audio').paused")
        expect(silent.locator("#speaking-bar")).to_be_hidden()
        # Once only: a reload does not read it again.
        loud.reload()
        expect(loud.locator("#urgent-title")).to_contain_text(title)
        assert loud.locator("html").get_attribute("data-speaking") in (None, "")
    finally:
        for page in pages.values():
            page.context.close()


def _attach_speech(live, announcement_id: int, url: str) -> None:
    """The voice engine's hook, run from another process (this one) against the same database."""
    import os
    import subprocess
    import sys

    script = (
        "from app import create_app\nfrom app.extensions import db\n"
        "from app.notices import announcements\napp = create_app()\n"
        "with app.app_context():\n"
        f"    assert announcements.set_speech_url({announcement_id}, {url!r}, revision=1)\n"
        "    db.session.commit()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **live.env},
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_buttons_and_the_inactivity_warning(page, server, staff):
    _device, token = staff.new_screen("测试屏-按钮")
    _open(page, server, token, "&idle_after=2")
    # 我要反映 opens its panel (report.js: 语音留言, also without a speech model).
    page.get_by_role("button", name="我要反映").click()
    panel = page.locator("#report")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-step", "category")
    # Left alone, the screen warns (with at least 20 s to spare) before going back to the start.
    warning = page.locator("#idle-warning")
    expect(warning).to_be_visible(timeout=8000)
    seconds = int("".join(ch for ch in page.locator("#idle-text").inner_text() if ch.isdigit()))
    assert seconds >= 20
    page.get_by_role("button", name="继续使用").click()
    expect(warning).to_be_hidden()
    expect(panel).to_be_visible()
    page.get_by_role("button", name="取消").click()
    expect(panel).to_be_hidden()


def test_the_access_log_never_holds_the_token(page, server, staff, live):
    _device, token = staff.new_screen("测试屏-日志")
    _open(page, server, token)
    deadline = time.monotonic() + 10  # gunicorn writes the line after the response
    while "/kiosk?token=" not in live.access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = live.access_log.read_text()
    assert "/kiosk?token=[redacted]" in log
    assert token not in log
