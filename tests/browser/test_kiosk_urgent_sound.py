"""Urgent announcements read aloud on arrival, in real Chromium against gunicorn: a chime (Web
Audio), then the server's speech, without a tap; once only; not for normal items, not in quiet
hours, not over a resident using the screen. With the browser's default autoplay policy (sound
held back until a touch) the screen shows 点一下开启声音 once, says "blocked" in its heartbeat,
and plays after the tap.

What the page does with sound is observed from inside it (an init script wraps
OscillatorNode.start and HTMLMediaElement.play), what it reports from the staff API."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PageProblems
from tests.browser.test_accessibility import _violations
from tests.browser.test_kiosk_live import _attach_speech, _open, _speech_file, _title

_HOOK = """
window.__sound = {chimes: [], plays: []};
(function () {
  var start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function () {
    window.__sound.chimes.push({t: performance.now(), state: this.context.state,
                                hz: this.frequency.value});
    return start.apply(this, arguments);
  };
  var play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    var rec = {t: performance.now(), src: this.currentSrc || this.src, ok: null};
    window.__sound.plays.push(rec);
    var p = play.apply(this, arguments);
    if (p && p.then) p.then(function () { rec.ok = true; }, function (e) { rec.ok = e.name; });
    return p;
  };
})();
"""
SPEECH = re.compile(r"/api/v1/voice/speech/")
PLAYING = (
    "() => { const a = document.getElementById('speech-audio');"
    " return !a.paused && a.currentTime > 0; }"
)


class Watched:
    """A kiosk page in its own 1080p profile, with the sound hook, console errors and failed
    requests recorded."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        self.context.set_default_timeout(30_000)
        self.context.add_init_script(_HOOK)
        self.page = self.context.new_page()
        self.problems = PageProblems(self.page)

    def sound(self) -> dict:
        return self.page.evaluate("window.__sound")

    def clean(self) -> None:
        self.problems.clean()

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def watched(browser):
    """Pages in Chromium started as a lobby screen is: sound allowed without a touch."""
    made: list[Watched] = []

    def new() -> Watched:
        made.append(Watched(browser))
        return made[-1]

    yield new
    for w in made:
        w.close()


@pytest.fixture(scope="module")
def held_back_browser(playwright_driver):
    """Chromium with its default autoplay policy: no sound before someone touches the page."""
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--autoplay-policy")]
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield b
    b.close()


def _sound_reported(staff, device_id: int) -> str:
    rows = staff.call("GET", f"/communities/{staff.community['id']}/devices/status")
    return next(r for r in rows if r["device"]["id"] == device_id)["sound"]


