"""The Stripe webhook: signatures verified (300 s tolerance), each event applied once, out-of-order and replayed
deliveries ending in the same state, and the whole life of a subscription driven by signed events."""
from __future__ import annotations

import json
import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.billing.models import BillingAccount, BillingEvent
from app.extensions import db as _db
from app.tenancy import tenant_context
from tests import factories
from tests.billing.conftest import WEBHOOK_SECRET, Events, billing_state, link_customer, post_event, sign

DAY = 86400


def _events_stored() -> int:
    return _db.session.execute(select(func.count()).select_from(BillingEvent)).scalar_one()


@pytest.fixture()
def paying(billing_on, tenant_a):
    link_customer(tenant_a.id, "cus_a")
    return Events(tenant_a.id, "cus_a")


def test_a_valid_signature_is_applied(client, paying, tenant_a):
    r = post_event(client, paying.checkout_completed(int(time.time())))
    assert r.status_code == 200 and r.get_json()["outcome"] == "applied"
    assert billing_state(tenant_a.id)["plan"] == "team"


@pytest.mark.parametrize("case", ["missing", "malformed", "foreign", "stale", "reserialized", "future_garbage",
                                  "not_json"])
def test_bad_signatures_answer_400_and_change_nothing(client, paying, tenant_a, case):
    event = paying.checkout_completed(int(time.time()))
    payload = json.dumps(event, ensure_ascii=False)
    kw = {}
    if case == "missing":
        kw["signature"] = ""
    elif case == "malformed":
        kw["signature"] = "v1=deadbeef,t=notanumber"
    elif case == "foreign":
        kw["secret"] = "whsec_someone_else"
    elif case == "stale":
        kw["at"] = int(time.time()) - 301  # just outside Stripe's 300 s tolerance
    elif case == "reserialized":
        # Signed as sent, then re-serialized on the way (same JSON content, other bytes).
        kw["signature"] = sign(payload)
        kw["payload"] = json.dumps(event, ensure_ascii=True, indent=1)
    elif case == "future_garbage":
        kw["signature"] = sign(payload) + ",v1=" + "0" * 64
        kw["payload"] = payload + " "
    elif case == "not_json":
        kw["payload"] = "not json at all"
    before = billing_state(tenant_a.id)
    r = post_event(client, event, **kw)
    assert r.status_code == 400
    assert _events_stored() == 0
    assert billing_state(tenant_a.id) == before and before["plan"] == "free"


def test_within_tolerance_is_accepted(client, paying, tenant_a):
    r = post_event(client, paying.checkout_completed(int(time.time())), at=int(time.time()) - 250)
    assert r.status_code == 200


def test_webhook_is_csrf_exempt_and_needs_no_sign_in(app, paying, tenant_a):
    c = app.test_client()  # no session, no CSRF token
    assert post_event(c, paying.checkout_completed(int(time.time()))).status_code == 200


def test_a_replayed_event_is_a_no_op(client, paying, tenant_a):
    now = int(time.time())
    paid = paying.checkout_completed(now - 10)
    post_event(client, paid)
    post_event(client, paying.subscription("deleted", now))
    assert billing_state(tenant_a.id)["plan"] == "free"
    r = post_event(client, paid)  # the old "paid" event again: must not bring the plan back
    assert r.get_json()["outcome"] == "duplicate"
    assert billing_state(tenant_a.id)["plan"] == "free"
    assert _events_stored() == 2


def test_unknown_event_types_and_tenants_are_acknowledged_and_ignored(client, billing_on, tenant_a):
    stranger = Events(999999, "cus_nobody")
    r = post_event(client, stranger.subscription("updated", int(time.time())))
    assert r.status_code == 200 and r.get_json()["outcome"] == "ignored"
    r = post_event(client, {"id": "evt_other", "type": "charge.refunded", "created": 1, "data": {"object": {}}})
    assert r.status_code == 200 and r.get_json()["outcome"] == "ignored"
    assert billing_state(tenant_a.id)["plan"] == "free"


def lifecycle(ev: Events, now: int) -> list[list[dict]]:
    """Upgrade → payment failure → (grace → read-only) → recovery → cancellation, as phases of events."""
    start = now - 60 * DAY
    failed = now - 20 * DAY  # more than 14 days ago: the grace period is over
    return [
        [ev.checkout_completed(start, seats=5), ev.subscription("created", start + 1, seats=5),
         ev.invoice("paid", start + 2)],
        [ev.invoice("payment_failed", failed), ev.subscription("updated", failed + 1, status="past_due")],
        # Stripe retries the failed invoice and it is paid (the same invoice id).
        [ev.invoice("paid", now - 3600, invoice_id=f"in_{ev.tenant_id}_{failed}"), ev.subscription("updated", now - 3599, status="active", seats=6)],
        [ev.subscription("updated", now - 600, status="active", seats=6, cancel=True),
         ev.subscription("deleted", now - 60, status="canceled", seats=6)],
    ]


