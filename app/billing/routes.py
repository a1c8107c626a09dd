"""Billing pages (owners and admins), the Stripe webhook, and the plan hooks that access.py asks."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.billing import bp
from app.billing import services as billing
from app.clients.access import LimitReached, ReadOnlyTenant, check_writable
from app.extensions import csrf, db
from app.tenancy import current_tenant
from app.web import admin_required


@bp.record_once
def _register_hooks(state):
    # access.check_limit and access.tenant_read_only ask these (only when STRIPE_SECRET_KEY is set).
    state.app.extensions["plan_limits"] = billing.plan_limits
    state.app.extensions["plan_read_only"] = billing.read_only


@bp.before_app_request
def _read_only_guard():
    """Every write request of a read-only tenant is refused here, whatever page or form it comes from (the API
    asks the same check after it signed the token in: app/api/billing.py)."""
    billing.forget_cached()  # an app context reused across requests (tests) must not keep another's plan
    if current_user.is_authenticated:
        check_writable(current_tenant(), request.endpoint, request.method)


@bp.app_context_processor
def _billing_banner():
    """The grace / read-only banner shown on every page of a tenant behind on payment."""
    if not billing.enabled() or not current_user.is_authenticated:
        return {}
    acct = billing.account(current_user.tenant_id)
    state = billing.grace_state(acct)
    return {"billing_banner": {"state": state, "until": acct.grace_until} if state else None}


@bp.before_request
def _billing_off():
    if not billing.enabled():
        abort(404)  # self-hosted: no billing pages, no webhook


@bp.after_request
def _allow_stripe_forms(response):
    # The upgrade and portal forms answer with a redirect to Stripe; browsers apply the page's form-action to it.
    from app.web import CSP

    response.headers.setdefault("Content-Security-Policy", CSP.replace(
        "form-action 'self'", "form-action 'self' https://checkout.stripe.com https://billing.stripe.com"))
    return response


@bp.app_errorhandler(LimitReached)
def _limit_reached(error):
    return _refusal(error, 403)


@bp.app_errorhandler(ReadOnlyTenant)
def _read_only(error):
    return _refusal(error, 403)


def _refusal(error, code):
    """A plan refusal in the page's own format, with the way out (billing) for those who can take it."""
    from app.web import wants_json

    db.session.rollback()
    if request.path.startswith("/api/"):
        return limit_problem(error)
    if wants_json():
        return {"error": _("Not allowed"), "detail": str(error.message)}, code
    template = "errors/_error.html" if request.htmx and not request.htmx.boosted else "errors/error.html"
    ctx = {"code": code, "title": _("Upgrade needed") if isinstance(error, LimitReached) else _("Read-only"),
           "text": str(error.message)}
    if current_user.is_authenticated and current_user.is_admin:
        ctx.update(action_url=url_for("billing.index"), action_text=_("Go to billing"))
    return render_template(template, **ctx), code


def limit_problem(error):
    """problem+json 403 for LimitReached and ReadOnlyTenant; `type` tells them apart, `upgrade_url` leads on."""
    from app.api.problems import problem

    kind = "plan-limit" if isinstance(error, LimitReached) else "read-only"
    extra = {"type": f"{current_app.config['BASE_URL']}/api/v1/problems/{kind}",
             "upgrade_url": url_for("billing.index", _external=True)}
    if isinstance(error, LimitReached):
        extra["resource"] = error.resource
    return problem(403, str(error.message), **extra)


def _page(errors=None, status=200, form=None):
    tenant = current_tenant()
    acct = billing.account(tenant.id)
    info = billing.summary(tenant)
    details = form or {"company_name": acct.company_name if acct else "", "tax_id": acct.tax_id if acct else "",
                       "address": acct.address if acct else ""}
    offers = [i for i in billing.INTERVALS if billing.price_for(i)]
    return render_template("billing/index.html", info=info, acct=acct, invoices=billing.invoices(), errors=errors or {},
                           details=details, offers=offers, checkout=request.args.get("checkout", "")), status


@bp.route("/")
@admin_required
def index():
    return _page()


def _to_stripe(url: str):
    if request.htmx:
        return "", 204, {"HX-Redirect": url}
    return redirect(url, code=303)


@bp.route("/checkout", methods=["POST"])
@admin_required
def checkout():
    """Upgrade: off to Stripe Checkout for the chosen period and seats."""
    interval = request.form.get("interval", "")
    seats = request.form.get("seats", "").strip()
    if not (seats.isdecimal() and len(seats) < 6):
        return _page({"seats": _("Enter the number of seats as a whole number.")}, 422)
    try:
        url = billing.start_checkout(current_tenant(), current_user, interval, int(seats))
    except billing.SeatsInvalid as e:
        return _page({"seats": str(e.message)}, 422)
    except billing.BillingError as e:
        db.session.rollback()
        billing.forget_cached()
        return _page({"checkout": str(e.message)}, 502 if "reach" in str(e.message) else 422)
    db.session.commit()  # the Stripe customer id, so every later webhook finds this tenant
    return _to_stripe(url)


@bp.route("/portal", methods=["POST"])
@admin_required
def portal():
    """Seats, payment method, invoices and cancellation: the Stripe Customer Portal."""
    try:
        url = billing.portal_url(current_tenant(), current_user)
    except billing.BillingError as e:
        return _page({"portal": str(e.message)}, 422)
    return _to_stripe(url)


@bp.route("/details", methods=["POST"])
@admin_required
def details():
    """The company's 发票 details: name, 纳税人识别号, address."""
    form = {k: request.form.get(k, "") for k in ("company_name", "tax_id", "address")}
    errors = billing.save_invoice_details(current_tenant(), **form)
    if errors:
        db.session.rollback()
        billing.forget_cached()
        return _page({k: str(v) for k, v in errors.items()}, 422, form=form)
    db.session.commit()
    flash(_("Invoice details saved."), "success")
    return redirect(url_for("billing.index"))


@bp.route("/webhook", methods=["POST"])
@csrf.exempt
def webhook():
    """Stripe's events: verified, applied once, in the subscription's own order."""
    try:
        event = billing.verify(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    except billing.BadSignature as e:
        current_app.logger.warning("Stripe webhook refused: %s", e)
        return {"error": "invalid signature"}, 400
    outcome = billing.handle_event(event)
    db.session.commit()
    return {"received": True, "outcome": outcome}, 200
