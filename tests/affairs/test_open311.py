"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): services, service definitions,
POST/GET requests, tokens — in JSON and XML, with the standard error list."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from app.affairs import categories, open311
from app.extensions import db
from app.models.case import Case
from tests.affairs.conftest import actor, put_in_state, submit

BASE = "/open311/v2"


@pytest.fixture()
def key(cats):
    plain, _row = open311.issue_key(actor(cats.a.staff), cats.a.community.id, "城市 12345 平台")
    db.session.commit()
    return plain


def _form(world, key, **extra):
    form = {
        "api_key": key,
        "jurisdiction_id": world.a.community.code,
        "service_code": "repair",
        "lat": "39.9042",
        "long": "116.4074",
        "description": "小区门口路灯不亮",
        "first_name": "晓明",
        "last_name": "王",
        "phone": "13900003333",
        "attribute[place]": "public",
    }
    form.update(extra)
    return {k: v for k, v in form.items() if v is not None}


def _errors(response, status, fmt="json"):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if fmt == "json":
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]
        return body[0]["description"]
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "errors"
    error = root.find("error")
    assert error.findtext("code") == str(status) and error.findtext("description")
    return error.findtext("description")


def test_services_in_json_and_xml(client, cats):
    code = cats.a.community.code
    r = client.get(f"{BASE}/services.json", query_string={"jurisdiction_id": code})
    assert r.status_code == 200 and r.mimetype == "application/json"
    services = r.get_json()
    assert [s["service_code"] for s in services][:3] == ["repair", "environment", "safety"]
    repair = services[0]
    assert set(repair) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert repair["metadata"] is True and repair["type"] == "realtime"
    r = client.get(f"{BASE}/services.xml", query_string={"jurisdiction_id": code})
    assert r.mimetype == "text/xml" and r.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(r.data)
    assert root.tag == "services"
    first = root.findall("service")[0]
    assert first.findtext("service_code") == "repair" and first.findtext("metadata") == "true"
    assert first.findtext("service_name") == repair["service_name"]


def test_service_definition_in_json_and_xml(client, cats):
    q = {"jurisdiction_id": cats.a.community.code}
    body = client.get(f"{BASE}/services/repair.json", query_string=q).get_json()
    assert body["service_code"] == "repair"
    [attribute] = body["attributes"]
    assert set(attribute) == {
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    }
    assert attribute["datatype"] == "singlevaluelist" and attribute["order"] == 1
    assert {"key": "public", "name": "公共区域"} in attribute["values"]
    root = ET.fromstring(client.get(f"{BASE}/services/repair.xml", query_string=q).data)
    assert root.tag == "service_definition" and root.findtext("service_code") == "repair"
    values = root.find("attributes/attribute/values").findall("value")
    assert [v.findtext("key") for v in values] == ["public", "home"]
    _errors(client.get(f"{BASE}/services/nope.json", query_string=q), 404)
    _errors(client.get(f"{BASE}/services/nope.xml", query_string=q), 404, "xml")


def test_post_request_then_get_it_and_its_token(client, cats, key):
    world = cats
    r = client.post(f"{BASE}/requests.json", data=_form(world, key))
    assert r.status_code == 200, r.get_data(as_text=True)
    [created] = r.get_json()
    assert set(created) == {"service_request_id", "token", "service_notice", "account_id"}
    reference = created["service_request_id"]
    case = db.session.query(Case).filter_by(reference=reference).one()
    assert case.channel == "open311" and case.community_id == world.a.community.id
    assert case.contact_name == "晓明 王" and case.contact_phone == "13900003333"
    assert case.attributes == {"place": "public"} and case.reporter_id is None
    assert created["service_notice"] == case.category.notice
    q = {"jurisdiction_id": world.a.community.code}
    [one] = client.get(f"{BASE}/requests/{reference}.json", query_string=q).get_json()
    assert one["service_request_id"] == reference and one["status"] == "open"
    assert one["service_code"] == "repair" and one["requested_datetime"].endswith("+08:00")
    assert one["lat"] == 39.904 and one["long"] == 116.407
    # The public view: no name, no phone, no description.
    text = str(one)
    assert "晓明" not in text and "13900003333" not in text and "路灯" not in text
    xml = ET.fromstring(client.get(f"{BASE}/requests/{reference}.xml", query_string=q).data)
    assert xml.tag == "service_requests"
    assert xml.find("request").findtext("service_request_id") == reference
    [token] = client.get(f"{BASE}/tokens/{created['token']}.json", query_string=q).get_json()
    assert token == {"service_request_id": reference, "token": created["token"]}
    xml = ET.fromstring(client.get(f"{BASE}/tokens/{created['token']}.xml", query_string=q).data)
    assert xml.find("request").findtext("service_request_id") == reference
    _errors(client.get(f"{BASE}/tokens/nope.json", query_string=q), 404)
    _errors(client.get(f"{BASE}/requests/2026-999999.xml", query_string=q), 404, "xml")


