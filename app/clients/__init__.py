"""Client cards: list, search, card page, edit, history, view log, duplicates, hand-over."""
from flask import Blueprint

bp = Blueprint("clients", __name__, url_prefix="/clients")

from app.clients import routes  # noqa: E402,F401
from app.clients import card_routes  # noqa: E402,F401
