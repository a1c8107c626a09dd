"""Card PDFs: the Chinese text is there and right, the CJK font is embedded and subset, no sensitive value unless a
permitted user asks with a reason (and the view log says so), and the document stays small."""
from __future__ import annotations

import re
import subprocess

from sqlalchemy import select

from app.clients.models import ClientView
from app.tenancy import tenant_context
from tests.sharing.conftest import SECRET_HOME, SECRET_LEGAL, pdf_fonts, pdf_text


def _views(card):
    with tenant_context(card.bundle.id):
        from app.extensions import db

        rows = [(v.kind, v.reason) for v in db.session.scalars(
            select(ClientView).where(ClientView.client_id == card.client_id).order_by(ClientView.id))]
        db.session.rollback()
    return rows


def test_card_pdf_has_the_chinese_text_in_an_embedded_subset_cjk_font(card, login, tmp_path):
    r = login(card.bundle.owner).get(f"/clients/{card.client_id}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"]
    text = pdf_text(r.data)
    for expected in ("上海华光科技有限公司", "上海示例贸易有限公司", "张江路88号", "羊毛衫、针织外套、童装",
                     "¥5,000,000", "2015-06-30", "王建国", "采购经理", "老板"):
        assert expected in text, expected
    assert SECRET_HOME not in text and SECRET_LEGAL not in text
    assert re.search(r"\b1\s*/\s*\d\b", text)  # page numbers: "1 / n"
    fonts = pdf_fonts(r.data, tmp_path)
    cjk = [f for f in fonts if "CJK" in f["name"]]
    assert cjk and all(f["emb"] == "yes" and f["sub"] == "yes" and f["uni"] == "yes" for f in cjk)
    assert all(f["emb"] == "yes" for f in fonts)  # nothing left for the reader's machine to substitute
    assert len(r.data) < 300 * 1024
    assert ("pdf", "") in _views(card)


def _first_page_png(data: bytes, tmp_path, name: str) -> bytes:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / name)],
                   check=True)
    return next(tmp_path.glob(f"{name}*.png")).read_bytes()


def test_the_pdf_renders_to_a_page_with_ink_and_the_watermark_shows(card, login, tmp_path):
    """pdftoppm draws the first page: a real document, not a blank page (the pictures are looked at by hand)."""
    owner = login(card.bundle.owner)
    plain = _first_page_png(owner.get(f"/clients/{card.client_id}/pdf").data, tmp_path, "plain")
    marked = _first_page_png(owner.get(f"/clients/{card.client_id}/pdf?watermark=confidential").data, tmp_path,
                             "marked")
    assert plain.startswith(b"\x89PNG") and len(plain) > 3000
    assert marked != plain
    assert owner.get(f"/clients/{card.client_id}/pdf?watermark=secret").status_code == 422


def test_confidential_fields_need_a_reason_and_are_logged(card, login):
    owner = login(card.bundle.owner)
    r = owner.get(f"/clients/{card.client_id}/pdf?include_sensitive=1")
    assert r.status_code == 422 and r.mimetype == "text/html"
    assert 'class="form-row has-error"' in r.get_data(as_text=True) or "has-error" in r.get_data(as_text=True)
    r = owner.get(f"/clients/{card.client_id}/pdf?include_sensitive=1&reason=董事会前核对")
    assert r.status_code == 200
    text = pdf_text(r.data)
    assert SECRET_HOME in text and SECRET_LEGAL in text
    views = _views(card)
    assert ("pdf", "") in views
    assert any(kind == "sensitive" and "董事会前核对" in reason for kind, reason in views)


def test_confidential_fields_are_refused_to_those_who_may_not_read_them(card, login):
    for user in (card.viewer, card.member):  # the member does not own this card
        b = login(user)
        r = b.get(f"/clients/{card.client_id}/pdf?include_sensitive=1&reason=想看")
        assert r.status_code == 403
        r = b.get(f"/clients/{card.client_id}/pdf")
        assert r.status_code == 200
        assert SECRET_HOME not in pdf_text(r.data)
    assert not any(kind == "sensitive" for kind, _r in _views(card))


def test_brief_pdf_holds_only_in_brief_fields(card, login):
    r = login(card.viewer).get(f"/clients/{card.client_id}/pdf?brief=1")
    text = pdf_text(r.data)
    assert "羊毛衫" in text and "王建国" in text
    assert "不在简报里的上级主管部门" not in text and "张江路" not in text


def test_export_form_offers_confidential_fields_only_to_permitted_users(card, login):
    page = login(card.bundle.owner).get(f"/clients/{card.client_id}/export").get_data(as_text=True)
    assert 'name="include_sensitive"' in page
    page = login(card.viewer).get(f"/clients/{card.client_id}/export").get_data(as_text=True)
    assert 'name="include_sensitive"' not in page


def test_another_tenant_gets_404(card, login, db):
    from tests import factories

    other = factories.tenant("乙公司", "owner@b.example")
    b = login(other.owner)
    for url in ("pdf", "export", "brief", "share"):
        assert b.get(f"/clients/{card.client_id}/{url}").status_code == 404


def test_the_company_logo_is_printed_once_uploaded(card, login, app, tmp_path):
    import io

    import segno

    png = io.BytesIO()
    segno.make("客户资料卡").save(png, kind="png", scale=6)
    owner = login(card.bundle.owner)
    r = owner.post("/share-links/logo", data={"logo": (io.BytesIO(b"GIF89a not a png"), "logo.gif")},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "has-error" in r.get_data(as_text=True)
    r = owner.post("/share-links/logo", data={"logo": (io.BytesIO(png.getvalue()), "logo.png")},
                   content_type="multipart/form-data")
    assert r.status_code == 302

    def images(data):
        path = tmp_path / "logo-test.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
        return len(out.splitlines()) - 2

    assert images(owner.get(f"/clients/{card.client_id}/pdf").data) == 1
    owner.post("/share-links/logo", data={"remove": "1"})
    assert images(owner.get(f"/clients/{card.client_id}/pdf").data) == 0
    assert login(card.member).post("/share-links/logo", data={"remove": "1"}).status_code == 403


def test_card_pdf_lists_the_last_five_follow_ups_and_a_brief_none(card, login, db):
    from app.accounts.models import User
    from app.clients.models import Client
    from app.followups.services import add_followup

    with tenant_context(card.bundle.id):
        owner = db.session.get(User, card.bundle.owner.id)
        client = db.session.get(Client, card.client_id)
        for day in range(1, 8):
            add_followup(owner, client, {"date": f"2026-03-0{day}", "method": "电话",
                                         "content": f"第{day}次回访：谈了续约", "plan": f"准备第{day}份报价"})
        db.session.commit()
    text = pdf_text(login(card.bundle.owner).get(f"/clients/{card.client_id}/pdf").data)
    assert [d for d in range(1, 8) if f"第{d}次回访" in text] == [3, 4, 5, 6, 7]  # the latest five
    assert "准备第7份报价" in text and "2026-03-07" in text
    brief = pdf_text(login(card.viewer).get(f"/clients/{card.client_id}/pdf?brief=1").data)
    assert "回访" not in brief
