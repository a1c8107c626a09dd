"""The jobs module: a job runs with its tenant set, reports progress, keeps nothing of a failed run, and its
progress partial polls until the job is finished (286). With REDIS_URL set the same tests run through RQ."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from app import jobs
from app.clients.models import Client
from app.clients.services import create_client
from app.extensions import db as _db
from app.jobs import Job, JobFailed
from tests import factories


@jobs.handler("test.make_cards")
def _make_cards(job, user):
    n = job.params["n"]
    for i in range(n):
        create_client(user, name=f"任务客户{i}", allow_duplicate=True, enforce_required=False)
        jobs.progress(job, i + 1, n)
    if job.params.get("fail"):
        raise JobFailed("the test asked for a failure")
    if job.params.get("crash"):
        raise RuntimeError("boom")
    return {"made": n, "tenant": job.tenant_id}


def _count(bundle):
    with _tc(bundle):
        n = _db.session.scalar(select(func.count(Client.id)))
        _db.session.rollback()
        return n


def _tc(bundle):
    from app.tenancy import tenant_context

    return tenant_context(bundle.id)


def test_job_runs_in_its_tenant_and_records_the_result(two_tenants):
    a, b = two_tenants
    with _tc(a):
        job = jobs.enqueue("test.make_cards", a.owner, {"n": 3})
        job_id = job.id
    with _tc(a):
        job = jobs.wait(job_id)
        assert job.status == "done" and job.result == {"made": 3, "tenant": a.id}
        assert job.progress == job.total == 3 and job.finished_at is not None
    assert _count(a) == 3 and _count(b) == 0
    with _tc(b):  # another tenant does not see the job at all
        _db.session.expunge_all()
        assert _db.session.scalar(select(Job).where(Job.id == job_id)) is None


def test_a_failed_job_keeps_nothing_and_says_why(tenant_a):
    with _tc(tenant_a):
        job = jobs.wait(jobs.enqueue("test.make_cards", tenant_a.owner, {"n": 2, "fail": True}).id)
        assert job.status == "failed" and job.error == "the test asked for a failure"
    assert _count(tenant_a) == 0


def test_a_crashed_job_keeps_nothing_and_hides_the_internals(tenant_a):
    with _tc(tenant_a):
        job = jobs.wait(jobs.enqueue("test.make_cards", tenant_a.owner, {"n": 2, "crash": True}).id)
        # A generic message in the user's language, never the exception's own text.
        assert job.status == "failed" and job.error and "boom" not in job.error
    assert _count(tenant_a) == 0


def test_progress_partial_polls_until_done(tenant_a, login, hx):
    member = factories.user(tenant_a, "m@a.example", "member")
    with _tc(tenant_a):
        job = Job(kind="test.make_cards", params={"n": 1}, total=4, created_by_id=tenant_a.owner.id)
        _db.session.add(job)
        _db.session.commit()
        job_id = job.id
    owner = login(tenant_a.owner)
    r = owner.get(f"/jobs/{job_id}", headers=hx)
    assert r.status_code == 200 and 'hx-trigger="every 1s"' in r.get_data(as_text=True)
    assert login(member).get(f"/jobs/{job_id}").status_code == 404  # not the member's job
    with _tc(tenant_a):
        jobs.run_job(job_id)
    _db.session.expire_all()  # the test shares its session with the test client's requests
    r = owner.get(f"/jobs/{job_id}", headers=hx)
    body = r.get_data(as_text=True)
    assert r.status_code == 286 and "every 1s" not in body and 'value="100"' in body


def test_in_process_mode_runs_in_a_thread(app, tenant_a):
    """Without Redis and without JOBS_EAGER the request returns at once and a thread does the work."""
    if app.config.get("REDIS_URL"):
        pytest.skip("with Redis, jobs go to RQ")
    app.config["JOBS_EAGER"] = False
    try:
        with _tc(tenant_a):
            job_id = jobs.enqueue("test.make_cards", tenant_a.owner, {"n": 5}).id
            job = jobs.wait(job_id, timeout=30)
            assert job.status == "done" and job.result["made"] == 5
    finally:
        app.config["JOBS_EAGER"] = True
    assert _count(tenant_a) == 5


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_rq_worker_runs_queued_jobs(app, tenant_a):
    """With Redis the job waits in the queue until `flask worker` takes it; the payload is the job id only."""
    from rq import Queue

    from app.extensions import redis_client

    app.config["JOBS_EAGER"] = False
    try:
        with _tc(tenant_a):
            job_id = jobs.enqueue("test.make_cards", tenant_a.owner, {"n": 2}).id
            q = Queue(jobs.QUEUE_NAME, connection=redis_client())
            queued = [j for j in q.get_jobs() if j.args == (job_id,)]
            assert queued and queued[0].kwargs == {}
            assert _db.session.get(Job, job_id).status == "queued"
        from rq import SimpleWorker

        SimpleWorker([q], connection=redis_client()).work(burst=True)
        with _tc(tenant_a):
            assert jobs.wait(job_id).status == "done"
    finally:
        app.config["JOBS_EAGER"] = True
    assert _count(tenant_a) == 2
