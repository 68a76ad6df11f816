"""我要反映 at the lobby screen without a speech model (语音留言), in real Chromium against the
app in gunicorn: tiles → where → press and hold to record (Chromium's fake microphone) → play
back → call-back number or none → send → the reference; then staff hear the recording in the
console. No console error, no failing request, axe-core clean on every step, targets ≥ 60 px."""

from __future__ import annotations

import re
import time

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PageProblems
from tests.browser.test_accessibility import AXE_OPTIONS

FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def mic_browser(playwright_driver):
    """Chromium with a fake microphone (a beeping test signal) that needs no permission."""
    b = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + FAKE_MIC
    )
    yield b
    b.close()


class Watched:
    """A 1080p page that records console errors, script errors and failing requests."""

    def __init__(self, browser, base: str, size: tuple[int, int] = (1920, 1080)):
        self.context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, locale="zh-CN", base_url=base
        )
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.watch = PageProblems(self.page)

    @property
    def problems(self) -> list[str]:
        """Console and script errors, failing requests."""
        return self.watch.problems

    def close(self):
        self.context.close()


@pytest.fixture()
def watched(mic_browser, server):
    made: list[Watched] = []

    def make(size: tuple[int, int] = (1920, 1080)) -> Watched:
        w = Watched(mic_browser, server.url, size)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def _violations(page) -> list[dict]:
    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in results.response["violations"]
    ]


def _small_targets(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll('#report button')]
        .filter(el => el.offsetParent !== null)
        .map(el => { const r = el.getBoundingClientRect();
                     return {t: el.textContent.trim(), w: r.width, h: r.height}; })
        .filter(t => t.w < 60 || t.h < 60)""")


def _small_texts(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll(
            '#report p, #report h1, #report button, #report span, #report dt, #report dd,'
            + ' #report output')]
        .filter(el => el.offsetParent !== null && el.textContent.trim())
        .map(el => ({t: el.textContent.trim().slice(0, 20),
                     px: parseFloat(getComputedStyle(el).fontSize)}))
        .filter(t => t.px < 30)""")


def _check_panel(page, step: str) -> None:
    expect(page.locator("#report")).to_have_attribute("data-step", step)
    found = _violations(page)
    assert found == [], (step, found)
    assert _small_targets(page) == [], step
    assert _small_texts(page) == [], step
    # Everything fits at 1080p: nothing to scroll to, no key cut off.
    assert page.evaluate("""() => { const b = document.querySelector('#report .report-body');
        return b.scrollHeight <= b.clientHeight + 1; }"""), step


def _open_screen(w: Watched, token: str):
    page = w.page
    page.goto(f"/kiosk?token={token}")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    return page


def _key(page, key: str):
    return page.locator(f"#report-keypad .keypad-key[data-key='{key}']")


def _hold(page, seconds: float) -> None:
    hold = page.locator("#report-hold")
    box = hold.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(hold).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#report")).to_have_attribute("data-level", "1")  # the meter moves
    time.sleep(seconds)
    page.mouse.up()


