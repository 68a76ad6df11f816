"""The staff console's compose page previews an announcement as the lobby screens will show it,
in real Chromium: a long text is split into the screens' pages (the same code, the same slide),
staff turn them with ◀ ▶, and the page says how many pages the screens will show."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Staff
from tests.browser.test_accessibility import _violations
from tests.browser.test_kiosk_paging import (
    _PAGE_STATE,
    _SENTENCES,
    LONG_BODY,
    SHORT_BODY,
    _joined,
    _read_all_pages,
    _screen,
    _show,
)

LABEL = re.compile(r"^第 1 页，共 (\d+) 页$")
# Paragraphs too long for one slide as well as short ones, cut at sentence ends, at clauses, at
# spaces and anywhere: the pages depend on where each line of the slide ends.
MIXED_BODY = "\n\n".join(
    [
        "各位居民：",
        "".join(f"（{n}）{_SENTENCES[n % 3]}" for n in range(1, 10)),
        "，".join(s.rstrip("。") for s in _SENTENCES * 2) + "。",
        "如有疑问，请拨打居委会电话 6500 1234，或在长辈版里留言。",
        # Typed without any punctuation: cut where the slide is full, to the character.
        "".join(s.rstrip("。").replace("，", "") for s in _SENTENCES * 2),
        "各楼送水联系人 "
        + " ".join(
            f"{n}号楼{name}"
            for n, name in enumerate(
                [
                    "王建国",
                    "李秀英",
                    "张伟",
                    "刘芳",
                    "陈志强",
                    "杨丽",
                    "赵明",
                    "黄海燕",
                    "周建华",
                    "吴桂兰",
                    "徐卫东",
                    "孙晓梅",
                    "马国庆",
                    "朱红",
                    "胡振华",
                    "郭淑珍",
                    "何俊",
                    "高玉兰",
                    "林德胜",
                    "罗小燕",
                ]
                * 2,
                start=1,
            )
        ),
        "Water will be off on Saturday from 8:00 to 14:00 in buildings 1 to 3. Please store some"
        " water in advance, and ask your grid worker if you need help carrying it home.",
    ]
)


@pytest.fixture(scope="module")
def other_staff(live) -> Staff:
    """Staff of 光明社区, whose screens have no urgent notice pinned (和平社区's demo has one)."""
    return Staff(live, login="guangming_staff", community="光明社区")


def _compose(browser, server, staff: Staff, query: str = ""):
    """The compose page, signed in as `staff`, at 1080p."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{server.url}/staff/login")
    page.locator("input[name=login]").fill(staff.login)
    page.locator("input[name=password]").fill(staff.password)
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto(f"{server.url}/staff/announcements/new{query}")
    return page


def _preview(page):
    """The preview frame (a Frame, to evaluate in) once it has loaded its script."""
    frame = page.frame_locator("#preview")
    expect(frame.locator("#slide-body")).to_be_attached()
    handle = page.locator("#preview").element_handle()
    content = handle.content_frame()
    content.wait_for_function("() => !!window.LinliPreview")
    return content


def _pages_shown(page, title: str) -> int:
    """Wait until the preview shows `title` paged; the number of pages its label gives."""
    frame = page.frame_locator("#preview")
    expect(frame.locator("#slide-title")).to_have_text(title)
    expect(frame.locator("#slide-page")).to_have_text(LABEL)
    return int(LABEL.match(frame.locator("#slide-page").text_content()).group(1))


def _read_preview_pages(page) -> list[dict]:
    """Turn through every page of the preview with its ▶ button; the state of each page."""
    frame = page.frame_locator("#preview")
    content = _preview(page)
    states = [content.evaluate(_PAGE_STATE)]
    for number in range(2, int(states[0]["pages"]) + 1):
        frame.locator("#page-next").click()
        expect(frame.locator(f"html[data-page='{number}']")).to_have_count(1)
        states.append(content.evaluate(_PAGE_STATE))
    return states


def _split_inside_a_paragraph(states: list[dict]) -> bool:
    """Whether some paragraph goes on over a page turn."""
    return any(
        a["blocks"][-1]["para"] == b["blocks"][0]["para"]
        for a, b in zip(states, states[1:], strict=False)
    )


def test_long_text_is_previewed_in_pages_with_a_count_on_the_page(browser, server, staff):
    page = _compose(browser, server, staff)
    try:
        title = f"供水管道改造{uuid.uuid4().hex[:4]}"
        page.locator("#title").fill(title)
        page.locator("#body").fill(MIXED_BODY)
        total = _pages_shown(page, title)
        assert total > 1
        note = page.locator("#preview-pages")
        expect(note).to_have_text(f"在大屏上分 {total} 页显示")
        assert note.get_attribute("aria-live") == "polite"

        frame = page.frame_locator("#preview")
        states = _read_preview_pages(page)
        assert len(states) == total
        for number, state in enumerate(states, start=1):
            assert state["label"] == f"第 {number} 页，共 {total} 页"
            assert state["blocks"], state
            assert state["scrollHeight"] <= state["clientHeight"], state
            assert state["inside"], state
        # Every word once, in order, and each page shows other words.
        assert _joined(states) == MIXED_BODY
        assert _split_inside_a_paragraph(states), states
        texts = ["".join(b["text"] for b in s["blocks"]) for s in states]
        assert len(set(texts)) == total
        expect(frame.locator("#page-next")).to_be_disabled()
        # ◀ goes back a page, to that page's words.
        frame.locator("#page-prev").click()
        expect(frame.locator(f"html[data-page='{total - 1}']")).to_have_count(1)
        expect(frame.locator("#slide-body")).to_have_text(texts[total - 2])
        expect(frame.locator("#slide-page")).to_have_text(f"第 {total - 1} 页，共 {total} 页")

        # Choosing who it is for changes nothing on the screen: the page stays (checked once
        # the frame has handled the form's message: its listener runs before this one).
        content = _preview(page)
        content.evaluate(
            "() => { window.seenForms = 0; addEventListener('message', e => {"
            " if (e.data && e.data.kind === 'preview') window.seenForms++; }); }"
        )
        page.locator("input[name=grid_ids]").first.check()
        content.wait_for_function("() => window.seenForms > 0")
        assert content.evaluate("LinliPreview.page()") == {"page": total - 1, "pages": total}
        # A change of the text starts again at page 1.
        page.locator("#body").press("End")
        page.locator("#body").press_sequentially("。")
        expect(frame.locator("html[data-page='1']")).to_have_count(1)
        expect(frame.locator("#slide-page")).to_have_text(LABEL)
        expect(frame.locator("#page-prev")).to_be_disabled()
    finally:
        page.context.close()


def test_short_text_has_no_pages_and_no_count(browser, server, staff):
    page = _compose(browser, server, staff)
    try:
        title = f"停水通知{uuid.uuid4().hex[:4]}"
        page.locator("#title").fill(title)
        page.locator("#body").fill(LONG_BODY)
        _pages_shown(page, title)
        expect(page.locator("#preview-pages")).not_to_be_empty()
        # Shortened to fit one slide: the label, the page buttons and the count go.
        page.locator("#body").fill(SHORT_BODY)
        frame = page.frame_locator("#preview")
        expect(frame.locator("html[data-pages='1']")).to_have_count(1)
        expect(frame.locator("#slide-body p")).to_have_count(2)
        expect(frame.locator("#slide-body")).to_contain_text("请提前储水。")
        expect(frame.locator("#slide-page")).to_be_empty()
        expect(frame.locator("#pager")).to_be_hidden()
        expect(page.locator("#preview-pages")).to_be_empty()
    finally:
        page.context.close()


def test_preview_pages_are_the_screens_pages(browser, server, other_staff):
    """The strongest check: the same announcement on a real 1080p screen and in the preview is
    split at the same places, page for page."""
    title = f"供水管道改造{uuid.uuid4().hex[:4]}"
    item = other_staff.post(title=title, body=MIXED_BODY, category="notice")
    screen = _screen(browser, server, other_staff, (1920, 1080))
    page = _compose(browser, server, other_staff)
    try:
        _show(screen, item)
        expect(screen.locator("#urgent-banner")).to_be_hidden()
        on_screen = _read_all_pages(screen)
        assert len(on_screen) > 1 and _split_inside_a_paragraph(on_screen), on_screen

        page.locator("#title").fill(title)
        page.locator("#body").fill(MIXED_BODY)
        _pages_shown(page, title)
        previewed = _read_preview_pages(page)

        size = (
            "() => { const b = document.getElementById('slide-body');"
            " return [b.clientWidth, b.parentNode.clientHeight]; }"
        )
        assert _preview(page).evaluate(size) == screen.evaluate(size)
        assert [s["blocks"] for s in previewed] == [s["blocks"] for s in on_screen]
        expect(page.locator("#preview-pages")).to_have_text(f"在大屏上分 {len(on_screen)} 页显示")
    finally:
        page.context.close()
        screen.context.close()


def test_pages_are_turned_by_keyboard_and_pass_axe(browser, server, staff):
    page = _compose(browser, server, staff)
    try:
        title = f"键盘翻页{uuid.uuid4().hex[:4]}"
        page.locator("#title").fill(title)
        page.locator("#body").fill(LONG_BODY)
        _pages_shown(page, title)
        frame = page.frame_locator("#preview")
        # From the form's last button, Tab reaches the preview's ▶ (◀ is disabled on page 1);
        # the rest of the pictured screen is inert.
        page.locator("form button[type=submit]").last.focus()
        page.keyboard.press("Tab")
        expect(frame.locator("#page-next")).to_be_focused()
        page.keyboard.press("Enter")
        expect(frame.locator("html[data-page='2']")).to_have_count(1)
        assert _violations(page) == []
        assert _violations(_preview(page)) == []
    finally:
        page.context.close()


def test_count_is_in_english_on_the_english_console(browser, server, staff):
    page = _compose(browser, server, staff, "?lang=en")
    try:
        title = f"Water works {uuid.uuid4().hex[:4]}"
        page.locator("#title").fill(title)
        page.locator("#body").fill(LONG_BODY)
        total = _pages_shown(page, title)
        expect(page.locator("#preview-pages")).to_have_text(f"Shown on screens in {total} pages")
    finally:
        page.context.close()
