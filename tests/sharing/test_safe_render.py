"""Safe rendering: the PDF fetcher serves our static files and the tenant logo and nothing else. A local canary
listener stands in for the internet and for internal services: no render may reach it. A render has a time limit."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from app import pdf
from tests.sharing.conftest import pdf_text


@pytest.fixture()
def canary():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(302)  # and if anything came, it would be sent on: a redirect to a file
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_fetcher_refuses_every_foreign_url(app, canary):
    host, hits = canary
    fetcher = pdf.safe_fetcher(Path(app.static_folder))
    assert fetcher.fetch(pdf.static_url("css/pdf.css")).read().startswith(b"/*")
    for url in (f"http://{host}/a.png", f"https://{host}/a.css", "file:///etc/passwd", f"ftp://{host}/x",
                pdf.static_url("../../etc/passwd"), pdf.static_url("..%2F..%2Fpyproject.toml"),
                pdf.INTERNAL_ORIGIN + "/other/path", pdf.logo_url(),  # no logo given: refused too
                pdf.static_url("css/pdf.css") + "?x=http://" + host, "data:image/png;base64," + "A" * 40000,
                f"//{host}/protocol-relative.png", "relative/path.png"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert hits == []


def test_a_document_full_of_foreign_urls_renders_without_a_single_request(app, canary, tmp_path):
    host, hits = canary
    big = "data:image/svg+xml;base64," + "PHN2Zz48L3N2Zz4=" * 4000
    html = f"""<html><head>
      <link rel="stylesheet" href="http://{host}/style.css">
      <style>@import url("http://{host}/import.css"); body {{ background: url("http://{host}/bg.png"); }}
             @font-face {{ font-family: X; src: url("http://{host}/font.woff"); }}</style></head>
      <body><p>上海华光科技有限公司</p>
      <img src="http://{host}/img.png"><img src="file:///etc/passwd"><img src="{big}">
      <img src="https://{host}/secure.png"><object data="http://{host}/object"></object>
      <embed src="http://{host}/embed"><iframe src="http://{host}/frame"></iframe>
      <a rel="attachment" href="http://{host}/attachment.txt">att</a>
      <svg><image href="http://{host}/svg-image.png" width="10" height="10"/></svg>
      <img src="{pdf.static_url('favicon.svg')}"></body></html>"""
    with app.test_request_context():
        data = pdf.render_pdf(html)
    assert "上海华光科技有限公司" in pdf_text(data)
    assert hits == []


def test_user_content_in_a_card_cannot_reach_the_canary(card, login, canary):
    """Values are escaped into text, and a URL field is a link, never fetched."""
    host, hits = canary
    from app.clients.models import Client
    from app.clients.services import update_client
    from app.extensions import db
    from app.tenancy import tenant_context

    with tenant_context(card.bundle.id):
        c = db.session.get(Client, card.client_id)
        update_client(card.bundle.owner, c, version=c.version, fields={
            "website": f"http://{host}/site", "qualifications": f'<img src="http://{host}/x"><link rel=stylesheet '
                                                                f'href="http://{host}/y">'})
        db.session.commit()
    r = login(card.bundle.owner).get(f"/clients/{card.client_id}/pdf")
    assert r.status_code == 200
    assert f'<img src="http://{host}/x">' in pdf_text(r.data)  # shown as the text it is
    assert hits == []


def test_a_render_over_its_time_limit_is_stopped(app):
    huge = "<table>" + "".join(f"<tr><td>第{i}行</td><td>客户资料卡</td></tr>" for i in range(20000)) + "</table>"
    with app.test_request_context():
        with pytest.raises(pdf.RenderTimeout):
            pdf.render_pdf(huge, timeout=0.5)


def test_the_page_answers_503_when_the_pdf_takes_too_long(card, login, app):
    app.config["PDF_TIMEOUT"] = 0.01
    try:
        r = login(card.bundle.owner).get(f"/clients/{card.client_id}/pdf")
    finally:
        app.config["PDF_TIMEOUT"] = 20
    assert r.status_code == 503 and r.mimetype == "text/html"


def test_chunks_in_parallel_children_each_keep_their_time_limit_and_their_place(app):
    """Two children at once: the chunk over its limit is stopped and reported in its place; the others render."""
    huge = "<table>" + "".join(f"<tr><td>第{i}行</td><td>客户资料卡</td></tr>" for i in range(20000)) + "</table>"
    chunks = [("a", ["<p>第一张</p>"]), ("b", [huge]), ("c", ["<p>第三张</p>", "<p>第四张</p>"]), ("d", [])]
    with app.test_request_context():
        out = list(pdf.render_pdf_chunks(iter(chunks), merge=True, timeout=1.5, processes=2))
    assert [key for key, _result in out] == ["a", "b", "c", "d"]
    assert "第一张" in pdf_text(out[0][1])
    assert isinstance(out[1][1], pdf.RenderTimeout)
    assert "第三张" in pdf_text(out[2][1]) and "第四张" in pdf_text(out[2][1])
    assert out[3][1] == b""
