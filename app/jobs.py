"""The one jobs module for long work (imports, exports, PDF batches): RQ on Redis when REDIS_URL is set, a
background thread in the web process without it (so the embedded setup runs with one command).

A job is a tenant-scoped `Job` row. Its payload is the row's id only: handlers re-read whatever they need (the
import, the user) inside the job with the tenant set, so no value ever travels through Redis. `params` holds
options and ids, never card values. Progress is reported through `progress()`; the page polls the
`jobs.status` partial, which answers HTTP 286 (htmx: stop polling) once the job is done or failed.

A handler is registered with `@handler("kind")` and called as `fn(job, user)`; it returns the result dict
(JSON) or raises `JobFailed` with a message for the user. Any other exception fails the job with a generic
message (the traceback goes to the log) and rolls back everything the handler wrote.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from flask import Blueprint, abort, current_app, has_app_context, render_template
from flask_babel import force_locale, lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import Index, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import ADMIN_ROLES, User
from app.db_types import JSONType, UTCDateTime, utcnow
from app.extensions import db, redis_client
from app.tenancy import TenantScoped, all_tenants, tenant_context

log = logging.getLogger("clientcard.jobs")

QUEUE_NAME = "clientcard"
STATUSES = ("queued", "running", "done", "failed")
FINISHED = ("done", "failed")


class Job(TenantScoped, db.Model):
    """One piece of long work for one tenant, started by one user."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)  # ids and options only, never card values
    result: Mapped[dict | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_job_tenant_created", "tenant_id", "created_at"),)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.progress / self.total) if self.total else 0


class JobFile(TenantScoped, db.Model):
    """A file a job produced (an export), downloadable by the user who started the job until it expires."""

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_job_file_job", "tenant_id", "job_id"),)


FILE_DAYS = 7


def save_file(job: Job, filename: str, content_type: str, data: bytes) -> dict:
    """Keep a job's output; returns the result members that make the progress bar offer the download."""
    from datetime import timedelta

    from flask import url_for
    from sqlalchemy import delete

    # Files may hold card values: they are kept FILE_DAYS days, and the tenant's older ones go when one is added.
    db.session.execute(delete(JobFile).where(JobFile.tenant_id == job.tenant_id,
                                             JobFile.created_at < utcnow() - timedelta(days=FILE_DAYS)))
    db.session.add(JobFile(job_id=job.id, filename=filename, content_type=content_type, data=data))
    return {"url": url_for("jobs.download", job_id=job.id), "filename": filename, "size": len(data)}


class JobFailed(Exception):
    """A handler's failure the user should read (translated message); everything the job wrote is rolled back."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


HANDLERS: dict[str, Callable] = {}


def handler(kind: str):
    """Register the function that runs jobs of this kind."""

    def register(fn):
        HANDLERS[kind] = fn
        return fn

    return register


# ---------------------------------------------------------------- starting

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_live: dict[int, tuple[int, int]] = {}  # job id -> (progress, total), in-process mode


def _thread_pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # One at a time: a 2-core machine gains nothing from parallel imports, and SQLite has one writer.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clientcard-job")
        return _executor


def enqueue(kind: str, user: User, params: dict | None = None, total: int = 0) -> Job:
    """Create the Job row (committed) and start it: on RQ when Redis is configured, else in a thread.
    With JOBS_EAGER (tests) the job has run when this returns."""
    if kind not in HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    job = Job(kind=kind, params=params or {}, total=total, created_by_id=user.id, status="queued")
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    app = current_app._get_current_object()
    eager = app.config.get("JOBS_EAGER", False)
    conn = redis_client()
    if conn is not None:
        from rq import Queue

        Queue(QUEUE_NAME, connection=conn, is_async=not eager).enqueue(
            rq_entry, job_id, job_timeout=app.config.get("JOB_TIMEOUT_SECONDS", 3600), result_ttl=0,
            failure_ttl=86400)
    elif eager:
        run_job(job_id)
    else:
        _thread_pool().submit(_run_in_thread, app, job_id)
    if eager:
        db.session.expire_all()
    return db.session.get(Job, job_id)


def _run_in_thread(app, job_id: int) -> None:
    with app.app_context():
        try:
            run_job(job_id)
        finally:
            db.session.remove()


def rq_entry(job_id: int) -> None:
    """What RQ runs: the job id only. Works under `flask worker` (app context inherited) and plain `rq worker`."""
    if has_app_context():
        db.engine.dispose(close=False)  # a forked work horse must not share the parent's connections
        run_job(job_id)
        return
    from app import create_app

    with create_app().app_context():
        run_job(job_id)


def run_job(job_id: int) -> None:
    """Run one job in contexts of its own (a fresh database session, a request context of the site's own URL so
    url_for works in a worker), as a worker process would, even when run eagerly inside a request."""
    app = current_app._get_current_object()
    with app.app_context(), app.test_request_context("/", base_url=app.config.get("BASE_URL")):
        try:
            _run(job_id)
        finally:
            db.session.remove()


def _run(job_id: int) -> None:
    """Load the job with its tenant and user, call its handler, record the outcome."""
    job = db.session.execute(all_tenants(select(Job).where(Job.id == job_id))).scalar_one_or_none()
    if job is None or job.finished:
        return
    tenant_id = job.tenant_id
    with tenant_context(tenant_id):
        user = db.session.get(User, job.created_by_id) if job.created_by_id else None
        lang = user.language if user is not None and user.language else "zh_CN"
        job.status, job.started_at = "running", utcnow()
        db.session.commit()
        try:
            with force_locale(lang):
                result = HANDLERS[job.kind](job, user)
            job = db.session.get(Job, job_id)
            job.status, job.result, job.finished_at = "done", result or {}, utcnow()
            job.progress = job.total = max(job.total, job.progress)
            db.session.commit()
        except Exception as exc:  # the job failed: nothing it wrote is kept
            db.session.rollback()
            if isinstance(exc, JobFailed):
                with force_locale(lang):
                    message = str(exc.message)
            else:
                log.exception("job %s (%s) failed", job_id, job.kind)
                with force_locale(lang):
                    message = str(_l("The job failed unexpectedly. Nothing was changed; please try again."))
            job = db.session.get(Job, job_id)
            job.status, job.error, job.finished_at = "failed", message, utcnow()
            db.session.commit()
        finally:
            _live.pop(job_id, None)
            _forget_live(job_id)


# ---------------------------------------------------------------- progress

def _key(job_id: int) -> str:
    return f"clientcard:job:{job_id}:progress"


def progress(job: Job, done: int, total: int | None = None) -> None:
    """Report progress without touching the job's transaction (the work is committed once, at the end)."""
    total = job.total if total is None else total
    job.total = total
    conn = redis_client()
    if conn is not None:
        try:
            conn.set(_key(job.id), f"{done}/{total}", ex=86400)
            return
        except Exception:  # Redis is optional for progress: the bar then jumps to done
            pass
    _live[job.id] = (done, total)


def _forget_live(job_id: int) -> None:
    conn = redis_client()
    if conn is not None:
        try:
            conn.delete(_key(job_id))
        except Exception:
            pass


def live_progress(job: Job) -> tuple[int, int]:
    """(progress, total) as the running job last reported it, else as stored on the row."""
    if job.finished:
        return job.progress, job.total
    conn = redis_client()
    if conn is not None:
        try:
            raw = conn.get(_key(job.id))
            if raw:
                done, total = raw.decode().split("/")
                return int(done), int(total)
        except Exception:
            pass
    return _live.get(job.id, (job.progress, job.total))


def wait(job_id: int, timeout: float = 60.0) -> Job:
    """Block until the job finished (tests, CLI); returns the fresh row."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        if job.finished or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def visible_job(user: User, job_id: int) -> Job | None:
    """The job if this user started it (or is an admin of its tenant); None otherwise (404)."""
    job = db.session.get(Job, job_id)
    if job is None:
        return None
    if job.created_by_id != user.id and user.role not in ADMIN_ROLES:
        return None
    return job


# ---------------------------------------------------------------- the progress partial

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.route("/<int:job_id>")
@login_required
def status(job_id: int):
    """The progress bar; htmx polls it every second until the job is finished (286 stops the polling)."""
    job = visible_job(current_user, job_id)
    if job is None:
        abort(404)
    done, total = live_progress(job)
    body = render_template("jobs/_progress.html", job=job, done=done, total=total,
                           percent=100 if job.status == "done" else (int(100 * done / total) if total else 0))
    return body, (286 if job.finished else 200)


@bp.route("/<int:job_id>/download")
@login_required
def download(job_id: int):
    """The file a finished job produced (only for the user who started it; kept FILE_DAYS days)."""
    from flask import Response

    f = downloadable_file(current_user, job_id)
    if f is None:
        abort(404)
    return Response(f.data, mimetype=f.content_type, headers={
        "Content-Disposition": _attachment(f.filename), "Cache-Control": "no-store"})


def downloadable_file(user: User, job_id: int) -> JobFile | None:
    """The file of a finished job, for the user who started it only, while it is kept (FILE_DAYS); else None."""
    from datetime import timedelta

    job = db.session.get(Job, job_id)
    if job is None or job.created_by_id != user.id or job.status != "done":
        return None
    f = db.session.scalars(select(JobFile).where(JobFile.job_id == job.id)).first()
    if f is None or utcnow() - f.created_at > timedelta(days=FILE_DAYS):
        return None
    return f


def _attachment(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "ignore").decode() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# ---------------------------------------------------------------- the worker command

def init_cli(app) -> None:
    import click

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    def worker(burst: bool):
        """Run the RQ worker for long jobs (needs REDIS_URL)."""
        from rq import Queue, Worker

        conn = redis_client()
        if conn is None:
            raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside the web process.")
        Worker([Queue(QUEUE_NAME, connection=conn)], connection=conn).work(burst=burst)
