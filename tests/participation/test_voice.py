"""The voice assistant's "有什么活动" lists activities with sign-up (text, through the services
the dialog calls)."""

from __future__ import annotations

from datetime import timedelta

from app.assistant.services import AppServices, Caller
from app.participation import activities
from tests.participation.helpers import actor, new_activity


def test_voice_lists_coming_activities_with_places_left(world):
    activity = new_activity(world.a, capacity=2, starts_in=timedelta(days=1))
    activities.sign_up(actor(world.a.resident), activity.id)
    said = AppServices().activities(Caller(actor(world.a.elder), "zh-CN"))
    assert said[0]["title"] == "敬老茶话会"
    assert "社区活动室" in said[0]["when"] and "还剩 1 个名额" in said[0]["when"]
    english = AppServices().activities(Caller(actor(world.a.elder), "en"))
    assert "1 places left" in english[0]["when"]
    # another community's resident hears nothing of it
    assert AppServices().activities(Caller(actor(world.b.resident), "zh-CN")) == []
