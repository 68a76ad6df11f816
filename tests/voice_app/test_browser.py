"""The 按住说话 button in real headless Chromium (Playwright) with a fake microphone playing
espeak-ng Korean speech: the button is big enough, a press-and-hold streams audio over the
WebSocket to gunicorn+gevent, the partial transcript shows, and the reply is shown and played.
Pages: the lobby screen, the easy-mode home (when they carry the widget), and the widget's own
page."""

from __future__ import annotations

import urllib.request

import pytest

from tests.voice_app.conftest import pcm_of
from voice.audio import wav_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture(scope="module")
def microphone(tmp_path_factory, say):
    """A WAV the fake microphone plays in a loop: a pause, 도움말 (help), a longer pause."""
    pcm = b"\0\0" * 8000 + pcm_of(say("도움말")) + b"\0\0" * 16000 * 3
    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    path.write_bytes(wav_bytes(pcm, 16000))
    return path


@pytest.fixture(scope="module")
def browser(microphone, playwright_driver):
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*ARGS, f"--use-file-for-fake-audio-capture={microphone}"],
    )
    yield chromium
    chromium.close()


def hold_to_talk(page, root_selector="[data-linli-voice]", hold_ms=2600):
    """Check the button, press and hold it, and wait for the reply; returns what was shown."""
    root = page.locator(root_selector)
    button = root.locator(".lv-talk")
    button.wait_for(state="visible", timeout=30_000)
    box = button.bounding_box()
    assert box["height"] >= 60 and box["width"] >= 60, box
    assert button.inner_text().strip() in ("按住说话", "Hold to talk")
    page.evaluate(
        """(sel) => {
        const root = document.querySelector(sel);
        window.__partials = [];
        new MutationObserver(() => {
            const t = root.querySelector('.lv-partial').textContent;
            if (t) window.__partials.push(t);
        }).observe(root, {subtree: true, childList: true, characterData: true});
        window.__played = [];
        const play = HTMLMediaElement.prototype.play;
        HTMLMediaElement.prototype.play = function () {
            window.__played.push(this.src); return play.call(this);
        };
    }""",
        root_selector,
    )
    button.hover()
    page.mouse.down()
    page.wait_for_timeout(hold_ms)
    assert button.get_attribute("aria-pressed") == "true"
    page.mouse.up()
    try:
        page.wait_for_function(
            "(sel) => Number(document.querySelector(sel).dataset.replies || 0) >= 1",
            arg=root_selector,
            timeout=90_000,
        )
    except Exception as error:
        state = page.evaluate("(sel) => document.querySelector(sel).outerHTML", root_selector)
        raise AssertionError(f"no reply shown: {page.url}\n{state[:2000]}") from error
    return {
        "reply": root.locator(".lv-reply").inner_text(),
        "intent": root.get_attribute("data-intent"),
        "partials": page.evaluate("window.__partials"),
        "played": page.evaluate("window.__played"),
        "replay": root.locator(".lv-replay"),
    }


def check_reply(shown):
    assert shown["intent"] == "help", shown
    assert "공지 사항" in shown["reply"]  # the Korean test pack's help text
    assert shown["partials"], "no live transcript while holding"
    assert any("/api/v1/voice/speech/" in src for src in shown["played"])
    replay = shown["replay"]
    assert replay.is_visible() and replay.inner_text() in ("重听", "Hear again")
    assert replay.bounding_box()["height"] >= 60


def test_widget_page_press_and_hold(browser, gunicorn):
    token = gunicorn.token("resident", 1)
    page = browser.new_page()
    page.goto(f"{gunicorn.url}/voice/demo?token={token}&voice_lang=ko")
    assert "token=" not in page.url  # the credential leaves the address bar
    shown = hold_to_talk(page)
    check_reply(shown)
    src = shown["played"][-1]
    assert "format=" in src
    with urllib.request.urlopen(src, timeout=30) as audio:
        assert audio.status == 200 and audio.headers["Content-Type"] in ("audio/ogg", "audio/mpeg")
    shown["replay"].click()
    assert len(page.evaluate("window.__played")) >= 2
    page.close()


def test_lobby_screen_press_and_hold(browser, gunicorn):
    page = browser.new_page()
    page.goto(f"{gunicorn.url}{gunicorn.summary['kiosk_url']}&voice_lang=ko")
    if page.locator("[data-linli-voice]").count() == 0:
        page.close()
        pytest.skip("the lobby screen does not carry the voice widget yet")
    shown = hold_to_talk(page)
    check_reply(shown)
    assert shown["played"][-1].endswith("format=wav")  # screens play WAV
    page.close()


def test_easy_mode_press_and_hold(browser, gunicorn):
    account = gunicorn.account("resident", 1)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{gunicorn.url}/easy/login")
    page.fill("input[name=phone]", account["login"])
    page.fill("input[name=pin]", account["pin"])
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    page.goto(f"{gunicorn.url}/easy?voice_lang=ko")  # signed in by the session cookie
    if page.locator("[data-linli-voice]").count() == 0:
        context.close()
        pytest.skip("the easy-mode pages do not carry the voice widget yet")
    check_reply(hold_to_talk(page))
    context.close()