def test_a_voice_message_from_tile_to_reference_and_staff_hear_it(watched, server, staff):
    _device, token = staff.new_screen("大堂留言屏")
    w = watched()
    page = _open_screen(w, token)

    page.get_by_role("button", name="我要反映").click()
    expect(page.locator("#report")).to_be_visible()
    expect(page.locator("#report-tiles .tile")).to_have_count(4)
    expect(page.locator("#report-prompt")).to_have_text("是什么事？请点一张图。")
    # The prompt is read aloud by the server's voice, with a visible stop.
    expect(page.locator("#report-stop")).to_be_visible()
    page.wait_for_function(
        "() => { const a = document.getElementById('report-voice');"
        " return a.currentTime > 0 || a.ended; }"
    )
    _check_panel(page, "category")
    page.locator("#report-tiles .tile[data-code='safety']").click()

    _check_panel(page, "place")
    page.locator("#report-places .tile[data-code='lobby']").click()

    _check_panel(page, "record")
    _hold(page, 2.5)

    _check_panel(page, "review")
    assert int(page.locator("#report").get_attribute("data-recorded")) > 1000
    page.locator("#report-play").click()
    expect(page.locator("#report")).to_have_attribute("data-played", "1", timeout=15_000)

    # Record again, then go on.
    page.locator("#report-rerecord").click()
    expect(page.locator("#report")).to_have_attribute("data-step", "record")
    _hold(page, 2.0)
    expect(page.locator("#report")).to_have_attribute("data-step", "review")
    page.locator("#report-review-next").click()

    _check_panel(page, "phone")
    # Too few digits, then not a mobile number: 确定 says so and stays.
    for digit in "2345":
        _key(page, digit).click()
    _key(page, "done").click(force=True)  # drawn "not ready" (aria-disabled) but it answers
    expect(page.locator("#report-keypad .keypad-message")).to_contain_text("11")
    for digit in "2345678":
        _key(page, digit).click()
    _key(page, "done").click()
    expect(page.locator("#report-keypad .keypad-message")).to_contain_text("手机号")
    for _ in range(11):
        _key(page, "delete").click()
    for digit in "13987654321":
        _key(page, digit).click()
    expect(page.locator("#report-keypad .keypad-box.filled")).to_have_count(11)
    _key(page, "done").click()

    _check_panel(page, "confirm")
    expect(page.locator("#report-sum-category")).to_have_text("安全隐患")
    expect(page.locator("#report-sum-phone")).to_have_text("139 8765 4321")
    page.locator("#report-send").click()

    expect(page.locator("#report")).to_have_attribute("data-step", "done")
    reference = page.locator("#report").get_attribute("data-reference")
    assert re.fullmatch(r"\S+", reference)
    expect(page.locator("#report-ref")).to_have_text(reference)
    font = page.locator("#report-ref").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 100
    _check_panel(page, "done")
    # The reference is read aloud.
    page.wait_for_function(
        "() => { const a = document.getElementById('report-voice');"
        " return a.getAttribute('src') && (a.currentTime > 0 || a.ended); }"
    )
    page.locator("#report-finish").click()
    expect(page.locator("#report")).to_be_hidden()

    # The resident (or whoever comes next with the number) looks it up on the 查进度 keypad.
    page.get_by_role("button", name="查进度").click()
    for digit in reference.partition("-")[2]:
        page.locator(f"#pp-keypad .keypad-key[data-key='{digit}']").click()
    page.get_by_role("button", name="确定，输入完毕").click()
    looked_up = page.locator(f"#progress-panel .pp-case[data-reference='{reference}']")
    expect(looked_up).to_be_visible()
    expect(looked_up.locator(".pp-status-row dd")).not_to_be_empty()
    expect(looked_up.locator(".pp-handler-row dd")).not_to_be_empty()
    assert "13987654321" not in page.locator("#progress-panel").inner_text()
    page.locator("#pp-home").click()
    assert w.problems == [], "\n".join(w.problems)

    # The case, as staff see it: the screen's channel, the category, the number, the recording.
    found = staff.call("GET", f"/cases/by-reference?reference={reference}")
    case = staff.call("GET", f"/cases/{found['id']}")
    assert case["channel"] == "kiosk"
    assert case["category"]["code"] == "safety"
    assert case["reporter"]["phone"] == "13987654321"
    [attachment] = case["attachments"]
    assert attachment["kind"] == "audio"

    console = watched()
    cpage = console.page
    cpage.goto("/staff/login")
    cpage.locator("input[name=login]").fill(staff.login)
    cpage.locator("input[name=password]").fill(staff.password)
    cpage.locator("form button[type=submit]").last.click()
    expect(cpage).to_have_url(re.compile(r"/staff/$"))
    cpage.goto(f"/staff/cases/{case['id']}")
    audio = cpage.locator("figure.attachment audio")
    expect(audio).to_have_count(1)
    duration = audio.evaluate("""a => new Promise((resolve, reject) => {
        a.muted = true;
        a.addEventListener('error', () => reject(new Error('audio error ' + a.error.code)));
        a.addEventListener('playing', () => setTimeout(() => resolve(
            {duration: a.duration, time: a.currentTime}), 300));
        a.play().catch(reject);
    })""")
    assert duration["time"] > 0
    # A MediaRecorder WebM has no duration in its header until read through: Infinity or > 1 s.
    assert duration["duration"] > 1
    assert console.problems == [], "\n".join(console.problems)
    # The recording is not public: without the staff sign-in it is not served.
    src = audio.get_attribute("src")
    anon = requests.get(server.url + src, timeout=10, allow_redirects=False)
    assert anon.status_code in (302, 401, 403)


