"""Accounts: tenants, users, sign-up, sign-in, passwords, API tokens."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.accounts import routes  # noqa: E402,F401
