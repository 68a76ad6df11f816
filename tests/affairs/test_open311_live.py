"""A standard GeoReport v2 client flow over HTTP against a real gunicorn (issue #13), in JSON and
in XML: discovery → services → service definition → POST request (form-encoded; in XML with a
multipart `media` photo) → token → request → requests with the standard filters.

The reading side goes through `georeport` (PyPI, an independent client library: requests +
xmltodict); it has no POST or token call, so those are plain HTTP as the spec describes them.
The client that posted reads its own words back with its api_key; the library, which sends no
key, gets the public view."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import requests
import xmltodict
from georeport import GeoReport
from PIL import Image

from tests.live import LiveServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("open311-live"))
    live.prepare()
    live.start()
    yield live
    live.stop()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def _parse(response: requests.Response, fmt: str):
    """A GeoReport answer as plain data: JSON as is; XML through xmltodict (its own parser)."""
    if fmt == "json":
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()
    assert response.headers["Content-Type"].startswith("text/xml")
    return xmltodict.parse(response.content)


def _as_list(value) -> list:
    """xmltodict gives one element as a dict, several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _requests_of(body, fmt: str) -> list[dict]:
    if fmt == "json":
        return body
    return _as_list((body["service_requests"] or {}).get("request"))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_georeport_client_flow_against_gunicorn(server, fmt):
    demo = server.summary["open311"]
    api_key, jurisdiction = demo["api_key"], demo["jurisdiction_id"]
    http = requests.Session()
    http.trust_env = False  # straight to 127.0.0.1, whatever proxy the machine has

    # Discovery names this server (PUBLIC_BASE_URL), a contact and how to get a key.
    r = http.get(f"{server.url}/open311/v2/discovery.{fmt}", timeout=30)
    assert r.status_code == 200
    discovery = _parse(r, fmt)
    if fmt == "xml":
        discovery = discovery["discovery"]
        endpoints = _as_list(discovery["endpoints"]["endpoint"])
    else:
        endpoints = discovery["endpoints"]
    assert discovery["contact"] and "/staff/open311-keys" in discovery["key_service"]
    root = endpoints[0]["url"]
    assert root == f"{server.url}/open311/v2/"

    client = GeoReport(root, jurisdiction=jurisdiction, output_format=fmt)
    services = client.get_service_list()
    services = services if fmt == "json" else _as_list(services)
    by_code = {s["service_code"]: s for s in services}
    service = next(s for s in services if s["metadata"] in (True, "true"))
    definition = client.get_service_definition(service["service_code"])
    attributes = definition["attributes"]
    attributes = attributes if fmt == "json" else _as_list(attributes["attribute"])
    form = {
        "api_key": api_key,
        "jurisdiction_id": jurisdiction,
        "service_code": service["service_code"],
        "lat": "39.913418",
        "long": "116.391248",
        "address_string": "和平里 2 号楼东侧路灯",
        "email": "partner-user@example.cn",
        "description": "路灯一闪一闪，晚上看不清路",
    }
    for attribute in attributes:
        values = (
            attribute["values"]
            if fmt == "json"
            else _as_list((attribute.get("values") or {}).get("value"))
        )
        if attribute["datatype"] in ("singlevaluelist", "multivaluelist") and values:
            form[f"attribute[{attribute['code']}]"] = values[0]["key"]
        elif attribute["required"] in (True, "true"):
            form[f"attribute[{attribute['code']}]"] = "1"

    # POST: form-encoded (JSON); multipart with the photo as `media` (XML).
    url = f"{root}requests.{fmt}"
    if fmt == "xml":
        r = http.post(
            url, data=form, files={"media": ("light.jpg", _jpeg(), "image/jpeg")}, timeout=60
        )
    else:
        r = http.post(url, data=form, timeout=60)
    assert r.status_code == 200, r.text[:300]
    [created] = _requests_of(_parse(r, fmt), fmt)
    reference, token = created["service_request_id"], created["token"]
    assert reference and token

    # A JSON body is told what the spec wants instead of "api_key missing".
    r = http.post(url, json=form, timeout=30)
    assert r.status_code == 400 and "multipart/form-data" in r.text

    # Token → request id.
    r = http.get(
        f"{root}tokens/{token}.{fmt}", params={"jurisdiction_id": jurisdiction}, timeout=30
    )
    assert r.status_code == 200
    [found] = _requests_of(_parse(r, fmt), fmt)
    assert found["service_request_id"] == reference

    # The poster, with its key, reads back what it sent.
    r = http.get(
        f"{root}requests/{reference}.{fmt}",
        params={"jurisdiction_id": jurisdiction, "api_key": api_key},
        timeout=30,
    )
    [own] = _requests_of(_parse(r, fmt), fmt)
    assert own["description"] == form["description"]
    assert own["address"] == form["address_string"]
    assert float(own["lat"]) == 39.913418 and float(own["long"]) == 116.391248
    assert own["status"] == "open" and own["service_code"] == service["service_code"]
    assert own["media_url"] is None  # a photo is private until staff publish it

    # Anyone else (the library sends no key): the public view, nobody's words or contact.
    public = client.get_service_request(reference)
    public = public[0] if isinstance(public, list) else public
    assert public["service_request_id"] == reference and public["description"] is None
    assert float(public["lat"]) == 39.913 and public["address"] is None
    assert "example.cn" not in str(public)
    assert public["service_name"] == by_code[service["service_code"]]["service_name"]

    def refs(**filters) -> set[str]:
        if fmt == "json":
            return {item["service_request_id"] for item in client.get_service_requests(**filters)}
        # georeport 0.3.1 cannot read an empty XML list (<service_requests/> is None to
        # xmltodict): the same query, read with xmltodict here.
        r = http.get(
            f"{root}requests.xml", params={"jurisdiction_id": jurisdiction, **filters}, timeout=30
        )
        assert r.status_code == 200
        return {item["service_request_id"] for item in _requests_of(_parse(r, fmt), fmt)}

    now = datetime.now(UTC)
    window = {
        "start_date": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_date": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert reference in refs()
    assert reference in refs(service_code=service["service_code"], status="open", **window)
    assert reference not in refs(status="closed")
    other = next((code for code in by_code if code != service["service_code"]), None)
    if other is not None:
        assert reference not in refs(service_code=other)
    assert reference not in refs(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z")
    assert refs(service_request_id=reference) == {reference}
