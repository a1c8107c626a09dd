"""Billing: Stripe plans, seats, invoices and the plan limits (off without STRIPE_SECRET_KEY)."""
from flask import Blueprint

bp = Blueprint("billing", __name__, url_prefix="/billing")
