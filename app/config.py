"""Configuration from the environment. Nothing secret has a production default."""
import os
import secrets
from pathlib import Path

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


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
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
    LOGIN_LIMIT_IP = "20 per minute"
    LOGIN_LIMIT_ACCOUNT = "5 per 5 minutes"
    SIGNUP_LIMIT = "10 per hour"
    API_LIMIT = "600 per minute"

    # Long work (imports, exports): RQ when REDIS_URL is set, else a thread in the web process.
    JOB_TIMEOUT_SECONDS = int(os.environ.get("JOB_TIMEOUT_SECONDS") or 3600)
    JOBS_EAGER = False  # run jobs before enqueue() returns (tests)
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES") or 20 * 1024 * 1024)
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS") or 50_000)

    INVITE_DAYS = 7
    PASSWORD_RESET_SECONDS = 3600


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
