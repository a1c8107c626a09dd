"""Accounts: tenants, users, sign-up, sign-in, passwords, API tokens."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

