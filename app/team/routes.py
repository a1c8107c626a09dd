from app.team import bp  # noqa: F401


@bp.route("/")
def index():  # replaced by the team pages
    from flask import abort
    abort(404)
