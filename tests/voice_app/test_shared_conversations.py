"""`make run` without Redis: gunicorn with two gevent workers on SQLite, conversations in the
database. One conversation is talked through turn after turn, by text and by Korean speech,
until both workers have answered turns of it: no turn is lost to the other worker (404
conversation_not_found), and the report reaches its confirmation and is filed.

Which worker answered is read from gunicorn's own access log (its format given the worker's
pid through GUNICORN_CMD_ARGS), so the app needs no test-only header."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.live import WORKER_ACCESS_LOG
from tests.voice_app.conftest import Gunicorn

pytestmark = pytest.mark.slow

MAX_TURNS = 120  # the kernel hands connections to the workers; both get some long before


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two workers, no REDIS_URL; the access log says which worker (pid) answered."""
    server = Gunicorn(
        tmp_path_factory.mktemp("voice-no-redis"),
        redis=False,
        env=WORKER_ACCESS_LOG,
    )
    server.prepare()
    server.start()
    yield server
    server.stop()


def post(server, path, *, token, body=None, data=None, query=None):
    """(status, JSON) of a POST; errors are answers too."""
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    else:
        headers["Content-Type"] = "application/octet-stream"
    url = server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def both_answered(server, path: str, expected: int) -> dict[str, list[str]]:
    """Wait until the access log holds `expected` lines for `path` (it is written after the
    response); returns the statuses per worker."""
    return server.wait_workers_of("POST", path, expected)


def test_a_text_dialog_goes_on_whichever_worker_answers(server):
    token = server.token("resident", 1)
    path = "/api/v1/voice/text"

    def say(text, cid=None):
        body = {"text": text, "language": "zh-CN"}
        if cid:
            body["conversation_id"] = cid
        status, reply = post(server, path, token=token, body=body)
        assert status == 200, (text, status, reply)  # never 404: every worker finds it
        return reply

    ask = say("我要反映")
    cid = ask["conversation_id"]
    assert ask["state"] == "ask_description"
    confirm = say("三号楼的楼道灯坏了，晚上看不见", cid)
    assert confirm["state"] == "confirm_report" and "楼道灯" in confirm["reply_text"]
    turns = 2
    while turns < MAX_TURNS:
        again = say("再说一遍", cid)  # the read-back again, from whichever worker
        turns += 1
        assert again["conversation_id"] == cid and again["state"] == "confirm_report"
        assert again["reply_text"] == confirm["reply_text"]
        if turns % 10 == 0 and len(both_answered(server, path, turns)) == 2:
            break
    filed = say("对", cid)
    turns += 1
    assert filed["intent"] == "yes" and filed["case_ref"], filed
    assert filed["state"] == "done"
    seen = both_answered(server, path, turns)
    assert len(seen) == 2, f"one worker answered all {turns} turns: {seen}"
    assert all(status == "200" for statuses in seen.values() for status in statuses)
    # and the conversation goes on after the report, on any worker
    assert say("再说一遍", cid)["reply_text"] == filed["reply_text"]


def spoken_report_across_workers(server, say, token: str) -> dict:
    """A Korean spoken report (문제 있어요 → 엘리베이터 고장 → 다시 … → 네) by the caller of
    `token`, repeated until both workers have answered turns of it; every turn 200 (never 404 on
    the other worker). Returns the filing reply."""
    path = "/api/v1/voice/utterances"

    def speak(text, cid=None):
        query = {"language": "ko", **({"conversation_id": cid} if cid else {})}
        status, reply = post(server, path, token=token, data=say(text), query=query)
        assert status == 200, (text, status, reply)
        return reply

    ask = speak("문제 있어요")
    cid = ask["conversation_id"]
    assert ask["intent"] == "report" and ask["listen"] == "free", ask
    confirm = speak("엘리베이터 고장", cid)
    assert confirm["state"] == "confirm_report", confirm
    turns = 2
    while turns < MAX_TURNS // 2:
        again = speak("다시", cid)
        turns += 1
        assert again["conversation_id"] == cid
        assert again["intent"] == "repeat" and again["state"] == "confirm_report", again
        if turns % 5 == 0 and len(both_answered(server, path, turns)) == 2:
            break
    filed = speak("네", cid)
    turns += 1
    assert filed["intent"] == "yes" and filed["case_ref"], filed
    seen = both_answered(server, path, turns)
    assert len(seen) == 2, f"one worker answered all {turns} turns: {seen}"
    assert all(status == "200" for statuses in seen.values() for status in statuses), seen
    return filed


def test_a_spoken_dialog_goes_on_whichever_worker_answers(server, say):
    spoken_report_across_workers(server, say, server.token("resident", 0))
