"""Extensions are created here, unbound, and bound to the app in create_app()."""
from flask import session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def select_locale():
    from flask import has_request_context
    from flask_login import current_user

    if not has_request_context():
        return "en"  # operator CLI; jobs acting for a user wrap their work in force_locale(user.language)
    languages = ("zh_CN", "en")
    if getattr(current_user, "is_authenticated", False) and current_user.language in languages:
        return current_user.language
    if session.get("lang") in languages:
        return session["lang"]
    return "zh_CN"


def select_timezone():
    from app.tenancy import current_tenant

    tenant = current_tenant()
    return tenant.timezone if tenant else "Asia/Shanghai"


babel = Babel()


def redis_connection_options(config) -> dict:
    """Connection settings for every Redis client: a dead or hung Redis costs a request at most about a second."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = config.get("REDIS_TIMEOUT_SECONDS", 0.5)
    # One immediate retry reconnects a pooled connection that a restarted Redis closed; more would only
    # multiply the wait while Redis is really gone.
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 1)}


def redis_client():
    """The shared Redis connection, or None in the embedded (no Redis) setup; callers must survive RedisError."""
    from flask import current_app

    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("redis_client")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, **redis_connection_options(current_app.config))
        current_app.extensions["redis_client"] = client
    return client


def redis_reachable() -> bool | None:
    """Ping Redis: None when none is configured; logs once when it becomes unreachable and once when it is back."""
    import logging

    import redis
    from flask import current_app

    client = redis_client()
    if client is None:
        return None
    try:
        reachable = bool(client.ping())
        error = None
    except redis.RedisError as e:
        reachable, error = False, e
    was_reachable = current_app.extensions.get("redis_reachable", True)
    if reachable != was_reachable:
        log = logging.getLogger("clientcard.redis")
        if reachable:
            log.info("Redis is reachable again")
        else:
            log.warning("Redis is unreachable (%s); carrying on without it", error)
        current_app.extensions["redis_reachable"] = reachable
    return reachable
