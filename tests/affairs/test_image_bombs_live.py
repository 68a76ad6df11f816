"""Picture bombs against a real gunicorn with gevent workers (issue #9): eight uploads in
parallel are answered (413 for bombs, 201 for heavy photos, never 500) while /healthz stays
fast: the decoding and re-encoding run in the hub's thread pool, a bounded number at a time."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.affairs.test_image_bombs import rgb_png
from tests.live import LiveServer


def _call(url, data=None, headers=None, method=None, timeout=120):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.mark.slow
def test_parallel_picture_bombs_do_not_freeze_a_gevent_worker(tmp_path):
    import io

    server = LiveServer(
        tmp_path, env={"IMAGE_DECODE_CONCURRENCY": "1", "IMAGE_DECODE_WAIT_SECONDS": "60"}
    )
    summary = server.prepare()
    server.start()
    try:
        resident = next(a for a in summary["accounts"] if a["role"] == "resident")
        json_headers = {"Content-Type": "application/json"}
        _status, body = _call(
            server.url + "/api/v1/auth/token",
            json.dumps({"login": resident["login"], "pin": resident["pin"]}).encode(),
            json_headers,
        )
        auth = {"Authorization": "Bearer " + json.loads(body)["token"]}
        me = json.loads(_call(server.url + "/api/v1/me", headers=auth)[1])
        _status, body = _call(
            server.url + "/api/v1/cases",
            json.dumps(
                {
                    "community_id": me["community_id"],
                    "category_code": "environment",
                    "description": "东门垃圾桶满了",
                }
            ).encode(),
            {**auth, **json_headers},
        )
        url = f"{server.url}/api/v1/cases/{json.loads(body)['id']}/attachments"
        uploads = []
        for data in [rgb_png(6300, 6300)] * 4 + [rgb_png(3900, 3900)] * 4:
            boundary, payload = encode_multipart(
                {"file": FileStorage(io.BytesIO(data), "p.png", content_type="image/png")}
            )
            uploads.append(
                (payload, {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})
            )
        _call(server.url + "/healthz")  # warm
        statuses, health = [], []

        def upload(payload, headers):
            statuses.append(_call(url, payload, headers)[0])

        threads = [threading.Thread(target=upload, args=u) for u in uploads]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            started = time.monotonic()
            assert _call(server.url + "/healthz", timeout=30)[0] == 200
            health.append(time.monotonic() - started)
            time.sleep(0.1)
        for t in threads:
            t.join(120)
    finally:
        server.stop()
    assert sorted(statuses) == [201] * 4 + [413] * 4
    # Decoding and re-encoding a 15 MP picture takes one to two seconds here; /healthz meanwhile
    # stays well below that (a wide margin for a loaded machine).
    assert len(health) >= 5 and max(health) < 1.0, health
