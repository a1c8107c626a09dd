"""Share links: a colleague opens the brief by link (never a sensitive field), the links are revocable and expire
(410), tokens are long random strings stored only as hashes, a wrong access code is throttled, and every opening
lands in the link's log and the card's view log."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.clients.models import ClientView
from app.db_types import utcnow
from app.extensions import db
from app.sharing.models import ShareLink, ShareLinkView
from app.tenancy import all_tenants, tenant_context
from tests.conftest import csrf_from
from tests.sharing.conftest import SECRET_HOME, SECRET_LEGAL, pdf_text

URL_RE = re.compile(r'value="(http://[^"]+/s/([A-Za-z0-9_-]+))"')


def _make(browser, client_id, **form):
    r = browser.post(f"/clients/{client_id}/share", data=form)
    assert r.status_code == 201, r.get_data(as_text=True)[:1000]
    url, token = URL_RE.search(r.get_data(as_text=True)).groups()
    return url, token, r


def _link(_what=None):
    """Every share link row, detached (read across tenants, as the share page does)."""
    rows = db.session.execute(all_tenants(select(ShareLink).order_by(ShareLink.id))).scalars().all()
    db.session.expunge_all()
    db.session.rollback()
    return rows


def test_a_colleague_reads_the_brief_by_link_and_it_is_logged(card, login, app):
    member = login(card.member)
    url, token, r = _make(member, card.client_id, label="财务部李姐")
    assert len(token) >= 32  # 192 random bits, URL-safe
    assert "<svg" in r.get_data(as_text=True)  # the QR code of the link
    # Only the hash is stored: the token appears in no column of the row.
    (row,) = _link(token)
    assert token not in repr(vars(row)) and row.token_hash != token and len(row.token_hash) == 64

    visitor = app.test_client()  # no sign-in at all
    page = visitor.get(f"/s/{token}", headers={"User-Agent": "Mozilla/5.0 MicroMessenger/8.0"}, environ_base={
        "REMOTE_ADDR": "10.1.2.3"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "noindex" in page.headers["X-Robots-Tag"]
    assert "上海华光科技有限公司" in body and "羊毛衫、针织外套、童装" in body and "王建国" in body
    assert "财务部李姐" in body  # the watermark names the recipient
    assert SECRET_HOME not in body and SECRET_LEGAL not in body
    assert "不在简报里的上级主管部门" not in body  # not an in-brief field
    assert 'name="viewport"' in body

    pdf = visitor.get(f"/s/{token}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Referrer-Policy"] == "no-referrer"
    text = pdf_text(pdf.data)
    assert "羊毛衫" in text and SECRET_HOME not in text

    with tenant_context(card.bundle.id):
        link = db.session.scalars(select(ShareLink)).one()
        assert link.view_count == 2
        views = db.session.scalars(select(ShareLinkView).order_by(ShareLinkView.id)).all()
        assert [(v.kind, v.ip) for v in views][0] == ("open", "10.1.2.3")
        assert "MicroMessenger" in views[0].user_agent
        kinds = [v.kind for v in db.session.scalars(select(ClientView).where(
            ClientView.client_id == card.client_id))]
        assert "share" in kinds and "share_open" in kinds and "share_pdf" in kinds
        db.session.rollback()
    # The card's view log page shows the openings to an admin.
    log = login(card.bundle.owner).get(f"/clients/{card.client_id}/views").get_data(as_text=True)
    assert "财务部李姐" in log


def test_sensitive_fields_stay_out_even_when_flagged_for_briefs(card, login, app):
    """An admin marks a sensitive field "in brief": the brief and the share page still leave it out."""
    from app.card_templates.models import FieldDef

    with tenant_context(card.bundle.id):
        for fd in db.session.scalars(select(FieldDef).where(FieldDef.key.in_(["pic_home_address",
                                                                            "legal_rep_home_address"]))):
            fd.in_brief = True
        db.session.commit()
    owner = login(card.bundle.owner)
    brief = owner.get(f"/clients/{card.client_id}/brief").get_data(as_text=True)
    assert "羊毛衫" in brief and SECRET_HOME not in brief and SECRET_LEGAL not in brief
    _url, token, _r = _make(owner, card.client_id)
    body = app.test_client().get(f"/s/{token}").get_data(as_text=True)
    assert "羊毛衫" in body and SECRET_HOME not in body and SECRET_LEGAL not in body


def test_revoked_and_expired_links_answer_410(card, login, app):
    owner = login(card.bundle.owner)
    _u, revoked, _r = _make(owner, card.client_id, label="要撤销的")
    _u, expired, _r = _make(owner, card.client_id, expires="1")
    visitor = app.test_client()
    assert visitor.get(f"/s/{revoked}").status_code == 200
    with tenant_context(card.bundle.id):
        link = db.session.scalars(select(ShareLink).where(ShareLink.label == "要撤销的")).one()
        link_id = link.id
        later = db.session.scalars(select(ShareLink).where(ShareLink.id != link_id)).one()
        later.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    r = owner.post(f"/share-links/{link_id}/revoke")
    assert r.status_code == 302
    for token in (revoked, expired):
        r = visitor.get(f"/s/{token}")
        assert r.status_code == 410 and "share-gone" in r.get_data(as_text=True)
        assert visitor.get(f"/s/{token}/pdf").status_code == 410
    assert visitor.get("/s/" + "A" * 32).status_code == 404


def test_unknown_tokens_are_throttled_per_address(card, app):
    app.config["SHARE_LOOKUP_LIMIT"] = "5 per minute"
    try:
        visitor = app.test_client()
        codes = [visitor.get(f"/s/guess{i:028d}").status_code for i in range(7)]
    finally:
        app.config["SHARE_LOOKUP_LIMIT"] = "30 per minute"
    assert codes[:5] == [404] * 5 and codes[-1] == 429


def test_access_code_and_throttled_guesses(card, login, app):
    _u, token, _r = _make(login(card.member), card.client_id, access_code="8642")
    visitor = app.test_client()
    page = visitor.get(f"/s/{token}")
    assert page.status_code == 200 and "code-form" in page.get_data(as_text=True)
    assert "羊毛衫" not in page.get_data(as_text=True)
    assert visitor.get(f"/s/{token}/pdf").status_code == 303
    csrf = csrf_from(page.get_data(as_text=True))
    r = visitor.post(f"/s/{token}", data={"access_code": "0000", "csrf_token": csrf})
    assert r.status_code == 422 and "has-error" in r.get_data(as_text=True)
    r = visitor.post(f"/s/{token}", data={"access_code": "8642", "csrf_token": csrf})
    assert r.status_code == 303
    assert "羊毛衫" in visitor.get(f"/s/{token}").get_data(as_text=True)
    # Guessing from elsewhere: after a few wrong codes the link refuses even the right one for a while.
    guesser = app.test_client()
    csrf = csrf_from(guesser.get(f"/s/{token}").get_data(as_text=True))
    codes = [guesser.post(f"/s/{token}", data={"access_code": f"{i:04d}", "csrf_token": csrf}).status_code
             for i in range(6)]
    assert codes[0] == 422 and 429 in codes
    assert guesser.post(f"/s/{token}", data={"access_code": "8642", "csrf_token": csrf}).status_code == 429


def test_bad_input_is_shown_next_to_the_field(card, login):
    member = login(card.member)
    for form, field in (({"expires": "date", "expires_on": "2020-01-01"}, "expires_on"),
                        ({"expires": "999999"}, "expires"), ({"access_code": "12"}, "access_code"),
                        ({"label": "长" * 101}, "label"), ({"expires": "date", "expires_on": "明天"}, "expires_on")):
        r = member.post(f"/clients/{card.client_id}/share", data=form)
        assert r.status_code == 422, form
        assert "has-error" in r.get_data(as_text=True)
    assert _link(None) == []


def test_viewers_cannot_share_and_others_cannot_revoke(card, login):
    viewer = login(card.viewer)
    assert viewer.get(f"/clients/{card.client_id}/share").status_code == 403
    assert viewer.post(f"/clients/{card.client_id}/share").status_code == 403
    _u, _t, _r = _make(login(card.bundle.owner), card.client_id)
    (row,) = _link(None)
    assert login(card.member).post(f"/share-links/{row.id}/revoke").status_code == 404
    assert viewer.post(f"/share-links/{row.id}/revoke").status_code == 404
    assert _link(None)[0].revoked_at is None


def test_admin_page_lists_live_links_and_revokes_any(card, login, app):
    _u, token, _r = _make(login(card.member), card.client_id, label="给老板")
    owner = login(card.bundle.owner)
    page = owner.get("/share-links").get_data(as_text=True)
    assert "给老板" in page and "销售小刘" in page
    (row,) = _link(None)
    assert owner.post(f"/share-links/{row.id}/revoke", data={"next": "/share-links"}).headers["Location"] \
        .endswith("/share-links")
    assert "给老板" not in owner.get("/share-links").get_data(as_text=True)
    assert app.test_client().get(f"/s/{token}").status_code == 410
    assert login(card.member).get("/share-links").status_code == 403


def test_a_link_opens_only_its_own_tenant_card(card, login, app, db):
    """The share page takes its tenant from the link, also for a visitor signed in to another company."""
    from tests import factories

    other = factories.tenant("乙公司", "owner@b.example")
    factories.client(other, "乙公司的客户", fields={"main_products": "乙方产品"})
    _u, token, _r = _make(login(card.member), card.client_id)
    stranger = login(other.owner)
    body = stranger.get(f"/s/{token}").get_data(as_text=True)
    assert "上海华光科技有限公司" in body and "乙方产品" not in body
    (row,) = _link(None)
    assert stranger.post(f"/share-links/{row.id}/revoke").status_code == 404
