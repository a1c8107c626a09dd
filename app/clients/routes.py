from app.clients import bp  # noqa: F401
from flask import abort


@bp.route("/")
def index():  # replaced by the client list
    abort(404)


@bp.route("/new")
def new():
    abort(404)


@bp.route("/<int:client_id>")
def show(client_id):
    abort(404)
