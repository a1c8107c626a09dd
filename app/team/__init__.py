"""Team: colleagues, invites, roles, deactivation and hand-over."""
from flask import Blueprint

bp = Blueprint("team", __name__, url_prefix="/team")

from app.team import routes  # noqa: E402,F401