def test_post_answers_in_xml_too(client, cats, key):
    r = client.post(f"{BASE}/requests.xml", data=_form(cats, key))
    assert r.status_code == 200 and r.mimetype == "text/xml"
    root = ET.fromstring(r.data)
    assert root.tag == "service_requests"
    assert root.find("request").findtext("service_request_id")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors(client, cats, key, fmt):
    world = cats
    url = f"{BASE}/requests.{fmt}"
    _errors(client.post(url, data=_form(world, None)), 403, fmt)
    _errors(client.post(url, data=_form(world, "o311_forged")), 403, fmt)
    _errors(
        client.post(url, data=_form(world, key, jurisdiction_id=world.b.community.code)), 403, fmt
    )
    _errors(client.post(url, data=_form(world, key, jurisdiction_id="nowhere")), 404, fmt)
    _errors(client.post(url, data=_form(world, key, service_code="nope")), 404, fmt)
    _errors(client.post(url, data=_form(world, key, service_code=None)), 400, fmt)
    _errors(client.post(url, data=_form(world, key, lat=None, long=None)), 400, fmt)
    _errors(client.post(url, data=_form(world, key, lat="north")), 400, fmt)
    _errors(client.post(url, data=_form(world, key, lat="95", long="10")), 400, fmt)
    _errors(client.post(url, data=_form(world, key, phone="12345")), 400, fmt)
    _errors(client.post(url, data=_form(world, key, **{"attribute[place]": "roof"})), 400, fmt)
    _errors(client.post(url, data=_form(world, key, **{"attribute[colour]": "red"})), 400, fmt)
    _errors(client.post(url, data=_form(world, key, **{"attribute[": "x"})), 400, fmt)
    _errors(client.post(url, data=_form(world, key, address_id="99999")), 400, fmt)
    # "²".isdigit() is True, yet no number: it was a 500.
    _errors(client.post(url, data=_form(world, key, address_id="\u00b2")), 400, fmt)
    # An unknown question's code is echoed in the error: XML cannot hold \x01, so it is
    # replaced (the XML answer did not parse).
    _errors(client.post(url, data=_form(world, key, **{"attribute[\x01]": "x"})), 400, fmt)
    # Repairs need a contact: an anonymous partner report is refused.
    _errors(
        client.post(url, data=_form(world, key, first_name=None, last_name=None, phone=None)),
        400,
        fmt,
    )
    assert db.session.query(Case).count() == 0


@pytest.mark.parametrize("value", ["\x00", "灯\x00坏了", "\u202e坏了", "坏了\ufffe", "x" * 10_000])
def test_hostile_strings_are_400_and_nothing_is_stored(client, cats, key, value):
    for field in ("description", "address_string", "first_name"):
        r = client.post(f"{BASE}/requests.json", data=_form(cats, key, **{field: value}))
        _errors(r, 400)
    assert db.session.query(Case).count() == 0


