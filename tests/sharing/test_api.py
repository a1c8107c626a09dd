"""API v1: the card PDF (confidential fields only on request, logged), the brief as JSON, share links made, listed
and revoked (after which the URL answers 410)."""
from __future__ import annotations

from tests.api.conftest import Api, make_token
from tests.sharing.conftest import SECRET_HOME, pdf_text


def test_pdf_over_the_api(card, app):
    owner = Api(app.test_client(), make_token(card.bundle.owner))
    viewer = Api(app.test_client(), make_token(card.viewer))
    r = owner.get(f"/clients/{card.client_id}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "上海华光科技有限公司" in pdf_text(r.data) and SECRET_HOME not in pdf_text(r.data)
    r = owner.get(f"/clients/{card.client_id}/pdf?include_sensitive=1")
    assert r.status_code == 422 and r.mimetype == "application/problem+json" and "reason" in r.get_json()["errors"]
    r = owner.get(f"/clients/{card.client_id}/pdf?include_sensitive=1&reason=合同审查")
    assert SECRET_HOME in pdf_text(r.data)
    views = owner.get(f"/clients/{card.client_id}/views").get_json()["items"]
    assert any(v["kind"] == "sensitive" and "合同审查" in v["reason"] for v in views)
    r = viewer.get(f"/clients/{card.client_id}/pdf?include_sensitive=1&reason=x")
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert owner.get("/clients/987654/pdf").status_code == 404


def test_brief_over_the_api(card, app):
    viewer = Api(app.test_client(), make_token(card.viewer))
    r = viewer.get(f"/clients/{card.client_id}/brief")
    assert r.status_code == 200
    data = r.get_json()
    keys = {f["key"] for s in data["sections"] for f in s["fields"]}
    assert {"main_products", "pic_name", "credit_limit"} <= keys
    assert not keys & {"pic_home_address", "legal_rep_home_address", "supervising_body", "address"}
    credit = next(f for s in data["sections"] for f in s["fields"] if f["key"] == "credit_limit")
    assert credit["value"] == 800000 and "800,000" in credit["display"]


def test_share_links_over_the_api(card, app):
    member = Api(app.test_client(), make_token(card.member))
    owner = Api(app.test_client(), make_token(card.bundle.owner))
    viewer = Api(app.test_client(), make_token(card.viewer))
    r = member.post(f"/clients/{card.client_id}/share-links", json={"expires_in_days": 30, "label": "物流部"})
    assert r.status_code == 201
    link = r.get_json()
    assert set(link) >= {"id", "url", "expires_at"} and "/s/" in link["url"]
    path = link["url"].split("localhost", 1)[-1]
    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    assert [x["id"] for x in member.get("/share-links").get_json()["items"]] == [link["id"]]
    assert "url" not in member.get("/share-links").get_json()["items"][0]  # the token is not kept
    assert [x["id"] for x in owner.get("/share-links").get_json()["items"]] == [link["id"]]  # admins see all
    assert viewer.get("/share-links").get_json()["items"] == []
    assert viewer.delete(f"/share-links/{link['id']}").status_code == 404
    assert viewer.post(f"/clients/{card.client_id}/share-links", json={}).status_code == 403
    assert member.delete(f"/share-links/{link['id']}").status_code == 204
    assert visitor.get(path).status_code == 410
    assert member.get("/share-links").get_json()["items"] == []


def test_share_link_input_errors(card, app):
    member = Api(app.test_client(), make_token(card.member))
    for body, field in (({"expires_in_days": 0}, "expires_in_days"), ({"expires_in_days": "7"}, "expires_in_days"),
                        ({"expires_on": "2020-01-01"}, "expires_on"), ({"expires_on": "soon"}, "expires_on"),
                        ({"access_code": "1"}, "access_code"), ({"colour": "red"}, "colour"),
                        ({"expires_in_days": 3, "expires_on": "2099-01-01"}, "expires_on")):
        r = member.post(f"/clients/{card.client_id}/share-links", json=body)
        assert r.status_code == 422, body
        assert field in r.get_json()["errors"], (body, r.get_json())
    assert member.get("/share-links").get_json()["items"] == []
