from flask import current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from app.clients.services import home_summary
from app.extensions import db, redis_reachable
from app.followups.today import today_context
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
    return render_template("main/home.html", summary=home_summary(current_user), **today_context(current_user))


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
    # Monitors poll this: report, never crash. Without the database nothing works (503); without Redis the
    # site works on per-process rate limits, so it is only degraded (200).
    status = {"database": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as e:
        db.session.rollback()
        status["database"] = f"error: {type(e).__name__}"
    reachable = redis_reachable()
    status["redis"] = {None: "not configured", True: "ok", False: "unreachable"}[reachable]
    healthy = status["database"] == "ok" and reachable is not False
    status["status"] = "ok" if healthy else "degraded"
    return jsonify(status), (200 if status["database"] == "ok" else 503)
