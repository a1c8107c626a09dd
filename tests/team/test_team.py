"""Team: the colleague list, invites, roles, deactivation and hand-over."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select

from app.accounts.models import AuditRecord, Invite, User, hash_token
from app.accounts.services import create_api_token, user_for_api_token
from app.db_types import utcnow
from app.tenancy import all_tenants
from tests import factories
from tests.conftest import csrf_from


def ident(obj) -> int:
    """The id of a (possibly expired) row, without a tenant in scope."""
    return inspect(obj).identity[0]


def load_user(db, email) -> User:
    return db.session.execute(all_tenants(select(User).where(User.email == email))).scalar_one()


def audit_actions(db, tenant) -> list[str]:
    return list(db.session.scalars(all_tenants(select(AuditRecord.action).where(AuditRecord.tenant_id == tenant.id)
                                               .order_by(AuditRecord.id))))


def invite_link(app) -> str:
    body = app.extensions["mail_outbox"][-1].get_content()
    return re.search(r"(/invite/\S+)", body).group(1)


# ---------------------------------------------------------------- the list

def test_editors_see_the_team_list_only_admins_manage_viewers_never(db, tenant_a, login):
    member = factories.user(tenant_a, "li@a.example", name="李四")
    viewer = factories.user(tenant_a, "v@a.example", role="viewer", name="王五")
    page = login(tenant_a.owner).get("/team/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "李四" in html and "li@a.example" in html and "王五" in html
    assert 'name="role"' in html and "/team/invites" in html
    mpage = login(member).get("/team/")
    mhtml = mpage.get_data(as_text=True)
    assert mpage.status_code == 200 and "王五" in mhtml
    assert 'name="role"' not in mhtml and "/team/invites" not in mhtml and "deactivate" not in mhtml
    # A viewer (an accountant, a partner) never reads the colleagues' emails.
    vpage = login(viewer).get("/team/")
    assert vpage.status_code == 403 and "li@a.example" not in vpage.get_data(as_text=True)


def test_the_account_owner_role_is_not_called_owner_like_a_clients_owner(db, tenant_a, login):
    html = login(tenant_a.owner).get("/team/").get_data(as_text=True)
    assert "Account owner" in html or "所有者" in html


def test_signing_up_counts_as_the_last_sign_in(app, db):
    guest = app.test_client()
    form = guest.get("/signup").get_data(as_text=True)
    r = guest.post("/signup", data={"csrf_token": csrf_from(form), "company": "新公司", "name": "老板",
                                    "email": "boss@new.example", "password": "a-long-password-42",
                                    "language": "zh_CN",
                                    "template": "relationship"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    assert load_user(db, "boss@new.example").last_login_at is not None
    row = guest.get("/team/").get_data(as_text=True).split('data-testid="member-row"', 1)[1].split("</tr>", 1)[0]
    assert "Never" not in row and "从未" not in row


def test_without_a_mail_server_the_message_says_copy_the_link(app, db, tenant_a, login):
    admin = login(tenant_a.owner)
    r = admin.post("/team/invites", data={"email": "new@a.example", "role": "member"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "No mail was sent" in html or "未发送邮件" in html
    assert "Invitation sent" not in html and 'data-copy="#invite-link-field"' in html


def test_team_list_shows_no_other_tenant(db, two_tenants, login):
    a, b = two_tenants
    factories.user(b, "secret@b.example", name="乙公司员工")
    html = login(a.owner).get("/team/").get_data(as_text=True)
    assert "secret@b.example" not in html and "乙公司员工" not in html and "owner@b.example" not in html


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_403_on_admin_actions(db, tenant_a, login, role):
    me = factories.user(tenant_a, "me@a.example", role=role)
    other = ident(factories.user(tenant_a, "other@a.example"))
    b = login(me)
    assert b.post("/team/invites", data={"email": "x@a.example", "role": "member"}).status_code == 403
    assert b.post(f"/team/{other}/role", data={"role": "admin"}).status_code == 403
    assert b.post(f"/team/{other}/deactivate").status_code == 403
    assert b.post(f"/team/{other}/reactivate").status_code == 403
    assert b.get(f"/team/{other}/handover").status_code == 403
    assert b.get("/settings/").status_code == 403
    assert load_user(db, "other@a.example").role == "member"


# ---------------------------------------------------------------- invites

def test_invite_accept_and_sign_in(app, db, tenant_a, login):
    admin = login(tenant_a.owner)
    r = admin.post("/team/invites", data={"email": "New@A.example", "role": "admin"})
    assert r.status_code == 302
    mail = app.extensions["mail_outbox"][-1]
    assert mail["To"] == "new@a.example"
    link = invite_link(app)
    token = link.rsplit("/", 1)[1]
    # Without SMTP the admin sees the link once, to copy it.
    page = admin.get("/team/").get_data(as_text=True)
    assert link in page and 'data-testid="invite-link"' in page
    assert link not in admin.get("/team/").get_data(as_text=True)
    invite = db.session.execute(all_tenants(select(Invite))).scalar_one()
    assert invite.token_hash == hash_token(token) and token not in invite.token_hash
    assert invite.expires_at - utcnow() > timedelta(days=6, hours=23)

    guest = app.test_client()
    form = guest.get(link)
    assert form.status_code == 200 and "new@a.example" in form.get_data(as_text=True)
    csrf = csrf_from(form.get_data(as_text=True))
    r = guest.post(link, data={"csrf_token": csrf, "name": "新同事", "password": "short", "confirm": "short"})
    assert r.status_code == 422
    assert db.session.execute(all_tenants(select(func.count(User.id)))).scalar_one() == 1
    r = guest.post(link, data={"csrf_token": csrf, "name": "新同事", "password": "new-colleague-42",
                               "confirm": "new-colleague-42", "language": "zh_CN"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/home")
    assert "新同事" in guest.get("/home").get_data(as_text=True)
    user = load_user(db, "new@a.example")
    assert user.role == "admin" and user.tenant_id == tenant_a.id
    assert "invite.create" in audit_actions(db, tenant_a.tenant)
    # Single use.
    again = app.test_client().get(link)
    assert again.status_code == 410


def test_invite_expired(app, db, tenant_a, login, as_tenant):
    login(tenant_a.owner).post("/team/invites", data={"email": "late@a.example", "role": "member"})
    link = invite_link(app)
    with as_tenant(tenant_a):
        inv = db.session.execute(select(Invite)).scalar_one()
        inv.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    r = app.test_client().get(link)
    assert r.status_code == 410
    assert "<html" in r.get_data(as_text=True)
    r = app.test_client().post(link, data={"name": "x", "password": "new-colleague-42"})
    assert r.status_code in (400, 410)
    assert db.session.execute(all_tenants(select(func.count(User.id)))).scalar_one() == 1


def test_invite_revoked_and_resent(app, db, tenant_a, login, as_tenant):
    admin = login(tenant_a.owner)
    admin.post("/team/invites", data={"email": "maybe@a.example", "role": "member"})
    first = invite_link(app)
    with as_tenant(tenant_a):
        invite_id = db.session.execute(select(Invite.id)).scalar_one()
    r = admin.post(f"/team/invites/{invite_id}/resend")
    assert r.status_code == 302
    second = invite_link(app)
    assert second != first
    assert app.test_client().get(first).status_code == 410  # the old link stopped working
    assert app.test_client().get(second).status_code == 200
    r = admin.post(f"/team/invites/{invite_id}/revoke")
    assert r.status_code == 302
    assert app.test_client().get(second).status_code == 410
    assert f'id="invite-{invite_id}"' not in admin.get("/team/").get_data(as_text=True)
    actions = audit_actions(db, tenant_a.tenant)
    assert "invite.resend" in actions and "invite.revoke" in actions


def test_invite_for_already_registered_email(app, db, tenant_a, tenant_b, login, as_tenant):
    admin = login(tenant_a.owner)
    r = admin.post("/team/invites", data={"email": "owner@b.example", "role": "member"})
    assert r.status_code == 422
    assert 'id="email-error"' in r.get_data(as_text=True)
    # Registered after the invite went out: the link explains instead of failing.
    admin.post("/team/invites", data={"email": "twice@a.example", "role": "member"})
    link = invite_link(app)
    factories.user(tenant_b, "twice@a.example")
    r = app.test_client().get(link)
    assert r.status_code == 409
    assert "twice@a.example" in r.get_data(as_text=True)


def test_invite_bad_input(db, tenant_a, login):
    admin_user = factories.user(tenant_a, "admin@a.example", role="admin")
    b = login(admin_user)
    r = b.post("/team/invites", data={"email": "not-an-email", "role": "member"})
    assert r.status_code == 422 and 'id="email-error"' in r.get_data(as_text=True)
    r = b.post("/team/invites", data={"email": "", "role": "member"})
    assert r.status_code == 422
    r = b.post("/team/invites", data={"email": "boss@a.example", "role": "owner"})
    assert r.status_code == 422  # only owners make owners
    assert db.session.execute(all_tenants(select(func.count(Invite.id)))).scalar_one() == 0


def test_invalid_invite_token(client, db):
    r = client.get("/invite/nothing-like-a-token")
    assert r.status_code == 410


# ---------------------------------------------------------------- roles

def test_role_select_swaps_the_row(db, tenant_a, login, hx):
    uid = ident(factories.user(tenant_a, "li@a.example", name="李四"))
    b = login(tenant_a.owner)
    r = b.post(f"/team/{uid}/role", data={"role": "admin"}, headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert html.strip().startswith(f'<tr id="user-{uid}"')
    assert re.search(r'<option value="admin"\s+selected', html)
    assert load_user(db, "li@a.example").role == "admin"
    assert "user.role" in audit_actions(db, tenant_a.tenant)
    # Without htmx, the same form redirects back to the list.
    r = b.post(f"/team/{uid}/role", data={"role": "viewer"})
    assert r.status_code == 302
    assert load_user(db, "li@a.example").role == "viewer"


def test_last_owner_cannot_be_demoted_or_deactivated(db, tenant_a, login, hx):
    b = login(tenant_a.owner)
    owner_id = ident(tenant_a.owner)
    # The owner's own row has no controls, but the request itself is refused too.
    r = b.post(f"/team/{owner_id}/role", data={"role": "admin"}, headers=hx)
    assert r.status_code == 422
    assert "last owner" in r.get_data(as_text=True) or "最后" in r.get_data(as_text=True)
    assert load_user(db, "owner@a.example").role == "owner"
    second = factories.user(tenant_a, "co@a.example", role="owner")
    r = login(second).post(f"/team/{owner_id}/deactivate")
    assert r.status_code == 302
    # Now co@ is the last active owner: the first owner (deactivated) cannot... but co@ cannot demote itself.
    r = login(second).post(f"/team/{ident(second)}/role", data={"role": "member"}, headers=hx)
    assert r.status_code == 422
    assert load_user(db, "co@a.example").role == "owner"


def test_admins_cannot_touch_owners_or_make_owners(db, tenant_a, login, hx):
    admin = factories.user(tenant_a, "admin@a.example", role="admin")
    member_id = ident(factories.user(tenant_a, "m@a.example"))
    owner_id = ident(tenant_a.owner)
    b = login(admin)
    assert b.post(f"/team/{owner_id}/role", data={"role": "member"}, headers=hx).status_code == 422
    b.post(f"/team/{owner_id}/deactivate")
    assert load_user(db, "owner@a.example").active
    assert b.post(f"/team/{member_id}/role", data={"role": "owner"}, headers=hx).status_code == 422
    assert load_user(db, "m@a.example").role == "member"
    assert b.post(f"/team/{member_id}/role", data={"role": "admin"}, headers=hx).status_code == 200
    # Owners can make and unmake owners.
    o = login(tenant_a.owner)
    assert o.post(f"/team/{member_id}/role", data={"role": "owner"}, headers=hx).status_code == 200
    assert o.post(f"/team/{member_id}/role", data={"role": "member"}, headers=hx).status_code == 200
    assert load_user(db, "m@a.example").role == "member"


def test_unknown_role_is_refused(db, tenant_a, login, hx):
    uid = ident(factories.user(tenant_a, "m@a.example"))
    r = login(tenant_a.owner).post(f"/team/{uid}/role", data={"role": "superuser"}, headers=hx)
    assert r.status_code == 422
    assert load_user(db, "m@a.example").role == "member"


# ---------------------------------------------------------------- deactivation

def test_deactivation_ends_sessions_sign_in_and_tokens(app, db, tenant_a, login, as_tenant):
    leaver = factories.user(tenant_a, "leaver@a.example")
    leaver_id = ident(leaver)
    with as_tenant(tenant_a):
        token = create_api_token(load_user(db, "leaver@a.example"), "sync")
        db.session.commit()
    their_browser = login(leaver)
    assert their_browser.get("/home").status_code == 200

    r = login(tenant_a.owner).post(f"/team/{leaver_id}/deactivate")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/team/{leaver_id}/handover")
    assert not load_user(db, "leaver@a.example").active
    # Their open session ends, they can't sign in again, their API token stops working.
    assert their_browser.get("/home").status_code == 302
    fresh = app.test_client()
    page = fresh.get("/login")
    r = fresh.post("/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                   "email": "leaver@a.example", "password": factories.PASSWORD})
    assert r.status_code == 422
    assert user_for_api_token(token) is None
    assert "user.deactivate" in audit_actions(db, tenant_a.tenant)

    r = login(tenant_a.owner).post(f"/team/{leaver_id}/reactivate")
    assert r.status_code == 302
    assert load_user(db, "leaver@a.example").active
    assert user_for_api_token(token) is not None
    assert login(load_user(db, "leaver@a.example")).get("/home").status_code == 200


def test_cannot_deactivate_yourself(db, tenant_a, login):
    admin = factories.user(tenant_a, "admin@a.example", role="admin")
    r = login(admin).post(f"/team/{ident(admin)}/deactivate")
    assert r.status_code == 302
    assert load_user(db, "admin@a.example").active


# ---------------------------------------------------------------- hand-over

def test_handover_page_counts_and_validates(db, tenant_a, login):
    leaver = factories.user(tenant_a, "leaver@a.example", name="离职者")
    factories.user(tenant_a, "stay@a.example", name="留任者")
    factories.user(tenant_a, "viewer@a.example", role="viewer", name="只读者")
    factories.client(tenant_a, "上海甲", owner_id=ident(leaver))
    factories.client(tenant_a, "上海乙", owner_id=ident(leaver))
    b = login(tenant_a.owner)
    b.post(f"/team/{ident(leaver)}/deactivate")
    page = b.get(f"/team/{ident(leaver)}/handover")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "留任者" in html and "只读者" not in html and 'value="' + str(ident(leaver)) + '"' not in html
    assert re.search(r"\b2\b", html)
    r = b.post(f"/team/{ident(leaver)}/handover", data={})
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    r = b.post(f"/team/{ident(leaver)}/handover", data={"to_user": str(ident(leaver))})
    assert r.status_code == 422


def test_handover_gives_clients_to_colleagues(db, tenant_a, login, as_tenant):
    pytest.importorskip("app.clients.handover", reason="app.clients.handover lands with the clients work")
    from app.clients.models import Client

    leaver = factories.user(tenant_a, "leaver@a.example")
    one = ident(factories.user(tenant_a, "one@a.example"))
    two = ident(factories.user(tenant_a, "two@a.example"))
    for i in range(4):
        factories.client(tenant_a, f"客户{i}", owner_id=ident(leaver))
    b = login(tenant_a.owner)
    b.post(f"/team/{ident(leaver)}/deactivate")
    r = b.post(f"/team/{ident(leaver)}/handover", data={"to_user": [str(one), str(two)]})
    assert r.status_code == 302 and r.headers["Location"].endswith("/team/")
    with as_tenant(tenant_a):
        owners = sorted(db.session.scalars(select(Client.owner_id)))
    assert owners == sorted([one, one, two, two])


def test_other_tenants_team_objects_are_404(db, two_tenants, login, hx, as_tenant):
    a, b = two_tenants
    theirs = ident(factories.user(b, "theirs@b.example"))
    login(b.owner).post("/team/invites", data={"email": "inv@b.example", "role": "member"})
    with as_tenant(b):
        invite_id = db.session.execute(select(Invite.id)).scalar_one()
    me = login(a.owner)
    assert me.post(f"/team/{theirs}/role", data={"role": "viewer"}, headers=hx).status_code == 404
    assert me.post(f"/team/{theirs}/deactivate").status_code == 404
    assert me.get(f"/team/{theirs}/handover").status_code == 404
    assert me.post(f"/team/invites/{invite_id}/revoke").status_code == 404
    assert me.post(f"/team/invites/{invite_id}/resend").status_code == 404
    assert load_user(db, "theirs@b.example").active and load_user(db, "theirs@b.example").role == "member"
