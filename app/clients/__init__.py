"""Client cards: list, search, card page, edit, history, view log, duplicates, hand-over."""
from flask import Blueprint

bp = Blueprint("clients", __name__, url_prefix="/clients")

