"""Choosing how news about one's requests also arrives (SMS / e-mail), in real Chromium on a
phone: axe-core clean and age-friendly at 大 and 特大, reflows at 200 %, and the choice is saved
with no console error and no failing request."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Person
from tests.browser_easy import rules

MIN_FONT = {"large": 18, "xlarge": 30}

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", ["large", "xlarge"])
def test_settings_page_is_age_friendly(world, phones, size):
    elder = world.a.elder
    db.session.get(Person, elder.id).text_size = size
    db.session.commit()
    p = phones()
    p.sign_in(elder)
    p.page.goto("/easy/settings")
    problems = rules.axe_violations(p.page)
    problems += rules.measure(p.page, MIN_FONT[size])["problems"]
    assert problems == []
    zoomed = phones(viewport={"width": 180, "height": 370}, device_scale_factor=2)
    zoomed.sign_in(elder)
    zoomed.page.goto("/easy/settings")
    assert rules.overflow(zoomed.page) <= 0


def test_choose_email_then_text_message(world, phones, fresh):
    resident = world.a.resident
    p = phones()
    page = p.page
    p.sign_in(resident)
    page.goto("/easy/settings")
    expect(page.get_by_role("button", name="只在这里看")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("您的电子邮箱（选“发邮件”时才需要）").fill("wang.fang@example.com")
    page.get_by_role("button", name="保存邮箱").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    page.get_by_role("button", name="发邮件").click()
    expect(page.get_by_role("button", name="发邮件")).to_have_attribute("aria-pressed", "true")
    fresh()
    person = db.session.get(Person, resident.id)
    assert (person.notify_channel, person.email) == ("email", "wang.fang@example.com")

    page.get_by_role("button", name="发短信").click()
    expect(page.get_by_role("button", name="发短信")).to_have_attribute("aria-pressed", "true")
    masked = resident.phone[:3] + "****" + resident.phone[-4:]
    expect(page.locator("main")).to_contain_text(f"短信会发到 {masked}")
    assert resident.phone not in page.content()
    assert p.console_errors == [] and p.failed_requests == []
