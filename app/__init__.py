"""ClientCard application factory."""
from __future__ import annotations

import importlib
import logging

from flask import Flask

from app.config import Config, dev_secret_key
from app.extensions import (babel, csrf, db, htmx as htmx_ext, limiter, login_manager, migrate,
                            redis_connection_options, select_locale, select_timezone)


def create_app(config: type | None = None, **overrides) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static", instance_relative_config=True)
    app.config.from_object(config or Config)
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        if app.config.get("ENV_PRODUCTION"):
            raise RuntimeError("SECRET_KEY must be set in production")
        app.config["SECRET_KEY"] = dev_secret_key()
    logging.basicConfig(level=logging.INFO)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(__import__("pathlib").Path(__file__).parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx_ext.init_app(app)  # not `htmx`: importing the app.htmx module rebinds that package attribute
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://", "unix://")):
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", redis_connection_options(app.config))
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(__import__("pathlib").Path(__file__).parent / "translations"))

    from app import tenancy
    from app.accounts import models as _accounts  # noqa: F401  (register models)
    from app.card_templates import models as _templates  # noqa: F401
    from app.clients import models as _clients  # noqa: F401
    from app.billing import models as _billing  # noqa: F401
    from app.followups import models as _followups  # noqa: F401
    from app.sharing import models as _sharing  # noqa: F401
    from app import jobs
    from app.imports import models as _imports  # noqa: F401

    tenancy.install()

    from app import web
    web.init_app(app)
    app.url_map.converters["int"] = web.DatabaseIdConverter

    # Blueprint packages define only `bp`; their routes are imported here, once everything they use is importable
    # (a domain imports another's services at the top of a module, never inside a function to dodge a cycle).
    for module in ("accounts.routes", "api.routes", "api.billing", "api.followups", "api.imports", "api.sharing",
                   "billing.routes", "card_templates.routes", "clients.routes", "clients.card_routes",
                   "followups.routes", "imports.routes", "main.routes", "settings.routes", "sharing.routes",
                   "team.routes"):
        importlib.import_module(f"app.{module}")
    from app.accounts import bp as auth_bp
    from app.api import bp as api_bp
    from app.billing import bp as billing_bp
    from app.card_templates import bp as templates_bp
    from app.clients import bp as clients_bp
    from app.followups import bp as followups_bp
    from app.imports import bp as imports_bp
    from app.main import bp as main_bp
    from app.settings import bp as settings_bp
    from app.team import bp as team_bp
    from app.sharing import bp as sharing_bp

    for bp in (main_bp, auth_bp, team_bp, settings_bp, templates_bp, clients_bp, followups_bp, sharing_bp,
               imports_bp, jobs.bp, api_bp, billing_bp):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies

    from app import cli
    cli.init_app(app)
    jobs.init_cli(app)
    return app