def test_a_revoked_key_stops_working(client, cats, auth):
    staff = auth.headers(cats.a.staff)
    issued = client.post(
        f"/api/v1/communities/{cats.a.community.id}/open311-keys",
        json={"name": "区网格化平台"},
        headers=staff,
    )
    assert issued.status_code == 201
    body = issued.get_json()
    plain = body["api_key"]
    assert body["prefix"] == plain[:8]
    listed = client.get(
        f"/api/v1/communities/{cats.a.community.id}/open311-keys", headers=staff
    ).get_json()
    assert plain not in str(listed) and listed[0]["name"] == "区网格化平台"
    assert client.post(f"{BASE}/requests.json", data=_form(cats, plain)).status_code == 200
    assert client.delete(f"/api/v1/open311-keys/{body['id']}", headers=staff).status_code == 200
    _errors(client.post(f"{BASE}/requests.json", data=_form(cats, plain)), 403)
    # Keys are stored as hashes only.
    from app.models.open311 import Open311Key

    assert all(
        plain not in (k.key_hash + k.prefix) or k.prefix == plain[:8]
        for k in db.session.query(Open311Key)
    )
    assert db.session.query(Open311Key).filter(Open311Key.key_hash == plain).count() == 0


def test_get_requests_filters(client, cats, key):
    world = cats
    open_case = submit(world.a, description="电梯坏了")
    done = submit(world.a, code="environment", description="垃圾")
    put_in_state(done, world.a, "resolved")
    done.resolved_at = done.updated_at
    from app.affairs import workflow

    workflow.add_note(actor(world.a.staff), done.id, "已清运完毕", public=True)
    private = submit(world.a, code="dispute", description="噪音")
    foreign = submit(world.b)
    db.session.commit()
    q = {"jurisdiction_id": world.a.community.code}

    def refs(fmt="json", **extra):
        r = client.get(f"{BASE}/requests.{fmt}", query_string={**q, **extra})
        assert r.status_code == 200, r.get_data(as_text=True)
        if fmt == "xml":
            return {
                e.findtext("service_request_id") for e in ET.fromstring(r.data).findall("request")
            }
        return {item["service_request_id"]: item for item in r.get_json()}

    everything = refs()
    assert set(everything) == {open_case.reference, done.reference}  # never the private one
    assert private.reference not in everything and foreign.reference not in everything
    assert everything[done.reference]["status"] == "closed"
    assert "已清运完毕" in everything[done.reference]["status_notes"]
    assert everything[open_case.reference]["status"] == "open"
    assert refs("xml") == set(everything)
    assert set(refs(status="open")) == {open_case.reference}
    assert set(refs(status="closed")) == {done.reference}
    assert set(refs(status="open,closed")) == set(everything)
    assert set(refs(service_code="environment")) == {done.reference}
    assert set(refs(service_request_id=f"{done.reference},{private.reference}")) == {done.reference}
    assert set(refs(start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00Z")) == set()
    assert set(refs(start_date="2000-01-01T00:00:00+08:00")) == set(everything)
    _errors(client.get(f"{BASE}/requests.json", query_string={**q, "start_date": "yesterday"}), 400)
    _errors(client.get(f"{BASE}/requests.xml", query_string={**q, "status": "pending"}), 400, "xml")
    _errors(
        client.get(
            f"{BASE}/requests.json",
            query_string={
                **q,
                "start_date": "2026-02-01T00:00:00Z",
                "end_date": "2026-01-01T00:00:00Z",
            },
        ),
        400,
    )


def test_merged_and_rejected_cases_are_closed_with_notes(client, cats):
    world = cats
    from app.affairs import workflow

    target, dup, rejected = submit(world.a), submit(world.a), submit(world.a)
    workflow.merge_case(actor(world.a.staff), dup.id, target.id)
    workflow.transition(actor(world.a.staff), rejected.id, "reject", reason="不属于本社区")
    db.session.commit()
    items = {
        i["service_request_id"]: i
        for i in client.get(
            f"{BASE}/requests.json", query_string={"jurisdiction_id": world.a.community.code}
        ).get_json()
    }
    assert items[dup.reference]["status"] == "closed"
    assert target.reference in items[dup.reference]["status_notes"]
    assert items[rejected.reference]["status_notes"] == "不属于本社区"


def test_jurisdiction_errors_and_unknown_routes(client, cats):
    _errors(client.get(f"{BASE}/services.json"), 400)  # two communities: which one?
    _errors(client.get(f"{BASE}/services.xml", query_string={"jurisdiction_id": "x"}), 404, "xml")
    _errors(client.get(f"{BASE}/services.csv"), 404)
    _errors(client.put(f"{BASE}/requests.json"), 405)
    _errors(
        client.get(
            f"{BASE}/requests/2026-000001.json",
            query_string={"jurisdiction_id": cats.b.community.code},
        ),
        404,
    )


def test_reading_can_require_a_key(app, client, cats, key):
    q = {"jurisdiction_id": cats.a.community.code}
    app.config["OPEN311_PUBLIC_READ"] = False
    try:
        _errors(client.get(f"{BASE}/services.json", query_string=q), 403)
        assert (
            client.get(f"{BASE}/services.json", query_string={**q, "api_key": key}).status_code
            == 200
        )
    finally:
        app.config["OPEN311_PUBLIC_READ"] = True
    _errors(client.get(f"{BASE}/services.json", query_string={**q, "api_key": "bad"}), 403)


def test_a_retried_post_files_one_case(client, cats, key):
    headers = {"Idempotency-Key": "partner-req-1"}
    first = client.post(f"{BASE}/requests.json", data=_form(cats, key), headers=headers)
    again = client.post(f"{BASE}/requests.json", data=_form(cats, key), headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert db.session.query(Case).count() == 1


def test_required_attributes_and_public_photos(client, cats, key, auth):
    world = cats
    cat = categories.create_category(
        actor(world.a.staff),
        world.a.community.id,
        code="lift",
        name="电梯",
        allow_anonymous=True,
        attributes=[
            {"code": "floor", "datatype": "number", "required": True, "description": "几楼？"}
        ],
    )
    db.session.commit()
    _errors(client.post(f"{BASE}/requests.json", data=_form(world, key, service_code="lift")), 400)
    r = client.post(
        f"{BASE}/requests.json",
        data=_form(
            world, key, service_code="lift", **{"attribute[floor]": "5", "attribute[place]": None}
        ),
    )
    assert r.status_code == 200, r.get_json()
    case = db.session.query(Case).filter_by(category_id=cat.id).one()
    assert case.attributes == {"floor": 5.0}
    # A photo made public by staff is what media_url points to.
    from tests.affairs.conftest import image_bytes
    from tests.affairs.test_attachments import _upload

    up = _upload(client, auth.headers(world.a.staff), case.id, image_bytes(), public="true")
    assert up.status_code == 201 and up.get_json()["public"] is True
    q = {"jurisdiction_id": world.a.community.code}
    [item] = client.get(f"{BASE}/requests/{case.reference}.json", query_string=q).get_json()
    assert item["media_url"].startswith("http://localhost/open311/v2/media/")
    got = client.get(item["media_url"], buffered=True)
    assert got.status_code == 200 and got.mimetype == "image/jpeg"


@pytest.mark.parametrize("public", [False, True])
def test_a_residents_note_never_reaches_status_notes(client, cats, auth, public):
    # The attack: a resident's note sent as private (or even as public) with a door code was
    # stored public and Open311, readable without signing in, showed it in status_notes.
    world = cats
    case = submit(world.a)
    door = "门禁密码 4711#，钥匙在 201 王阿姨家"
    r = client.post(
        f"/api/v1/cases/{case.id}/notes",
        headers=auth.headers(world.a.resident),
        json={"text": door, "public": public},
    )
    assert r.status_code == 201
    put_in_state(case, world.a, "resolved")
    r = client.post(
        f"/api/v1/cases/{case.id}/transitions",
        headers=auth.headers(world.a.resident),
        json={"action": "reopen", "note": "还是坏的，" + door},
    )
    assert r.status_code == 200
    q = {"jurisdiction_id": world.a.community.code}
    for fmt in ("json", "xml"):
        for url in (f"{BASE}/requests/{case.reference}.{fmt}", f"{BASE}/requests.{fmt}"):
            r = client.get(url, query_string=q)
            assert r.status_code == 200
            text = r.get_data(as_text=True)
            assert case.reference in text
            assert "4711" not in text and "王阿姨" not in text
            assert world.a.resident.display_name not in text
    [item] = client.get(f"{BASE}/requests/{case.reference}.json", query_string=q).get_json()
    assert item["status"] == "open" and item["status_notes"] == "已重新打开"
    # The committee still reads it, and so does the resident.
    for who in (world.a.staff, world.a.resident):
        view = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(who)).get_json()
        assert "4711" in str(view["timeline"])
    # What staff publish is what Open311 says.
    client.post(
        f"/api/v1/cases/{case.id}/notes",
        headers=auth.headers(world.a.staff),
        json={"text": "明天上午再派师傅", "public": True},
    )
    [item] = client.get(f"{BASE}/requests/{case.reference}.json", query_string=q).get_json()
    assert item["status_notes"] == "已重新打开。明天上午再派师傅"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_extreme_and_hostile_dates_never_crash(client, cats, fmt):
    # start_date=0001-01-01 (moved to UTC: year 0) and 9999-12-31 west of UTC were 500s.
    world = cats
    case = submit(world.a)
    code = world.a.community.code

    def get(query: str):
        return client.get(f"{BASE}/requests.{fmt}?jurisdiction_id={code}&{query}")

    def refs(query: str) -> set:
        r = get(query)
        assert r.status_code == 200, (query, r.get_data(as_text=True)[:200])
        if fmt == "xml":
            return {
                e.findtext("service_request_id") for e in ET.fromstring(r.data).findall("request")
            }
        return {item["service_request_id"] for item in r.get_json()}

    past = (
        "0001-01-01",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00%2B14:00",
        "0001-01-01T00:00:00-14:00",
    )
    future = (
        "9999-12-31",
        "9999-12-31T23:59:59%2B14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999999Z",
    )
    for date in past:  # since the beginning of time: everything
        assert refs(f"start_date={date}") == {case.reference}
        assert refs(f"end_date={date}") == set()
        for end in future:
            assert refs(f"start_date={date}&end_date={end}") == {case.reference}
    for date in future:  # from the end of time: nothing
        assert refs(f"start_date={date}") == set()
        assert refs(f"end_date={date}") == set()  # the 90 days before it
    assert refs(f"start_date={future[0]}&end_date={future[2]}") == set()
    for junk in (
        "garbage",
        "%ED%A0%80",
        "%ED%A0%80%ED%B0%80",
        "%00",
        "2026-01-01T00:00:00%00",
        "%EF%BF%BD",
        "+002026-01-01",
        "2026-01-01T00:00:00%2B99:00",
        "9" * 41,
        "%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01-01",
    ):
        for name in ("start_date", "end_date"):
            _errors(get(f"{name}={junk}"), 400, fmt)
    # Text the database cannot take is refused in GeoReport terms too.
    _errors(get("service_code=repair%00"), 400, fmt)
    _errors(client.get(f"{BASE}/requests.{fmt}?jurisdiction_id=%00"), 400, fmt)
    _errors(client.get(f"{BASE}/tokens/x%00.{fmt}?jurisdiction_id={code}"), 400, fmt)
    for junk in ("%ED%A0%80", "%EF%BF%BD"):
        _errors(client.get(f"{BASE}/requests.{fmt}?jurisdiction_id={junk}"), 404, fmt)
        assert refs(f"service_code={junk}") == set()


# --- GeoReport v2 fidelity (issue #13): what a client posts, it reads back ------------------


def _created(response, fmt):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    if fmt == "xml":
        return ET.fromstring(response.data).find("request").findtext("service_request_id")
    return response.get_json()[0]["service_request_id"]


def _one(client, world, reference, fmt, api_key=None):
    """GET requests/{id} as a dict of strings-or-values (XML: text, empty element → None)."""
    q = {"jurisdiction_id": world.a.community.code}
    if api_key:
        q["api_key"] = api_key
    r = client.get(f"{BASE}/requests/{reference}.{fmt}", query_string=q)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    if fmt == "json":
        [item] = r.get_json()
        return item, r.get_data(as_text=True)
    request = ET.fromstring(r.data).find("request")
    return {e.tag: e.text for e in request}, r.get_data(as_text=True)


def _listed(client, world, reference, fmt, api_key=None):
    q = {"jurisdiction_id": world.a.community.code}
    if api_key:
        q["api_key"] = api_key
    r = client.get(f"{BASE}/requests.{fmt}", query_string=q)
    assert r.status_code == 200
    if fmt == "json":
        return next(i for i in r.get_json() if i["service_request_id"] == reference)
    return next(
        {e.tag: e.text for e in item}
        for item in ET.fromstring(r.data).findall("request")
        if item.findtext("service_request_id") == reference
    )


@pytest.fixture()
def other_key(cats):
    plain, _row = open311.issue_key(actor(cats.a.staff), cats.a.community.id, "区网格化平台")
    db.session.commit()
    return plain


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_description_is_optional(client, cats, key, fmt):
    # service_code, a location and the category's attributes are a whole GeoReport request.
    r = client.post(f"{BASE}/requests.{fmt}", data=_form(cats, key, description=None))
    reference = _created(r, fmt)
    case = db.session.query(Case).filter_by(reference=reference).one()
    assert case.description == "" and case.attributes == {"place": "public"}
    item, _text = _one(client, cats, reference, fmt, api_key=key)
    assert item["description"] is None and item["service_code"] == "repair"
    # A blank description is no description either.
    _created(client.post(f"{BASE}/requests.{fmt}", data=_form(cats, key, description="  ")), fmt)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_posting_client_reads_its_own_words_back_nobody_else_does(
    client, cats, key, other_key, fmt
):
    world = cats
    description = "3 单元门口路灯不亮，晚上看不见台阶"
    address = "和平里 3 号楼 3 单元门口"
    link = "https://partner.example/photos/5501.jpg"
    r = client.post(
        f"{BASE}/requests.{fmt}",
        data=_form(
            world,
            key,
            description=description,
            lat=None,
            long=None,
            address_string=address,
            media_url=link,
        ),
    )
    reference = _created(r, fmt)
    precise = _created(
        client.post(
            f"{BASE}/requests.{fmt}", data=_form(world, key, lat="39.904212", long="116.407413")
        ),
        fmt,
    )
    case = db.session.query(Case).filter_by(reference=reference).one()
    assert case.address == address and case.description == description

    # The client that posted it (same api_key): its description, address_string, 6 decimals.
    own, _text = _one(client, world, reference, fmt, api_key=key)
    assert own["description"] == description and own["address"] == address
    assert own["media_url"] == link  # the link it sent, its own words too
    listed = _listed(client, world, reference, fmt, api_key=key)
    assert listed["description"] == description and listed["address"] == address
    own, _text = _one(client, world, precise, fmt, api_key=key)
    assert float(own["lat"]) == 39.904212 and float(own["long"]) == 116.407413
    assert _listed(client, world, precise, fmt, api_key=key)["lat"] in (39.904212, "39.904212")

    # Everybody else (no key, another partner's key): the public view, as the case API's.
    for api_key in (None, other_key):
        item, text = _one(client, world, reference, fmt, api_key=api_key)
        assert item["description"] is None and item["address"] is None
        assert item["media_url"] is None and "partner.example" not in text
        assert "路灯" not in text and "3 单元" not in text
        assert _listed(client, world, reference, fmt, api_key=api_key)["description"] is None
        item, _text = _one(client, world, precise, fmt, api_key=api_key)
        assert float(item["lat"]) == 39.904 and float(item["long"]) == 116.407


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_email_and_names_are_the_contact_for_replies_never_published(client, cats, key, auth, fmt):
    world = cats
    # Repairs need a contact: an e-mail address alone is one.
    r = client.post(
        f"{BASE}/requests.{fmt}",
        data=_form(
            world, key, first_name=None, last_name=None, phone=None, email=" Xiaoming@Example.CN "
        ),
    )
    reference = _created(r, fmt)
    case = db.session.query(Case).filter_by(reference=reference).one()
    assert case.contact_email == "Xiaoming@example.cn" and not case.anonymous
    full = _created(
        client.post(
            f"{BASE}/requests.{fmt}",
            data=_form(world, key, email="wang@example.cn", phone="+86 139-0000-3333"),
        ),
        fmt,
    )
    case = db.session.query(Case).filter_by(reference=full).one()
    assert (case.contact_name, case.contact_phone, case.contact_email) == (
        "晓明 王",
        "13900003333",
        "wang@example.cn",
    )
    # The committee reads it as the contact to reply to …
    view = client.get(f"/api/v1/cases/{case.id}", headers=auth.headers(world.a.staff)).get_json()
    assert view["reporter"]["email"] == "wang@example.cn"
    assert view["reporter"]["phone"] == "13900003333" and view["reporter"]["self_declared"]
    # … also in the staff console's case page.
    from tests.pages import staff_login

    staff_login(client, world.a.staff)
    page = client.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "wang@example.cn" in page and "13900003333" in page
    # … nobody reads it through Open311, not even the client that sent it.
    for api_key in (None, key):
        for ref in (reference, full):
            _item, text = _one(client, world, ref, fmt, api_key=api_key)
            assert "example.cn" not in text.lower() and "3333" not in text and "晓明" not in text
    for bad in ("not-an-address", "a@b", "王@例子.中国", "x@example.cn\x00", "a" * 65 + "@ex.cn"):
        _errors(client.post(f"{BASE}/requests.{fmt}", data=_form(world, key, email=bad)), 400, fmt)
    assert db.session.query(Case).count() == 2


def _media_form(world, key, data, name="photo.jpg", mime="image/jpeg", **extra):
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    fields = {
        **_form(world, key, **extra),
        "media": FileStorage(io.BytesIO(data), name, content_type=mime),
    }
    boundary, body = encode_multipart(fields)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_media_upload_is_the_requests_photo(app, client, cats, key, auth, fmt):
    from pathlib import Path

    from app.models.case import CaseAttachment
    from tests.affairs.conftest import gps_exif, image_bytes

    world = cats
    folder = Path(app.config["UPLOAD_FOLDER"]) / "cases"
    before = set(folder.iterdir()) if folder.exists() else set()
    r = client.post(
        f"{BASE}/requests.{fmt}",
        **_media_form(world, key, image_bytes(exif=gps_exif()), name="IMG_0001.JPG"),
    )
    reference = _created(r, fmt)
    case = db.session.query(Case).filter_by(reference=reference).one()
    [photo] = case.attachments
    assert photo.kind == "photo" and photo.mime == "image/jpeg" and not photo.public
    assert photo.uploader_role == "open311" and photo.uploaded_by_id is None
    stored = (folder / photo.storage_name).read_bytes()
    assert b"Exif" not in stored  # cleaned like every upload: no GPS position on disk
    # Private until staff publish it, like every case photo: no media_url for anyone yet.
    for api_key in (None, key):
        assert _one(client, world, reference, fmt, api_key=api_key)[0]["media_url"] is None
    staff = auth.headers(world.a.staff)
    r = client.patch(
        f"/api/v1/cases/{case.id}/attachments/{photo.id}", headers=staff, json={"public": True}
    )
    assert r.status_code == 200
    item, _text = _one(client, world, reference, fmt)
    assert item["media_url"].startswith(f"http://localhost{BASE}/media/{reference}/")
    got = client.get(item["media_url"], buffered=True)
    assert got.status_code == 200 and got.mimetype == "image/jpeg" and got.data == stored

    # Bad, oversize and mislabelled files: a GeoReport 400, and nothing stored half-way.
    from tests.affairs.test_image_bombs import rgb_png

    cases_before = db.session.query(Case).count()
    files_before = set(folder.iterdir())
    refused = [
        _media_form(world, key, b"GIF89a not a photo at all", name="p.jpg"),
        _media_form(
            world, key, b"<svg xmlns='http://www.w3.org/2000/svg'/>", name="p.png", mime="image/png"
        ),
        _media_form(world, key, image_bytes()[:60], name="cut.jpg"),  # truncated
        _media_form(
            world, key, rgb_png(6300, 6300, declared_only=True), name="bomb.png", mime="image/png"
        ),
        _media_form(world, key, b"RIFF\x24\x00\x00\x00WAVEfmt ", name="voice.jpg"),
        _media_form(world, key, b"", name="empty.jpg"),
    ]
    app.config["CASE_PHOTO_MAX_BYTES"] = 2000
    try:
        refused.append(_media_form(world, key, image_bytes(size=(400, 300)), name="big.jpg"))
        for form in refused:
            _errors(client.post(f"{BASE}/requests.{fmt}", **form), 400, fmt)
    finally:
        app.config["CASE_PHOTO_MAX_BYTES"] = 8 * 1024 * 1024
    assert db.session.query(Case).count() == cases_before
    assert db.session.query(CaseAttachment).count() == 1
    assert set(folder.iterdir()) == files_before and before <= files_before


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_json_body_is_told_to_use_a_form(client, cats, key, fmt):
    body = _form(cats, key)
    r = client.post(f"{BASE}/requests.{fmt}", json=body)
    assert "x-www-form-urlencoded" in _errors(r, 400, fmt)
    r = client.post(
        f"{BASE}/requests.{fmt}?api_key={key}", data=b"<request/>", content_type="text/xml"
    )
    assert "x-www-form-urlencoded" in _errors(r, 400, fmt)
    assert db.session.query(Case).count() == 0


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_names_the_public_address_a_contact_and_how_to_get_a_key(app, client, fmt):
    def discovery(**kwargs):
        r = client.get(f"{BASE}/discovery.{fmt}", **kwargs)
        assert r.status_code == 200
        if fmt == "json":
            body = r.get_json()
            return body, body["endpoints"][0]
        root = ET.fromstring(r.data)
        assert root.tag == "discovery"
        endpoint = root.find("endpoints/endpoint")
        body = {e.tag: e.text for e in root}
        return body, {
            "url": endpoint.findtext("url"),
            "formats": [f.text for f in endpoint.find("formats")],
        }

    # Unset PUBLIC_BASE_URL: the host the client asked (never a made-up 127.0.0.1:8000).
    body, endpoint = discovery(base_url="http://linli.test:8080")
    assert endpoint["url"] == "http://linli.test:8080/open311/v2/"
    assert body["contact"] and body["key_service"]
    assert "http://linli.test:8080/staff/open311-keys" in body["key_service"]
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    app.config.update(PUBLIC_BASE_URL="https://linli.example.cn/", OPEN311_CONTACT="居委会 12345")
    try:
        body, endpoint = discovery(base_url="http://127.0.0.1:5000")
        assert endpoint["url"] == "https://linli.example.cn/open311/v2/"
        assert body["contact"] == "居委会 12345"
        assert "https://linli.example.cn/staff/open311-keys" in body["key_service"]
    finally:
        app.config.update(PUBLIC_BASE_URL=None, OPEN311_CONTACT=None)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_posting_client_follows_its_request_in_a_private_category(
    client, cats, key, other_key, fmt
):
    # Neighbour disputes are not public: nobody else lists or reads them, but the client that
    # posted one follows it (as a resident follows their own case).
    world = cats
    reference = _created(
        client.post(
            f"{BASE}/requests.{fmt}",
            data=_form(
                world,
                key,
                service_code="dispute",
                description="楼上每晚十二点后还在装修",
                **{"attribute[place]": None},
            ),
        ),
        fmt,
    )
    own, _text = _one(client, world, reference, fmt, api_key=key)
    assert own["description"] == "楼上每晚十二点后还在装修" and own["status"] == "open"
    assert _listed(client, world, reference, fmt, api_key=key)["service_code"] == "dispute"
    q = {"jurisdiction_id": world.a.community.code}
    for api_key in (None, other_key):
        extra = {"api_key": api_key} if api_key else {}
        _errors(
            client.get(f"{BASE}/requests/{reference}.{fmt}", query_string={**q, **extra}), 404, fmt
        )
        listed = client.get(f"{BASE}/requests.{fmt}", query_string={**q, **extra})
        assert reference not in listed.get_data(as_text=True)
