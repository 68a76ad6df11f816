"""按住说话 next to a text field, for real: an app with the Korean Vosk test model behind
/api/v1/voice/transcriptions, Chromium's fake microphone playing espeak-ng Korean speech; the
resident holds the button, lets go, and what was said lands in the description field."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from tests.browser_easy.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, Phone
from tests.live import ThreadedServer

pytestmark = [pytest.mark.browser, pytest.mark.voice, pytest.mark.slow]


@pytest.fixture(scope="module")
def voice_site(tmp_path_factory):
    """Its own app (the suite's has no recognizer), served on a free port, with a world."""
    from app.affairs import categories
    from app.extensions import db
    from tests.conftest import fresh_database
    from tests.factories import make_world
    from tests.voice_app.conftest import ko_model_path, make_app

    with fresh_database(tmp_path_factory.mktemp("easy-voice-db")) as url:
        app = make_app(url, tmp_path_factory.mktemp("easy-voice"), VOSK_MODEL_PATH=ko_model_path())
        with app.app_context():
            world = make_world()
            categories.install_defaults(None, world.a.community.id)
            db.session.commit()
            elder = {"phone": world.a.elder.phone, "name": world.a.elder.display_name}
        with ThreadedServer(app) as server:
            yield server.url, elder
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def microphone(tmp_path_factory):
    """A WAV the fake microphone plays in a loop: a pause, 도움말 (help), a longer pause."""
    import voice
    from voice.audio import decode_audio, wav_bytes

    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng", pytrace=False)
    speech = decode_audio(voice.asr.espeak_wav("도움말", "ko")).pcm
    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    path.write_bytes(wav_bytes(b"\0\0" * 8000 + speech + b"\0\0" * 16000 * 3, 16000))
    return path


@pytest.fixture(scope="module")
def mic_browser(playwright_driver, microphone):
    """A second Chromium whose microphone plays the recording."""
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
        ],
    )
    yield chromium
    chromium.close()


def test_hold_to_talk_fills_the_field(voice_site, mic_browser):
    base, elder = voice_site
    phone = Phone(mic_browser, base, viewport=PHONE, permissions=["microphone"])
    try:
        page = phone.page
        page.goto("/easy/login")
        page.fill("#phone", elder["phone"])
        page.fill("#pin", "246813")
        page.click("form.form button[type=submit]")
        page.wait_for_url("**/easy/")
        page.goto("/easy/report")
        page.locator(".tiles a").first.click()
        talk = page.locator("[data-voice-for=description]")
        expect(talk).to_be_visible()  # the recognizer is installed: the button shows
        box = talk.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        expect(talk).to_contain_text("按住说话")
        talk.hover()
        page.mouse.down()
        expect(talk).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(2600)  # the resident holds the button while speaking
        with page.expect_response("**/api/v1/voice/transcriptions") as answer:
            page.mouse.up()
        assert answer.value.status == 200, answer.value.text()
        expect(page.locator("#description")).not_to_have_value("", timeout=30000)
        said = page.locator("#description").input_value()
        assert any("\uac00" <= ch <= "\ud7a3" for ch in said), said  # Hangul from the model
        expect(talk).to_have_attribute("aria-pressed", "false")
    finally:
        phone.close()


def test_home_carries_the_voice_assistant_once_a_recognizer_exists(voice_site, mic_browser):
    base, elder = voice_site
    phone = Phone(mic_browser, base, viewport=PHONE)
    try:
        page = phone.page
        page.goto("/easy/login")
        page.fill("#phone", elder["phone"])
        page.fill("#pin", "246813")
        page.click("form.form button[type=submit]")
        page.wait_for_url("**/easy/")
        talk = page.locator("[data-linli-voice] .lv-talk")
        expect(talk).to_be_visible()  # loaded by easy.js after the page was ready
        box = talk.bounding_box()
        assert box["height"] >= 60 and box["width"] >= 60
        expect(page.locator(".big4 a.big")).to_have_count(4)
    finally:
        phone.close()
