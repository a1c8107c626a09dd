"""Team: colleagues, invites, roles, deactivation and hand-over."""
from flask import Blueprint

bp = Blueprint("team", __name__, url_prefix="/team")

