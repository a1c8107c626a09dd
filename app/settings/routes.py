from app.settings import bp  # noqa: F401


@bp.route("/")
def index():  # replaced by the settings pages
    from flask import abort
    abort(404)
