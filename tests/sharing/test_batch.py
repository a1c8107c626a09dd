"""Batch export of card PDFs: the filtered or ticked list as one merged PDF (each card with its own page numbers) or
a ZIP of PDFs, built as a job; never a confidential field; cards the user may not see are left out; the file only
for the user who asked; a cap with a clear message; ids and options only in the job."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app import jobs
from app.clients.models import Client, ClientView
from app.extensions import db
from app.tenancy import tenant_context
from tests import factories
from tests.api.conftest import Api, make_token
from tests.sharing.conftest import FIELDS, SECRET_HOME, SECRET_LEGAL, pdf_fonts, pdf_text


@pytest.fixture()
def three(card):
    """The card fixture's tenant with two more cards: one of the member's, one of another stage."""
    from sqlalchemy import inspect

    second = factories.client(card.bundle, "杭州新禾贸易有限公司", fields={**FIELDS, "pic_name": "陈晓"},
                              owner_id=inspect(card.member).identity[0])
    third = factories.client(card.bundle, "苏州远景电子有限公司", fields={"main_products": "电子元器件"}, stage="成交")
    card.ids = [card.client_id, inspect(second).identity[0], inspect(third).identity[0]]
    return card


def _views(bundle, client_id):
    with tenant_context(bundle.id):
        rows = [v.kind for v in db.session.scalars(select(ClientView).where(ClientView.client_id == client_id))]
        db.session.rollback()
    return rows


def fail_renders_of(monkeypatch, name: str) -> None:
    """Any render child whose documents include the card of `name` fails (a simulated render failure)."""
    from app import pdf

    real = pdf._render_many_here

    def failing(htmls, *args):
        if any(name in h for h in htmls):
            raise RuntimeError("simulated render failure")
        return real(htmls, *args)

    monkeypatch.setattr(pdf, "_render_many_here", failing)


def test_the_filtered_list_as_one_merged_pdf_each_card_numbered_on_its_own(three, login, tmp_path):
    owner = login(three.bundle.owner)
    page = owner.get("/clients/pdf-batch?stage=潜在").get_data(as_text=True)
    assert "2 张卡片" in page or "2 cards" in page
    r = owner.post("/clients/pdf-batch", data={"scope": "list", "list_query": "stage=潜在", "format": "pdf",
                                               "kind": "card", "watermark": ""})
    assert r.status_code == 303
    page = owner.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="batch-job"' in page
    url = re.search(r'href="(/jobs/\d+/download)"', page).group(1)
    r = owner.get(url)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "no-store" in r.headers["Cache-Control"]
    text = pdf_text(r.data)
    assert "上海华光科技有限公司" in text and "杭州新禾贸易有限公司" in text
    assert "苏州远景电子有限公司" not in text  # another stage: not in the filtered list
    assert "羊毛衫、针织外套、童装" in text and "陈晓" in text
    assert SECRET_HOME not in text and SECRET_LEGAL not in text  # never confidential, even for the owner
    # Every card starts again at page 1 and counts its own pages.
    firsts = re.findall(r"\b1\s*/\s*(\d+)\b", text)
    assert len(firsts) == 2
    # One subset of the CJK font for the whole document (cards rendered together share it).
    fonts = pdf_fonts(r.data, tmp_path)
    cjk = [f for f in fonts if "CJK" in f["name"]]
    assert len(cjk) == 1 and cjk[0]["emb"] == "yes" and cjk[0]["sub"] == "yes"
    assert _views(three.bundle, three.ids[0]).count("pdf") == 1
    assert _views(three.bundle, three.ids[2]).count("pdf") == 0


def test_ticked_rows_as_a_zip_from_the_list_page_htmx(three, login, hx):
    owner = login(three.bundle.owner)
    index = owner.get("/clients/").get_data(as_text=True)
    assert 'data-testid="bulk-pdf"' in index and 'id="pdf-batch"' in index and 'data-testid="export-pdf"' in index
    r = owner.post("/clients/pdf-batch", headers=hx, data={
        "scope": "selected", "ids": [str(three.ids[2]), str(three.ids[0])], "format": "zip", "list_query": ""})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body and 'data-testid="batch-job"' in body
    url = re.search(r'href="(/jobs/\d+/download)"', body).group(1)
    r = owner.get(url)
    assert r.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        names = zf.namelist()
        assert len(names) == 2 and all(n.endswith("-card.pdf") for n in names)
        assert "苏州远景电子有限公司" in names[0]  # the order the rows were ticked in
        texts = [pdf_text(zf.read(n)) for n in names]
    assert "苏州远景电子有限公司" in texts[0] and "上海华光科技有限公司" in texts[1]
    assert all(SECRET_HOME not in t for t in texts)


def test_nothing_ticked_or_bad_options_answer_with_a_message_not_an_error(three, login, hx):
    owner = login(three.bundle.owner)
    r = owner.post("/clients/pdf-batch", headers=hx, data={"scope": "selected", "format": "pdf"})
    assert r.status_code == 200 and 'data-testid="batch-error"' in r.get_data(as_text=True)
    r = owner.post("/clients/pdf-batch", data={"scope": "list", "format": "docx"})
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    r = owner.post("/clients/pdf-batch", data={"scope": "list", "list_query": "q=没有这个客户"})
    assert r.status_code == 422 and 'data-testid="batch-error"' in r.get_data(as_text=True)


def test_cards_the_user_may_not_see_are_left_out_never_leaked(three, login, app):
    """A member who sees only their own cards; a card of another tenant; a card removed after the batch was asked."""
    other = factories.tenant("别家公司", "other@example.com")
    foreign = factories.client(other, "别家的秘密客户")
    from sqlalchemy import inspect

    foreign_id = inspect(foreign).identity[0]
    with tenant_context(three.bundle.id):
        from app.accounts.models import Tenant

        db.session.get(Tenant, three.bundle.id).update_settings(members_see_all=False)
        db.session.commit()
    member = login(three.member)
    r = member.post("/clients/pdf-batch", data={"scope": "selected", "format": "pdf",
                                                "ids": [str(i) for i in [*three.ids, foreign_id]]})
    page = member.get(r.headers["Location"]).get_data(as_text=True)
    text = pdf_text(member.get(re.search(r'href="(/jobs/\d+/download)"', page).group(1)).data)
    assert "杭州新禾贸易有限公司" in text
    assert "上海华光科技有限公司" not in text and "别家的秘密客户" not in text
    assert "3" in page and ("未包含" in page or "left out" in page)  # the note counts what was left out
    # The job asks the access decision again at run time: ids the user no longer sees are skipped.
    from app.accounts.models import User
    from app.sharing import batch as sb

    with app.test_request_context(), tenant_context(three.bundle.id):
        user = db.session.get(User, inspect(three.member).identity[0])
        job = sb.start_batch(user, [three.ids[0], three.ids[1], foreign_id])
        assert job.status == "done" and job.result["cards"] == 1 and job.result["skipped"] == 2
        assert "2" in job.result["note"]
        assert set(job.params) == {"ids", "format", "brief", "watermark"}  # ids and options, never values
        f = db.session.scalars(select(jobs.JobFile).where(jobs.JobFile.job_id == job.id)).one()
        assert "上海华光科技有限公司" not in pdf_text(f.data) and "别家的秘密客户" not in pdf_text(f.data)
        db.session.rollback()


def test_only_the_user_who_asked_downloads_the_file_and_only_while_it_is_kept(three, login, app):
    admin = factories.user(three.bundle, "admin@example.com", "admin", "管理员")
    owner = login(three.bundle.owner)
    r = owner.post("/clients/pdf-batch", data={"scope": "list", "format": "pdf"})
    job_page = r.headers["Location"]
    job_id = int(job_page.rstrip("/").rsplit("/", 1)[1])
    download = f"/jobs/{job_id}/download"
    assert owner.get(download).status_code == 200
    other = factories.tenant("别家公司", "other@example.com")
    for outsider in (login(admin), login(three.member), login(three.viewer), login(other.owner)):
        assert outsider.get(download).status_code == 404
    assert login(other.owner).get(job_page).status_code == 404
    assert login(three.member).get(job_page).status_code == 404
    assert login(admin).get(job_page).status_code == 404
    # Payload: ids and options only, never a value of a card.
    with tenant_context(three.bundle.id):
        job = db.session.get(jobs.Job, job_id)
        dumped = json.dumps(job.params, ensure_ascii=False)
        assert set(job.params) == {"ids", "format", "brief", "watermark"}
        assert "上海" not in dumped and "王建国" not in dumped
        # After FILE_DAYS the file is no longer offered, and the next saved file removes it.
        db.session.execute(update(jobs.JobFile).where(jobs.JobFile.job_id == job_id)
                           .values(created_at=jobs.utcnow() - timedelta(days=jobs.FILE_DAYS, hours=1)))
        db.session.commit()
    assert owner.get(download).status_code == 404
    owner.post("/clients/pdf-batch", data={"scope": "list", "format": "zip"})
    with tenant_context(three.bundle.id):
        assert db.session.scalars(select(jobs.JobFile).where(jobs.JobFile.job_id == job_id)).first() is None
        db.session.rollback()


def test_a_viewer_exports_briefs_with_a_watermark(three, login):
    viewer = login(three.viewer)
    assert 'data-testid="export-pdf"' in viewer.get("/clients/").get_data(as_text=True)
    r = viewer.post("/clients/pdf-batch", data={"scope": "list", "format": "pdf", "kind": "brief",
                                                "watermark": "internal"})
    page = viewer.get(r.headers["Location"]).get_data(as_text=True)
    r = viewer.get(re.search(r'href="(/jobs/\d+/download)"', page).group(1))
    text = pdf_text(r.data)
    assert "客户简报" in text and "上海华光科技有限公司" in text
    assert "不在简报里的上级主管部门" not in text and SECRET_HOME not in text


def test_over_the_cap_the_batch_is_refused_with_a_clear_message(three, login, app, hx):
    app.config["PDF_BATCH_MAX"] = 2
    try:
        owner = login(three.bundle.owner)
        page = owner.get("/clients/pdf-batch").get_data(as_text=True)
        assert 'data-testid="batch-error"' in page and "2" in page
        assert re.search(r'data-testid="start-batch"[^>]*disabled', page)
        r = owner.post("/clients/pdf-batch", data={"scope": "list", "format": "pdf"})
        assert r.status_code == 422 and 'data-testid="batch-error"' in r.get_data(as_text=True)
        r = owner.post("/clients/pdf-batch", headers=hx,
                       data={"scope": "selected", "format": "pdf", "ids": [str(i) for i in three.ids]})
        assert 'data-testid="batch-error"' in r.get_data(as_text=True)
        api = Api(app.test_client(), make_token(three.bundle.owner))
        r = api.post("/clients/pdf-batch", json={})
        assert r.status_code == 422 and "ids" in r.get_json()["errors"]
        assert api.post("/clients/pdf-batch", json={"ids": three.ids[:2]}).status_code == 202
    finally:
        app.config["PDF_BATCH_MAX"] = 1000


def test_a_card_whose_pdf_fails_is_left_out_and_named(three, login, monkeypatch):
    """A render that fails (e.g. over its time limit) costs that card only; the result says which."""
    fail_renders_of(monkeypatch, "杭州新禾贸易有限公司")
    owner = login(three.bundle.owner)
    r = owner.post("/clients/pdf-batch", data={"scope": "list", "format": "pdf"})
    page = owner.get(r.headers["Location"]).get_data(as_text=True)
    text = pdf_text(owner.get(re.search(r'href="(/jobs/\d+/download)"', page).group(1)).data)
    assert "上海华光科技有限公司" in text and "苏州远景电子有限公司" in text and "杭州新禾贸易有限公司" not in text
    with tenant_context(three.bundle.id):
        number = db.session.execute(select(Client.number).where(Client.id == three.ids[1])).scalar_one()
        db.session.rollback()
    assert number in page  # the note names the card that could not be made
    assert _views(three.bundle, three.ids[1]).count("pdf") == 0


def test_batch_over_the_api(three, app):
    owner = Api(app.test_client(), make_token(three.bundle.owner))
    r = owner.post("/clients/pdf-batch?stage=成交", json={"format": "zip"})
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "done" and body["total"] == 1 and r.headers["Location"].endswith(f"/{body['id']}")
    r = owner.get(f"/clients/pdf-batch/{body['id']}")
    status = r.get_json()
    assert status["cards"] == 1 and status["download_url"] and status["filename"].endswith(".zip")
    r = owner.get(status["download_url"].removeprefix("/api/v1"))
    assert r.status_code == 200 and r.mimetype == "application/zip"
    r = owner.post("/clients/pdf-batch", json={"ids": [three.ids[0], three.ids[2]], "brief": True,
                                               "watermark": "confidential"})
    assert r.status_code == 202
    pdf_id = r.get_json()["id"]
    data = owner.get(f"/clients/pdf-batch/{pdf_id}/file").data
    assert "苏州远景电子有限公司" in pdf_text(data) and SECRET_HOME not in pdf_text(data)
    # Another colleague, even an admin, and another tenant: 404.
    admin = Api(app.test_client(), make_token(factories.user(three.bundle, "admin@example.com", "admin", "管理员")))
    assert admin.get(f"/clients/pdf-batch/{pdf_id}/file").status_code == 404
    assert admin.get(f"/clients/pdf-batch/{pdf_id}").get_json()["download_url"] is None
    member = Api(app.test_client(), make_token(three.member))
    assert member.get(f"/clients/pdf-batch/{pdf_id}").status_code == 404
    assert member.get(f"/clients/pdf-batch/{pdf_id}/file").status_code == 404
    other = Api(app.test_client(), make_token(factories.tenant("别家公司", "other@example.com").owner))
    assert other.get(f"/clients/pdf-batch/{pdf_id}").status_code == 404
    assert other.get(f"/clients/pdf-batch/{pdf_id}/file").status_code == 404
    assert other.post("/clients/pdf-batch", json={"ids": three.ids}).status_code == 422  # not theirs: none visible
    # Bad input: problem+json with the field named.
    for bad, field in (({"format": "docx"}, "format"), ({"ids": []}, "ids"), ({"ids": ["1"]}, "ids"),
                       ({"ids": [0]}, "ids"), ({"brief": "yes"}, "brief"), ({"watermark": "x"}, "watermark"),
                       ({"color": 1}, "color")):
        r = owner.post("/clients/pdf-batch", json=bad)
        assert r.status_code == 422 and r.mimetype == "application/problem+json" and field in r.get_json()["errors"]
    assert owner.get("/clients/pdf-batch/99999999999").status_code == 404
    paths = owner.get("/openapi.json").get_json()["paths"]
    assert {"/clients/pdf-batch", "/clients/pdf-batch/{job_id}", "/clients/pdf-batch/{job_id}/file"} <= set(paths)


def test_the_cap_comes_from_the_environment(monkeypatch):
    from tests.speed.test_config_env import _config

    assert _config(monkeypatch, PDF_BATCH_MAX="250").PDF_BATCH_MAX == 250
    with pytest.raises(ValueError, match="PDF_BATCH_MAX"):
        _config(monkeypatch, PDF_BATCH_MAX="many")


def test_the_request_answers_at_once_and_the_cards_render_in_the_background(three, login, app, monkeypatch):
    """Without Redis the job runs in a thread of the web process; the request that starts it never renders."""
    monkeypatch.setattr(jobs, "redis_client", lambda: None)  # without Redis, even where CI sets REDIS_URL
    app.config["JOBS_EAGER"] = False
    try:
        owner = login(three.bundle.owner)
        r = owner.post("/clients/pdf-batch", data={"scope": "list", "format": "pdf"})
        assert r.status_code == 303
        job_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        with tenant_context(three.bundle.id):
            assert db.session.get(jobs.Job, job_id).status in ("queued", "running")
            db.session.rollback()
            job = jobs.wait(job_id, timeout=120)
            assert job.status == "done" and job.result["cards"] == 3
            db.session.rollback()
        assert owner.get(f"/jobs/{job_id}/download").mimetype == "application/pdf"
    finally:
        app.config["JOBS_EAGER"] = True


def test_chunks_are_joined_with_their_bookmarks_and_page_numbers(three, login, monkeypatch):
    """Past one chunk, pypdf joins the chunk PDFs: one bookmark per card (its name), each card numbered 1 / n."""
    from pypdf import PdfReader

    from app.sharing import batch as sb

    monkeypatch.setattr(sb, "CHUNK", 1)
    owner = login(three.bundle.owner)
    r = owner.post("/clients/pdf-batch", data={"scope": "selected", "format": "pdf",
                                               "ids": [str(i) for i in three.ids]})
    page = owner.get(r.headers["Location"]).get_data(as_text=True)
    data = owner.get(re.search(r'href="(/jobs/\d+/download)"', page).group(1)).data
    reader = PdfReader(io.BytesIO(data))
    tops = [item.title for item in reader.outline if not isinstance(item, list)]
    assert tops == ["上海华光科技有限公司", "杭州新禾贸易有限公司", "苏州远景电子有限公司"]
    assert len(re.findall(r"\b1\s*/\s*\d+\b", pdf_text(data))) == 3


@pytest.mark.parametrize("fmt", ["pdf", "zip"])
def test_chunks_rendered_in_parallel_keep_every_card_in_order(three, login, app, monkeypatch, fmt):
    """With PDF_BATCH_PROCESSES render children at once, the file still holds every card once, in the ticked order,
    each numbered on its own; a chunk that fails in one child costs only its card."""
    from pypdf import PdfReader

    from app.sharing import batch as sb

    fail_renders_of(monkeypatch, "苏州远景电子有限公司")
    monkeypatch.setattr(sb, "CHUNK", 1)
    monkeypatch.setitem(app.config, "PDF_BATCH_PROCESSES", 2)
    order = [three.ids[1], three.ids[0], three.ids[2]]  # not the list's order: the order they were ticked in
    owner = login(three.bundle.owner)
    r = owner.post("/clients/pdf-batch", data={"scope": "selected", "format": fmt, "ids": [str(i) for i in order]})
    page = owner.get(r.headers["Location"]).get_data(as_text=True)
    data = owner.get(re.search(r'href="(/jobs/\d+/download)"', page).group(1)).data
    if fmt == "pdf":
        reader = PdfReader(io.BytesIO(data))
        tops = [item.title for item in reader.outline if not isinstance(item, list)]
        assert tops == ["杭州新禾贸易有限公司", "上海华光科技有限公司"]
        assert len(re.findall(r"\b1\s*/\s*\d+\b", pdf_text(data))) == 2
    else:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        assert len(names) == 2
        assert "杭州新禾贸易有限公司" in names[0] and "上海华光科技有限公司" in names[1]
    assert _views(three.bundle, three.ids[2]).count("pdf") == 0
    assert _views(three.bundle, three.ids[0]).count("pdf") == 1


def test_batch_processes_come_from_the_environment(monkeypatch):
    from tests.speed.test_config_env import _config

    assert _config(monkeypatch, PDF_BATCH_PROCESSES="2").PDF_BATCH_PROCESSES == 2
    assert 1 <= _config(monkeypatch).PDF_BATCH_PROCESSES <= 4
    with pytest.raises(ValueError, match="PDF_BATCH_PROCESSES"):
        _config(monkeypatch, PDF_BATCH_PROCESSES="0")