def test_no_phone_and_i_dont_know(watched, server, staff):
    _device, token = staff.new_screen("不知道屏")
    w = watched()
    page = _open_screen(w, token)
    page.get_by_role("button", name="我要反映").click()
    page.locator("#report-tiles .tile[data-code='unknown']").click()
    page.locator("#report-places .tile[data-code='elsewhere']").click()
    _hold(page, 2.0)
    expect(page.locator("#report")).to_have_attribute("data-step", "review")
    page.locator("#report-review-next").click()
    page.locator("#report-no-phone").click()
    expect(page.locator("#report-sum-phone")).to_have_text("不留电话")
    page.locator("#report-send").click()
    expect(page.locator("#report")).to_have_attribute("data-step", "done")
    reference = page.locator("#report").get_attribute("data-reference")
    found = staff.call("GET", f"/cases/by-reference?reference={reference}")
    case = staff.call("GET", f"/cases/{found['id']}")
    assert case["channel"] == "kiosk" and case["anonymous"] is True
    assert case.get("reporter") is None
    assert w.problems == [], "\n".join(w.problems)


def test_too_short_a_press_records_nothing(watched, server, staff):
    _device, token = staff.new_screen("短按屏")
    w = watched()
    page = _open_screen(w, token)
    page.get_by_role("button", name="我要反映").click()
    page.locator("#report-tiles .tile").first.click()
    page.locator("#report-places .tile").first.click()
    expect(page.locator("#report")).to_have_attribute("data-step", "record")
    hold = page.locator("#report-hold")
    hold.dispatch_event("pointerdown")
    time.sleep(0.3)
    hold.dispatch_event("pointerup")
    expect(page.locator("#report-status")).to_contain_text("太短")
    expect(page.locator("#report")).to_have_attribute("data-step", "record")
    assert w.problems == [], "\n".join(w.problems)


def test_the_screen_goes_home_after_the_warning_and_forgets_the_draft(watched, server, staff):
    _device, token = staff.new_screen("闲置屏")
    w = watched()
    page = w.page
    page.goto(f"/kiosk?token={token}&idle_after=8")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    page.get_by_role("button", name="我要反映").click()
    page.locator("#report-tiles .tile").first.click()
    page.locator("#report-places .tile").first.click()
    _hold(page, 2.0)
    expect(page.locator("#report")).to_have_attribute("data-step", "review")
    page.locator("#report-review-next").click()
    page.locator("#report-keypad .keypad-key[data-key='1']").click()
    # Nobody touches the screen: a warning with a countdown of at least 20 s, above the panel.
    warning = page.locator("#idle-warning")
    expect(warning).to_be_visible(timeout=10_000)
    text = page.locator("#idle-text").inner_text()
    assert int(re.search(r"\d+", text).group()) >= 20
    assert (
        page.evaluate("""() => { const r = document.getElementById('idle-stay')
        .getBoundingClientRect(); const el = document.elementFromPoint(r.x + r.width / 2,
        r.y + r.height / 2); return el && el.id; }""")
        == "idle-stay"
    )
    expect(page.locator("#report")).to_be_hidden(timeout=40_000)
    expect(warning).to_be_hidden()
    assert page.locator("#report").get_attribute("data-recorded") is None
    expect(page.locator("#report-keypad .keypad-box.filled")).to_have_count(0)
    # Opening again starts from the tiles with nothing kept.
    page.get_by_role("button", name="我要反映").click()
    expect(page.locator("#report")).to_have_attribute("data-step", "category")
    assert w.problems == [], "\n".join(w.problems)