def test_lifecycle_end_to_end(client, login, paying, tenant_a, monkeypatch):
    """The whole life through signed webhooks, with what a user sees at each step."""
    import app.billing.services as services

    now = int(time.time())
    phases = lifecycle(paying, now)
    owner = login(tenant_a.owner)

    for e in phases[0]:
        assert post_event(client, e).status_code == 200
    s = billing_state(tenant_a.id)
    assert (s["plan"], s["seats"], s["status"], s["grace"], s["clients_limit"]) == ("team", 5, "active", "", None)
    assert "data-testid=\"billing-banner\"" not in owner.get("/home").get_data(as_text=True)

    # A payment fails: the grace period starts at the failure, 14 days, with a banner; writes still work then.
    for e in phases[1]:
        post_event(client, e)
    s = billing_state(tenant_a.id)
    assert s["status"] == "past_due" and s["plan"] == "team"
    failed_at = services._ts(now - 20 * DAY)
    assert s["grace_until"] == failed_at + timedelta(days=14)
    monkeypatch.setattr(services, "utcnow", lambda: failed_at + timedelta(days=3))
    page = owner.get("/home").get_data(as_text=True)
    assert "billing-banner" in page and "/billing/" in page
    assert owner.post("/clients/", data={"name": "宽限期内的客户", "allow_duplicate": "1",
                                         "f.business_phone": "021-55881234", "f.industry": "服装"}).status_code == 302

    # ... and after 14 days the tenant is read-only: reads and export open, every write refused.
    monkeypatch.setattr(services, "utcnow", lambda: failed_at + timedelta(days=14, seconds=1))
    assert billing_state(tenant_a.id)["grace"] == "read_only"
    r = owner.post("/clients/", data={"name": "只读时的客户", "allow_duplicate": "1"})
    assert r.status_code == 403 and 'data-status="403"' in r.get_data(as_text=True)
    assert "read-only" in r.get_data(as_text=True).lower() or "只读" in r.get_data(as_text=True)
    assert owner.get("/clients/").status_code == 200
    assert owner.get("/template/export").status_code == 200
    monkeypatch.undo()

    # The payment is fixed: writes again, no banner.
    for e in phases[2]:
        post_event(client, e)
    s = billing_state(tenant_a.id)
    assert (s["plan"], s["status"], s["grace"], s["seats"]) == ("team", "active", "", 6)
    assert s["invoices"] == [("paid", 29900), ("paid", 29900)]  # the failed invoice was paid on retry

    # Cancelled: back to Free, nothing deleted.
    for e in phases[3]:
        post_event(client, e)
    s = billing_state(tenant_a.id)
    assert (s["plan"], s["status"], s["clients_limit"], s["subscription"]) == ("free", "canceled", 200, False)
    with tenant_context(tenant_a.id):
        from app.clients.models import Client

        assert _db.session.execute(select(func.count(Client.id))).scalar_one() == 1


@pytest.mark.parametrize("phase_count", [1, 2, 3, 4])
def test_replayed_twice_or_shuffled_ends_in_the_same_state(client, billing_on, phase_count):
    """Every prefix of the life: delivered in order, every event twice, and in several shuffled orders."""
    now = int(time.time())
    results = []
    for n, order in enumerate(["in_order", "twice", "shuffled1", "shuffled2", "shuffled3", "reversed"]):
        bundle = factories.tenant(f"顺序公司{n}", f"owner{n}@order.example")
        link_customer(bundle.id, f"cus_order{n}")
        ev = Events(bundle.id, f"cus_order{n}", prefix=f"evt{phase_count}")
        events = [e for phase in lifecycle(ev, now)[:phase_count] for e in phase]
        if order == "twice":
            events = events + events
        elif order.startswith("shuffled"):
            random.Random(order).shuffle(events)
        elif order == "reversed":
            events = events[::-1]
        for e in events:
            assert post_event(client, e).status_code == 200
        results.append((order, billing_state(bundle.id)))
    first = results[0][1]
    for order, state in results[1:]:
        assert state == first, f"{order} differs from in-order delivery"


def test_grace_starts_at_the_first_failure_even_if_it_arrives_last(client, paying, tenant_a):
    now = int(time.time())
    post_event(client, paying.checkout_completed(now - 30 * DAY))
    post_event(client, paying.subscription("updated", now - 5 * DAY, status="past_due"))
    post_event(client, paying.invoice("payment_failed", now - 6 * DAY))  # older, arrives later
    s = billing_state(tenant_a.id)
    with tenant_context(tenant_a.id):
        acct = _db.session.execute(select(BillingAccount)).scalar_one()
        assert int(acct.past_due_since.timestamp()) == now - 6 * DAY
    assert s["grace"] == "grace"


def test_events_before_the_customer_is_known_are_kept_for_the_tenant(client, billing_on, tenant_a):
    """A subscription event naming only our metadata arrives before anything else: it still counts."""
    now = int(time.time())
    ev = Events(tenant_a.id, "cus_late")
    assert post_event(client, ev.subscription("created", now - 10, seats=3)).get_json()["outcome"] == "applied"
    assert billing_state(tenant_a.id)["seats"] == 3
    with tenant_context(tenant_a.id):
        assert _db.session.execute(select(BillingAccount.stripe_customer_id)).scalar_one() == "cus_late"


def test_a_year_paid_once_is_team_for_a_year(client, paying, tenant_a):
    now = int(time.time())
    post_event(client, paying.checkout_completed(now, seats=4, interval="once", mode="payment"))
    s = billing_state(tenant_a.id)
    assert (s["plan"], s["interval"], s["seats"], s["status"]) == ("team", "once", 4, "paid")
    assert s["renews_at"] is not None


def test_webhook_is_404_when_billing_is_off(client, db):
    r = client.post("/billing/webhook", data=b"{}", headers={"Stripe-Signature": sign("{}", WEBHOOK_SECRET)})
    assert r.status_code == 404
