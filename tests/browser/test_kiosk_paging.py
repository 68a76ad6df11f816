"""A long announcement on the lobby screen is split into pages that fit the slide, in real
Chromium at both screen orientations: every word is shown at some point, nothing overflows,
a resident can turn the pages, and reading aloud reads (and turns) them all."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import _violations
from tests.browser.test_kiosk_live import _attach_speech, _speech_file

SIZES = [(1920, 1080), (1080, 1920)]
SIZE_IDS = ["landscape", "portrait"]

# Six paragraphs of about 80 characters, each different (so a lost or repeated piece shows).
_SENTENCES = [
    "二号楼和三号楼的供水管道将于下周全面更换，施工期间分时段停水，请各位居民提前储备生活用水。",
    "老人和行动不便的住户可以联系楼长帮忙送水，楼长电话贴在每个单元门口的公告栏里。",
    "施工队每天上午八点进场，下午五点半收工，午休时间不会使用电钻等噪声较大的工具。",
]
LONG_BODY = "\n\n".join(
    f"第{n}段：{_SENTENCES[n % 3]}{_SENTENCES[(n + 1) % 3][:30]}。" for n in range(1, 7)
)
SHORT_BODY = "明天 8:00 至 12:00 停水。\n\n请提前储水。"

# What each page of the slide shows, and whether it fits the slide and the viewport.
_PAGE_STATE = """() => {
    const body = document.getElementById('slide-body');
    const box = body.parentNode.getBoundingClientRect();
    const ps = [...body.querySelectorAll('p[data-para]')];
    return {
        page: document.documentElement.dataset.page,
        pages: document.documentElement.dataset.pages,
        label: document.getElementById('slide-page').textContent,
        scrollHeight: body.scrollHeight, clientHeight: body.clientHeight,
        blocks: ps.map(p => ({para: Number(p.dataset.para), text: p.textContent})),
        inside: ps.every(p => { const r = p.getBoundingClientRect();
            return r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && r.bottom <= innerHeight
                && r.right <= innerWidth && r.width > 0; }),
        fontPx: Math.min(...ps.map(p => parseFloat(getComputedStyle(p).fontSize))),
    };
}"""


def _screen(browser, server, staff, size, query: str = ""):
    width, height = size
    _device, token = staff.new_screen(f"分页屏{width}")
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{server.url}/kiosk?token={token}{query}")
    expect(page.locator("html[data-online='1']")).to_have_count(1)
    return page


def _show(page, item: dict):
    """Put the item on the slide, the rotation paused (a resident touched the screen)."""
    page.evaluate("LinliKiosk.pause(true)")
    page.wait_for_function("id => LinliKiosk.items().some(i => i.id === id)", arg=item["id"])
    page.evaluate("id => LinliKiosk.show(LinliKiosk.items().find(i => i.id === id))", item["id"])
    expect(page.locator("#slide-title")).to_have_text(item["title"])


def _read_all_pages(page) -> list[dict]:
    """Turn through every page with the ▶ button; the state of each page."""
    states = [page.evaluate(_PAGE_STATE)]
    total = int(states[0]["pages"])
    for number in range(2, total + 1):
        page.locator("#page-next").click()
        expect(page.locator(f"html[data-page='{number}']")).to_have_count(1)
        states.append(page.evaluate(_PAGE_STATE))
    return states


def _joined(states: list[dict]) -> str:
    paragraphs: dict[int, str] = {}
    for state in states:
        for block in state["blocks"]:
            paragraphs[block["para"]] = paragraphs.get(block["para"], "") + block["text"]
    return "\n\n".join(paragraphs[k] for k in sorted(paragraphs))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_long_announcement_is_paged_and_every_word_is_shown(browser, server, staff, size):
    item = staff.post(title=f"供水管道改造{uuid.uuid4().hex[:4]}", body=LONG_BODY)
    page = _screen(browser, server, staff, size)
    try:
        _show(page, item)
        states = _read_all_pages(page)
        total = len(states)
        assert total >= 2, states[0]
        for number, state in enumerate(states, start=1):
            assert state["page"] == str(number)
            assert state["label"] == f"第 {number} 页，共 {total} 页"
            assert state["blocks"], state
            assert state["scrollHeight"] <= state["clientHeight"], state
            assert state["inside"], state
        # Every word of the body, in order, and nothing twice.
        assert _joined(states) == LONG_BODY
        # Body text keeps its 44 px at 1080p in both orientations.
        assert min(s["fontPx"] for s in states) >= 40
        # The last page cannot go further; ◀ goes back, and the rotation stays paused.
        expect(page.locator("#page-next")).to_be_disabled()
        page.locator("#page-prev").click()
        expect(page.locator(f"html[data-page='{total - 1}']")).to_have_count(1)
        expect(page.locator("html[data-paused='1']")).to_have_count(1)
        # The progress bar covers the whole announcement, a notch between its pages.
        expect(page.locator("#progress .progress-tick")).to_have_count(total - 1)
        for button in ("#page-prev", "#page-next"):
            box = page.locator(button).bounding_box()
            assert box["width"] >= 60 and box["height"] >= 60, (button, box)
    finally:
        page.context.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_short_announcement_stays_one_page(browser, server, staff, size):
    item = staff.post(title=f"停水通知{uuid.uuid4().hex[:4]}", body=SHORT_BODY)
    page = _screen(browser, server, staff, size)
    try:
        _show(page, item)
        state = page.evaluate(_PAGE_STATE)
        assert state["pages"] == "1" and state["label"] == ""
        assert _joined([state]) == SHORT_BODY
        assert state["scrollHeight"] <= state["clientHeight"]
        expect(page.locator("#pager")).to_be_hidden()
        expect(page.locator("#progress .progress-tick")).to_have_count(0)
    finally:
        page.context.close()


def test_pages_follow_a_turned_screen(browser, server, staff):
    item = staff.post(title=f"转屏公告{uuid.uuid4().hex[:4]}", body=LONG_BODY)
    page = _screen(browser, server, staff, SIZES[0])
    try:
        _show(page, item)
        landscape = int(page.evaluate("LinliKiosk.page().pages"))
        page.set_viewport_size({"width": 1080, "height": 1920})
        page.wait_for_function("n => LinliKiosk.page().pages !== n", arg=landscape)
        states = _read_all_pages(page)
        assert all(s["scrollHeight"] <= s["clientHeight"] and s["inside"] for s in states)
        assert _joined(states) == LONG_BODY
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["", "&lang=en"], ids=["zh", "en"])
def test_paged_slide_has_no_axe_violations(browser, server, staff, lang):
    item = staff.post(title=f"无障碍分页{uuid.uuid4().hex[:4]}", body=LONG_BODY)
    page = _screen(browser, server, staff, SIZES[0], lang)
    try:
        _show(page, item)
        expect(page.locator("#pager")).to_be_visible()
        name = "Next page" if lang else "下一页"
        page.get_by_role("button", name=name).click()  # both buttons enabled
        expect(page.locator("html[data-page='2']")).to_have_count(1)
        assert _violations(page) == []
    finally:
        page.context.close()


def test_reading_aloud_reads_every_page(browser, server, staff, live):
    item = staff.post(title=f"朗读分页{uuid.uuid4().hex[:4]}", body=LONG_BODY, draft=True)
    _attach_speech(live, item["id"], _speech_file(live))
    staff.call("POST", f"/announcements/{item['id']}/publish")
    page = _screen(browser, server, staff, SIZES[0])
    try:
        _show(page, item)
        total = int(page.evaluate("LinliKiosk.page().pages"))
        assert total >= 2
        page.get_by_role("button", name="听公告").click()
        expect(page.locator("#speaking-bar")).to_be_visible()
        page.wait_for_function(
            "() => { const a = document.getElementById('speech-audio');"
            " return !a.paused && a.duration > 0; }"
        )
        # The whole announcement is one recording; near its end the last page is on screen,
        # the paragraph being read is marked, and the pager gives way to the stop button.
        page.evaluate(
            "() => { const a = document.getElementById('speech-audio');"
            " a.currentTime = a.duration * 0.97; }"
        )
        expect(page.locator(f"html[data-page='{total}']")).to_have_count(1)
        expect(page.locator("#slide-body p.reading")).to_have_count(1)
        expect(page.locator("#pager")).to_be_hidden()
        page.get_by_role("button", name="停止朗读").click()
        expect(page.locator("#pager")).to_be_visible()
        expect(page.locator("#slide-body p.reading")).to_have_count(0)
    finally:
        page.context.close()