def test_the_panel_in_english(watched, server, staff):
    _device, token = staff.new_screen("English report screen")
    w = watched()
    page = w.page
    page.goto(f"/kiosk?lang=en&token={token}")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    page.get_by_role("button", name="Report a problem").click()
    expect(page.locator("#report-prompt")).to_have_text("What is it about? Touch a picture.")
    expect(page.locator("#report-tiles .tile[data-code='unknown']")).to_have_text("I don't know")
    _check_panel(page, "category")
    page.locator("#report-tiles .tile").first.click()
    _check_panel(page, "place")
    page.locator("#report-places .tile[data-code='home']").click()
    _check_panel(page, "record")
    # The demo's categories are the built-in ones, shown in English while unchanged.
    expect(page.locator("#report-tiles .tile-name").first).to_have_text("Cleanliness")
    text = page.locator("#report").inner_text()
    assert not re.findall(r"[\u4e00-\u9fff]+", text)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#report")).to_be_hidden()
    assert w.problems == [], "\n".join(w.problems)


def test_the_panel_in_portrait(watched, server, staff):
    _device, token = staff.new_screen("竖屏留言屏")
    w = watched((1080, 1920))
    page = _open_screen(w, token)
    page.get_by_role("button", name="我要反映").click()
    _check_panel(page, "category")
    page.locator("#report-tiles .tile").first.click()
    _check_panel(page, "place")
    page.locator("#report-places .tile").first.click()
    _check_panel(page, "record")
    _hold(page, 2.0)
    _check_panel(page, "review")
    page.locator("#report-review-next").click()
    _check_panel(page, "phone")
    page.locator("#report-no-phone").click()
    _check_panel(page, "confirm")
    page.get_by_role("button", name="取消").click()
    expect(page.locator("#report")).to_be_hidden()
    assert w.problems == [], "\n".join(w.problems)


def test_an_urgent_item_waits_while_someone_leaves_a_message(watched, server, staff, live):
    """Its chime and reading would end up in the recording: they wait until the panel closes."""
    from tests.browser.test_kiosk_live import _attach_speech, _speech_file, _title
    from tests.browser.test_kiosk_urgent_sound import _HOOK

    urgent = staff.post(title=_title("留言时的紧急通知"), priority="urgent", draft=True)
    _attach_speech(live, urgent["id"], _speech_file(live))
    _device, token = staff.new_screen("留言时紧急屏")
    w = watched()
    w.context.add_init_script(_HOOK)
    page = w.page
    try:
        page.goto(f"/kiosk?token={token}&urgent_wait=1")
        expect(page.locator("html[data-online='1']")).to_have_count(1)
        page.get_by_role("button", name="我要反映").click()
        page.locator("#report-tiles .tile").first.click()
        page.locator("#report-places .tile").first.click()
        expect(page.locator("#report")).to_have_attribute("data-step", "record")
        staff.call("POST", f"/announcements/{urgent['id']}/publish")
        expect(page.locator("#urgent-title")).to_contain_text(urgent["title"], timeout=10_000)
        page.wait_for_timeout(3000)  # well past urgent_wait since the last touch
        assert page.evaluate("window.__sound.chimes") == []
        assert page.evaluate("document.getElementById('speech-audio').paused")
        page.get_by_role("button", name="取消").click()
        # Closed: the chime, then the urgent item read aloud.
        page.wait_for_function("() => window.__sound.chimes.length >= 1", timeout=15_000)
        expect(page.locator(f"html[data-speaking='{urgent['id']}']")).to_have_count(1)
        page.locator("#stop-btn").click()
        assert w.problems == [], "\n".join(w.problems)
    finally:
        staff.withdraw(urgent["id"])
