"""Company settings: stages, client numbers, visibility, sensitive-field policy."""
from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

