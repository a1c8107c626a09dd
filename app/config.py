"""Configuration from the environment. Nothing secret has a production default."""
import os
import secrets
from pathlib import Path

import orjson

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'clientcard.sqlite'}"
    # Heroku-style URLs name the old driver; we use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _env_limit(name: str, default: str) -> str:
    """A rate limit such as "600 per minute" or "20/minute" from the environment; refused at start-up when malformed."""
    value = (os.environ.get(name) or "").strip() or default
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as e:
        raise ValueError(f"{name}={value!r} is not a rate limit such as '600 per minute'") from e
    return value


def _env_int(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if not value.isdecimal() or int(value) < 1:
        raise ValueError(f"{name}={value!r} must be a whole number of at least 1")
    return int(value)


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = _database_url()
    # JSON columns (a card's values, its history) are read with orjson: a list, an export and a card page decode
    # every card's values, and the standard library's decoder was a fifth of a 100,000-card export on PostgreSQL.
    # Writes keep the standard encoder (orjson refuses non-string keys).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "json_deserializer": orjson.loads}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    BASE_URL = (os.environ.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    SMTP_URL = os.environ.get("SMTP_URL") or None
    MAIL_FROM = os.environ.get("MAIL_FROM") or "ClientCard <no-reply@clientcard.local>"

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_TIME_LIMIT = None
    # Client-list uploads (IMPORT_MAX_BYTES, default 20 MB) need a little more than the 16 MB other forms get.
    MAX_CONTENT_LENGTH = max(16 * 1024 * 1024, int(os.environ.get("IMPORT_MAX_BYTES") or 20 * 1024 * 1024) + 1024 * 1024)

    # Redis must never take the site down: calls give up quickly, and while Redis is unreachable the rate
    # limits are counted in each process's memory (create_app points the limiter at REDIS_URL).
    REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS") or 0.5)

    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STRATEGY = "fixed-window"
    LOGIN_LIMIT_IP = _env_limit("LOGIN_LIMIT_IP", "20 per minute")
    LOGIN_LIMIT_ACCOUNT = _env_limit("LOGIN_LIMIT_ACCOUNT", "5 per 5 minutes")
    SIGNUP_LIMIT = _env_limit("SIGNUP_LIMIT", "10 per hour")
    # Per API token; counted in Redis (shared by every worker and server) when REDIS_URL is set.
    API_LIMIT = _env_limit("API_LIMIT", "600 per minute")
    API_MAX_BODY = _env_int("API_MAX_BODY", 1024 * 1024)
    # POST /clients/batch takes up to 1,000 full cards in one body.
    API_BATCH_MAX_BODY = _env_int("API_BATCH_MAX_BODY", 16 * 1024 * 1024)

    # Card PDFs and share links
    PDF_TIMEOUT = float(os.environ.get("PDF_TIMEOUT_SECONDS") or 20)  # a render is stopped after this
    PDF_BATCH_MAX = _env_int("PDF_BATCH_MAX", 1000)  # cards in one batch export (merged PDF or ZIP), a job
    # Render children one batch runs at once, each busy on one core: half the machine's cores (at least 1, at most 4),
    # so a batch job never takes every core from the web workers.
    PDF_BATCH_PROCESSES = _env_int("PDF_BATCH_PROCESSES", max(1, min(4, (os.cpu_count() or 2) // 2)))
    SHARE_LOOKUP_LIMIT = "30 per minute"   # unknown share tokens per address
    SHARE_CODE_LIMIT = "5 per 10 minutes"  # wrong access-code guesses per link
    # Long work (imports, exports): RQ when REDIS_URL is set, else a thread in the web process.
    JOB_TIMEOUT_SECONDS = int(os.environ.get("JOB_TIMEOUT_SECONDS") or 3600)
    JOBS_EAGER = False  # run jobs before enqueue() returns (tests)
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES") or 20 * 1024 * 1024)
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS") or 50_000)


    # Billing (Stripe). Without STRIPE_SECRET_KEY billing is off: no plans, no limits, no billing pages.
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_PRICE_MONTHLY = os.environ.get("STRIPE_PRICE_MONTHLY") or None   # Team, per seat, recurring monthly
    STRIPE_PRICE_YEARLY = os.environ.get("STRIPE_PRICE_YEARLY") or None     # Team, per seat, recurring yearly
    STRIPE_PRICE_YEAR_ONCE = os.environ.get("STRIPE_PRICE_YEAR_ONCE") or None  # Team, per seat, one year paid once
    STRIPE_NETWORK_RETRIES = int(os.environ.get("STRIPE_NETWORK_RETRIES") or 2)
    FREE_MAX_USERS = int(os.environ.get("FREE_MAX_USERS") or 3)
    FREE_MAX_CLIENTS = int(os.environ.get("FREE_MAX_CLIENTS") or 200)
    FREE_MAX_SHARE_DAYS = int(os.environ.get("FREE_MAX_SHARE_DAYS") or 7)
    BILLING_GRACE_DAYS = int(os.environ.get("BILLING_GRACE_DAYS") or 14)

    INVITE_DAYS = _env_int("INVITE_DAYS", 7)
    PASSWORD_RESET_SECONDS = _env_int("PASSWORD_RESET_SECONDS", 3600)


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-not-for-production"
    JOBS_EAGER = True  # a job has finished when the request that started it answers
    # Tests keep Redis optional: the limiter uses Redis only when REDIS_URL is set.


def dev_secret_key() -> str:
    """Persist a random secret in instance/ so local sessions survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
