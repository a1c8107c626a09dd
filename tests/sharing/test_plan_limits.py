"""The plan's share_days limit (app.clients.access.check_limit, filled in by billing): a Free company's links last
at most FREE_MAX_SHARE_DAYS; a longer one is refused next to the field (page) or as a problem (API)."""
from __future__ import annotations

from tests.api.conftest import Api, make_token
from tests.billing.conftest import billing_on, fake_stripe  # noqa: F401  (fixtures)


def test_free_plan_links_are_short(card, login, app, billing_on):  # noqa: F811
    member = login(card.member)
    r = member.post(f"/clients/{card.client_id}/share", data={"expires": "30"})
    assert r.status_code == 422 and "has-error" in r.get_data(as_text=True)
    assert member.post(f"/clients/{card.client_id}/share", data={"expires": "7"}).status_code == 201
    api = Api(app.test_client(), make_token(card.member))
    r = api.post(f"/clients/{card.client_id}/share-links", json={"expires_in_days": 30})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert api.post(f"/clients/{card.client_id}/share-links", json={"expires_in_days": 1}).status_code == 201