def _wait_reported(staff, device_id: int, value: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (seen := _sound_reported(staff, device_id)) != value:
        assert time.monotonic() < deadline, f"the screen reports sound {seen!r}, not {value!r}"
        time.sleep(0.3)


def _speech_attached(page, item_id: int, timeout: float = 60_000) -> None:
    """Wait until the screen has the server's speech of the item (the voice engine made it)."""
    page.wait_for_function(
        "id => { const i = LinliKiosk.items().find(i => i.id === id);"
        " return !!(i && i.speech_url); }",
        arg=item_id,
        timeout=timeout,
    )


def _open_watched(w: Watched, server, token: str, query: str = "") -> Watched:
    _open(w.page, server, token, query)
    return w


def test_urgent_item_chimes_then_is_read_without_a_tap_and_only_once(watched, server, staff):
    device, token = staff.new_screen("测试屏-紧急朗读")
    w = _open_watched(watched(), server, token)
    page = w.page
    expect(page.locator("html[data-sound='ok']")).to_have_count(1)
    _wait_reported(staff, device["id"], "ok")
    expect(page.locator("#sound-on")).to_be_hidden()
    # What was on the screen when it was first started is not an arrival (the demo's own
    # urgent item): nothing is read.
    page.wait_for_timeout(1500)
    assert w.sound() == {"chimes": [], "plays": []}

    title = _title("燃气泄漏紧急通知")
    item = staff.post(
        title=title, priority="urgent", category="safety", body="请立即关闭燃气阀门并开窗通风。"
    )
    expect(page.locator("#slide-title")).to_have_text(title, timeout=5000)
    # A chime (two notes of an oscillator, in a running AudioContext) …
    page.wait_for_function("() => window.__sound.chimes.length >= 2", timeout=60_000)
    # … then the server's speech of the item plays, nobody having touched the screen.
    page.wait_for_function(PLAYING, timeout=30_000)
    expect(page.locator(f"html[data-speaking='{item['id']}']")).to_have_count(1)
    sound = w.sound()
    assert all(c["state"] == "running" for c in sound["chimes"]), sound
    plays = [p for p in sound["plays"] if SPEECH.search(p["src"])]
    assert len(plays) == 1 and plays[0]["ok"] is True, sound
    assert sound["chimes"][0]["t"] < plays[0]["t"], "the chime comes first"
    page.locator("#stop-btn").click()
    expect(page.locator("#speaking-bar")).to_be_hidden()

    # Once only: after a reload it is on the screen, but not read again.
    page.reload()
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    expect(page.locator("#urgent-title")).to_contain_text(title)
    expect(page.locator("html[data-sound='ok']")).to_have_count(1)
    page.wait_for_timeout(3000)
    assert w.sound() == {"chimes": [], "plays": []}
    assert page.locator("html").get_attribute("data-speaking") in (None, "")

    # An edit makes a new revision: that is read again (the words changed).
    staff.call("PATCH", f"/announcements/{item['id']}", json={"body": "燃气已关闭，请勿靠近。"})
    page.wait_for_function("() => window.__sound.chimes.length >= 2", timeout=60_000)
    page.wait_for_function(PLAYING, timeout=30_000)
    page.locator("#stop-btn").click()
    staff.withdraw(item["id"])
    w.clean()


def test_a_normal_item_is_not_read_aloud(watched, server, staff):
    _device, token = staff.new_screen("测试屏-普通公告")
    w = _open_watched(watched(), server, token)
    title = _title("普通通知")
    item = staff.post(title=title, priority="normal")
    expect(w.page.locator("#rail li", has_text=title)).to_be_visible(timeout=5000)
    # The server has made its speech, so it could have been read: it is not.
    _speech_attached(w.page, item["id"])
    w.page.wait_for_timeout(2000)
    assert w.sound() == {"chimes": [], "plays": []}
    assert w.page.locator("html").get_attribute("data-speaking") in (None, "")
    staff.withdraw(item["id"])
    w.clean()


def test_nothing_is_read_in_quiet_hours(watched, server, staff):
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    device, token = staff.new_screen("测试屏-静音时段")
    staff.call(
        "PATCH",
        f"/devices/{device['id']}",
        json={
            "quiet_start": (local - timedelta(hours=1)).strftime("%H:%M"),
            "quiet_end": (local + timedelta(hours=1)).strftime("%H:%M"),
        },
    )
    w = _open_watched(watched(), server, token)
    title = _title("夜间紧急通知")
    item = staff.post(title=title, priority="urgent")
    # Shown at once …
    expect(w.page.locator("#slide-title")).to_have_text(title, timeout=5000)
    _speech_attached(w.page, item["id"])
    w.page.wait_for_timeout(2000)
    # … but neither chimed nor read.
    assert w.sound() == {"chimes": [], "plays": []}
    assert w.page.evaluate("document.getElementById('speech-audio').paused")
    staff.withdraw(item["id"])
    w.clean()


def test_a_resident_reading_is_not_interrupted(watched, server, staff, live):
    mine = staff.post(title=_title("居民在听的公告"), draft=True)
    _attach_speech(live, mine["id"], _speech_file(live, seconds=40))
    staff.call("POST", f"/announcements/{mine['id']}/publish")
    urgent = staff.post(title=_title("停电紧急通知"), priority="urgent", draft=True)
    _attach_speech(live, urgent["id"], _speech_file(live))
    _device, token = staff.new_screen("测试屏-正在使用")
    w = _open_watched(watched(), server, token, "&urgent_wait=2")
    page = w.page
    expect(page.locator("#rail li", has_text=mine["title"])).to_be_visible(timeout=5000)
    page.locator("#rail .rail-tab", has_text=mine["title"]).click()
    page.get_by_role("button", name="听公告").click()
    page.wait_for_function(PLAYING)

    staff.call("POST", f"/announcements/{urgent['id']}/publish")
    expect(page.locator("#urgent-title")).to_contain_text(urgent["title"], timeout=5000)
    # The resident's reading goes on, on their item; the urgent one waits (banner only).
    page.wait_for_timeout(2500)
    assert page.locator("html").get_attribute("data-speaking") == str(mine["id"])
    assert page.locator("html").get_attribute("data-current") == str(mine["id"])
    assert w.sound()["chimes"] == []
    # Their reading ends (they stop it): a little later the chime, then the urgent item.
    stopped_at = page.evaluate("performance.now()")
    page.get_by_role("button", name="停止朗读").click()
    page.wait_for_function("() => window.__sound.chimes.length >= 2", timeout=15_000)
    expect(page.locator(f"html[data-speaking='{urgent['id']}']")).to_have_count(1)
    page.wait_for_function(PLAYING)
    assert w.sound()["chimes"][0]["t"] - stopped_at >= 1900, "waits urgent_wait after a touch"
    page.locator("#stop-btn").click()
    for item in (mine, urgent):
        staff.withdraw(item["id"])
    w.clean()


def test_held_back_sound_shows_the_button_once_and_the_heartbeat_says_so(
    held_back_browser, server, staff, live
):
    device, token = staff.new_screen("测试屏-声音被阻止")
    w = Watched(held_back_browser)
    try:
        page = w.page
        _open(page, server, token)
        button = page.get_by_role("button", name="点一下开启声音")
        expect(button).to_be_visible()
        expect(page.locator("html[data-sound='blocked']")).to_have_count(1)
        _wait_reported(staff, device["id"], "blocked")
        box = button.bounding_box()
        assert box["height"] >= 60 and box["width"] >= 60
        assert _violations(page) == []

        # An urgent item arrives: shown, but it cannot be heard yet (no attempt to play).
        title = _title("暴雨紧急通知")
        item = staff.post(title=title, priority="urgent", draft=True)
        _attach_speech(live, item["id"], _speech_file(live))
        staff.call("POST", f"/announcements/{item['id']}/publish")
        expect(page.locator("#slide-title")).to_have_text(title, timeout=5000)
        page.wait_for_timeout(1500)
        assert w.sound() == {"chimes": [], "plays": []}

        # One tap: the chime, then the item, and the screen reports sound ok.
        button.click()
        expect(button).to_be_hidden()
        page.wait_for_function("() => window.__sound.chimes.length >= 2", timeout=15_000)
        assert all(c["state"] == "running" for c in w.sound()["chimes"])
        expect(page.locator(f"html[data-speaking='{item['id']}']")).to_have_count(1)
        page.wait_for_function(PLAYING)
        _wait_reported(staff, device["id"], "ok")
        assert page.evaluate("JSON.parse(localStorage.getItem('linli.kiosk.sound')).on") is True
        page.get_by_role("button", name="停止朗读").click()

        # The screen remembers the tap: no button after a reload. This browser holds sound
        # back again in the new page (Chromium does), and the heartbeat says so until the
        # next touch anywhere turns it back on; the item is not read again.
        page.reload()
        expect(page.locator("html[data-online='1']")).to_have_count(1)
        expect(page.locator("html[data-sound='blocked']")).to_have_count(1)
        expect(button).to_be_hidden()
        _wait_reported(staff, device["id"], "blocked")
        page.locator("#clock-time").click()
        expect(page.locator("html[data-sound='ok']")).to_have_count(1)
        _wait_reported(staff, device["id"], "ok")
        expect(button).to_be_hidden()
        # A touch is not an urgent arrival: nothing was read, and the screen did not chime.
        page.wait_for_timeout(1000)
        assert w.sound()["plays"] == []
        staff.withdraw(item["id"])
        w.clean()
    finally:
        w.close()
