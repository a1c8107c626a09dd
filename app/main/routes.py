from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from app.clients.services import home_summary
from app.extensions import db, redis_client
from app.web import local_path
from app.main import bp


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    return redirect(url_for("auth.login"))


@bp.route("/home")
@login_required
def home():
    return render_template("main/home.html", summary=home_summary(current_user))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code):
    if code not in current_app.config["LANGUAGES"]:
        code = "zh_CN"
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.language = code
        db.session.commit()
    target = request.form.get("next") or request.referrer or url_for("main.index")
    if not target.startswith("/") or target.startswith("//"):
        # referrer is absolute: keep only its path
        from urllib.parse import urlparse

        parts = urlparse(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return redirect(local_path(target) or url_for("main.index"))


@bp.route("/healthz")
def healthz():
    status = {"database": "ok", "redis": "not configured"}
    code = 200
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as e:  # report, don't crash: this is what monitors poll
        status["database"] = f"error: {type(e).__name__}"
        code = 503
    client = redis_client()
    if client is not None:
        try:
            client.ping()
            status["redis"] = "ok"
        except Exception as e:
            status["redis"] = f"error: {type(e).__name__}"
            code = 503
    status["status"] = "ok" if code == 200 else "degraded"
    return jsonify(status), code
