"""The lobby screen with the Korean test model, on `make run` without Redis: gunicorn with two
gevent workers on SQLite, the model preloaded, conversations in the database (issue #10: "the
same at the kiosk with the Korean test model, across 2 workers, without Redis").

1. Over HTTP, as the demo lobby screen (its device token): a spoken Korean report goes on turn
   after turn until both workers have answered turns of it, is filed (voice channel, with the
   recording for staff), and the screen's 查进度 keypad route finds it by its last digits.
2. In real Chromium against the same gunicorn: the screen page with the model; press-and-hold
   talks to the assistant, then 查进度 is tapped. With a model installed the voice widget takes
   the report/progress buttons over (voice.js hookKiosk), so the assistant answers — no console
   error and no failing request on the way.

Which worker answered is read from gunicorn's access log (see test_shared_conversations.py,
whose server fixture and helpers are reused here)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.test_kiosk_progress import Watched
from tests.voice_app import test_browser, test_shared_conversations
from tests.voice_app.test_browser import check_reply, hold_to_talk
from tests.voice_app.test_shared_conversations import post, spoken_report_across_workers

pytestmark = pytest.mark.slow

# The fixtures of the neighbours, reused: gunicorn without Redis (two workers, the access log
# naming the worker) and Chromium with a fake microphone saying 도움말.
server = test_shared_conversations.server
microphone = test_browser.microphone
browser = test_browser.browser


def screen_token(server) -> str:
    """The demo lobby screen's device token (from the seed's kiosk_url)."""
    query = urllib.parse.urlparse(server.summary["kiosk_url"]).query
    return urllib.parse.parse_qs(query)["token"][0]


def get(server, path, *, token, query=None):
    """(status, content type, body) of a GET."""
    url = server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_a_spoken_report_at_the_screen_across_workers_then_the_keypad_finds_it(server, say):
    token = screen_token(server)
    filed = spoken_report_across_workers(server, say, token)

    # Staff see it: filed on the voice channel, the screen's recording attached.
    reference = filed["case_ref"]
    staff = server.token("committee_staff")
    _status, _type, body = get(
        server, "/api/v1/cases/by-reference", token=staff, query={"reference": reference}
    )
    case = json.loads(body)
    assert case["reference"] == reference and case["channel"] == "voice", case
    [audio] = [a for a in case["attachments"] if a["kind"] == "audio"]
    status, mime, recording = get(server, audio["url"], token=staff)
    assert status == 200 and mime.startswith("audio/") and len(recording) == audio["size"]

    # The screen's keypad (查进度) finds it by the last digits of its number, on this server.
    serial = reference.partition("-")[2]
    status, found = post(
        server, "/kiosk/api/progress/digits", token=token, body={"digits": serial[-6:]}
    )
    assert status == 200, found
    assert found["outcome"] == "found", found
    [view] = found["cases"]
    assert view["reference"] == reference
    assert view["status"] == case["status"] and view["status_label"]
    assert view["handler_kind"] and view["handler_label"], view
    assert "엘리베이터" not in json.dumps(found, ensure_ascii=False)  # no description on screen


def tap_progress(page) -> dict:
    """Tap 查进度 and wait for the voice widget's next reply; returns what the screen shows."""
    widget = page.locator("[data-linli-voice]")
    replies = int(widget.get_attribute("data-replies") or 0)
    page.get_by_role("button", name="查进度").click()
    page.wait_for_function(
        "(n) => Number(document.querySelector('[data-linli-voice]').dataset.replies || 0) > n",
        arg=replies,
        timeout=60_000,
    )
    return {
        "intent": widget.get_attribute("data-intent"),
        "reply": widget.locator(".lv-reply").inner_text(),
    }


@pytest.mark.browser
def test_the_screen_with_the_model_talks_and_its_progress_button_asks_for_the_number(
    browser, server
):
    token = screen_token(server)
    # Press-and-hold on the screen: the Korean model hears 도움말 and the screen answers (WAV).
    screen = Watched(browser, server, token, "&voice_lang=ko")
    try:
        assert screen.page.locator("[data-linli-voice]").count() == 1
        shown = hold_to_talk(screen.page)
        check_reply(shown)
        assert shown["played"][-1].endswith("format=wav")  # screens play WAV
        screen.clean()
    finally:
        screen.close()

    # 查进度 on a screen with a model, in the screen's own dialog language (the server's,
    # zh-CN): the voice widget takes the button over (voice.js hookKiosk) and asks for the
    # number; the keypad panel and the old "call the committee" message stay shut.
    screen = Watched(browser, server, token)
    page = screen.page
    try:
        expect(page.locator("[data-linli-voice]")).to_have_attribute("data-state", "ready")
        answer = tap_progress(page)
        assert answer["intent"] == "progress", answer
        assert answer["reply"].startswith("请说一下您的编号"), answer
        expect(page.locator("#progress-panel")).to_be_hidden()
        expect(page.locator("#message")).to_be_hidden()
        screen.clean()
    finally:
        screen.close()


@pytest.mark.browser
def test_a_dialog_without_the_buttons_phrases_leaves_them_to_the_panels(browser, server):
    """A screen talking Korean (the test pack has no 查进度 phrase): the button opens the keypad
    panel instead of sending 查进度 into a Korean conversation (which answered 'sorry?')."""
    screen = Watched(browser, server, screen_token(server), "&voice_lang=ko")
    page = screen.page
    try:
        expect(page.locator("[data-linli-voice]")).to_have_attribute("data-state", "ready")
        replies = page.locator("[data-linli-voice]").get_attribute("data-replies")
        page.get_by_role("button", name="查进度").click()
        expect(page.locator("#progress-panel")).to_be_visible()
        expect(page.locator("#progress-panel [data-key='1']")).to_be_visible()
        page.wait_for_timeout(1000)
        assert page.locator("[data-linli-voice]").get_attribute("data-replies") == replies
        screen.clean()
    finally:
        screen.close()


@pytest.mark.browser
def test_an_english_screen_asks_the_chinese_dialog_in_chinese(browser, server):
    """English words on the screen, the server's zh-CN dialog: Check progress sends 查进度."""
    screen = Watched(browser, server, screen_token(server), "&lang=en")
    page = screen.page
    try:
        expect(page.locator("[data-linli-voice]")).to_have_attribute("data-state", "ready")
        widget = page.locator("[data-linli-voice]")
        replies = int(widget.get_attribute("data-replies") or 0)
        page.get_by_role("button", name="Check progress").click()
        page.wait_for_function(
            "(n) => Number(document.querySelector('[data-linli-voice]').dataset.replies || 0) > n",
            arg=replies,
            timeout=60_000,
        )
        assert widget.get_attribute("data-intent") == "progress"
        expect(page.locator("#progress-panel")).to_be_hidden()
        screen.clean()
    finally:
        screen.close()
