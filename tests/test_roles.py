"""The role walk inside one tenant: every URL rule × owner / admin / member / viewer × the card acted on.

tests/test_tenancy.py proves another tenant's objects answer 404; this walk proves the rules written at the top of
app/clients/access.py inside one tenant:

  owner, admin  everything; sensitive fields of every card
  member        creates and edits cards; sensitive fields only of cards they own or co-own;
                sees every card unless "members see all clients" is off
  viewer        reads cards (never sensitive fields), never owns one, follows the same visibility setting

EXPECT maps every (endpoint, method) of the URL map to who may do it and what a permitted request answers; a rule
without an entry fails test_every_rule_has_an_expectation. The expectations are written from the rules above, not
from access.py's code, so that a route that asks the wrong question (or none) fails here.

Objects: "own" (a card the acting user owns; viewers never own one), "colleague" (owned by another member, no
sensitive value), "sensitive" (owned by another member, with a sensitive value). Every card with a sensitive value
carries its own marker string, and no response may carry the marker of a card whose sensitive fields the acting
user may not read. Tenant "all" has members_see_all on, tenant "own" has it off.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Callable

import pytest
from sqlalchemy import inspect, select

from app.card_templates.formdata import input_name
from app.extensions import db as _db, limiter
from app.tenancy import set_current_tenant, tenant_context
from tests import factories
from tests.conftest import Browser, _truncate_all, readable_body

ROLES = ("owner", "admin", "member", "viewer")
OBJECTS = ("own", "colleague", "sensitive")
ADMINS = ("owner", "admin")
EDITORS = ("owner", "admin", "member")
SENSITIVE_SECTION = "legal_rep"           # key_account_company: 法定代表人
SENSITIVE_FIELD = "legal_rep_home_address"  # sensitive: true in key_account_company.json
REQUIRED = {"business_phone": "021-5588 1234", "industry": "服装"}
ABSENT_ID = 987654


# ---------------------------------------------------------------- who may (the documented rules, not access.py)

def anyone(role, obj):
    return True


def editors(role, obj):
    return role in EDITORS


def admins(role, obj):
    return role in ADMINS


def owner_only(role, obj):
    return role == "owner"


def reads_sensitive(role, obj):
    """owner/admin: every card; member: cards they own or co-own; viewer: never."""
    return role in ADMINS or (role == "member" and obj == "own")


def edits_and_reads_sensitive(role, obj):
    return role in EDITORS and reads_sensitive(role, obj)


NEVER, REVEALED = "never", "revealed"


@dataclass(frozen=True)
class Expect:
    """What a request answers: `ok` when `who(role, obj)` allows it, else `denied` (403).

    `card`: the URL names a client card (walked per object, and 404 where the card is not visible);
    `gate_first`: the role check runs before the card is looked up (API decorators), so a denied role gets 403
    even for a card it cannot see; `secret`: NEVER (no sensitive value in the body, whoever asks) or REVEALED (the
    target card's sensitive value is shown to users who may read it, after they opened its section);
    `mutates`: run against a fresh card (or other object) per case so the walk stays order-independent.
    """

    ok: int
    who: Callable = anyone
    card: bool = False
    secret: str = NEVER
    mutates: bool = False
    gate_first: bool = False
    denied: int = 403
    objects: tuple = ()  # limits the objects walked (default: all that apply)
    note: str = ""


def card(ok, who=anyone, **kw):
    return Expect(ok, who, card=True, **kw)


E = Expect
EXPECT: dict[tuple[str, str], Expect] = {
    # ---------------- public pages and the session (not role-dependent; a signed-in user is sent on)
    ("static", "GET"): E(200),
    ("main.index", "GET"): E(302, note="signed in: to /home"),
    ("main.healthz", "GET"): E(200),
    ("main.home", "GET"): E(200),
    ("main.set_language", "POST"): E(302),
    ("auth.login", "GET"): E(302),
    ("auth.login", "POST"): E(302),
    ("auth.signup", "GET"): E(302),
    ("auth.signup", "POST"): E(302),
    ("auth.logout", "POST"): E(302),
    ("auth.forgot_password", "GET"): E(200),
    ("auth.forgot_password", "POST"): E(422, note="empty form"),
    ("auth.reset_password", "GET"): E(410, note="a token that is no reset token"),
    ("auth.reset_password", "POST"): E(410),
    ("auth.accept_invite", "GET"): E(410, note="a token that is no invite"),
    ("auth.accept_invite", "POST"): E(410),
    # ---------------- the user's own account
    ("auth.account", "GET"): E(200),
    ("auth.account", "POST"): E(302, note="empty form: the error is flashed"),
    ("auth.change_password", "POST"): E(422, note="empty form"),
    ("auth.create_token", "POST"): E(302, note="empty form: the error is flashed"),
    ("auth.revoke_token", "POST"): E(302, mutates=True, note="the user's own spare token"),
    # ---------------- team: editors see the team (viewers never), admins manage it
    ("team.index", "GET"): E(200, editors),
    ("team.invite", "POST"): E(422, admins, note="empty form"),
    ("team.resend", "POST"): E(302, admins, mutates=True),
    ("team.revoke", "POST"): E(302, admins, mutates=True),
    ("team.set_role", "POST"): E(302, admins, mutates=True, note="a fresh member kept a member"),
    ("team.deactivate_user", "POST"): E(302, admins, mutates=True),
    ("team.reactivate_user", "POST"): E(302, admins, mutates=True),
    ("team.handover", "GET"): E(200, admins),
    ("team.handover", "POST"): E(422, admins, note="no colleague chosen"),
    # ---------------- settings and the template: admins only
    ("settings.index", "GET"): E(200, admins),
    ("settings.index", "POST"): E(422, admins, note="empty form"),
    ("settings.number_preview", "GET"): E(200, admins),
    ("settings.stage_add", "POST"): E(422, admins, note="empty form"),
    ("settings.stage_move", "POST"): E(422, admins, note="empty form"),
    ("settings.stage_remove", "POST"): E(422, admins, note="empty form"),
    ("settings.stage_rename", "POST"): E(422, admins, note="empty form"),
    ("card_templates.edit", "GET"): E(200, admins),
    ("card_templates.changes", "GET"): E(200, admins),
    ("card_templates.export", "GET"): E(200, admins),
    ("card_templates.outline", "GET"): E(200, admins),
    ("card_templates.preview", "GET"): E(200, admins),
    ("card_templates.merge", "GET"): E(200, admins),
    ("card_templates.merge", "POST"): E(422, admins, note="empty form"),
    ("card_templates.import_", "POST"): E(422, admins, note="no file"),
    ("card_templates.add_section", "POST"): E(422, admins, note="empty form"),
    ("card_templates.add_field", "POST"): E(404, admins, note="empty form names no section"),
    ("card_templates.field", "GET"): E(200, admins),
    # POSTs on a template key name a key that does not exist: 404 shows the role passed the gate, nothing changes.
    **{(f"card_templates.{name}", "POST"): E(404, admins, note="absent key")
       for name in ("update_field", "archive_field", "restore_field", "set_columns", "move_field", "add_option",
                    "move_option", "rename_option", "restore_option", "retire_option", "change_type",
                    "rename_section", "archive_section", "move_section", "restore_section")},
    # ---------------- the client list
    ("clients.index", "GET"): E(200),
    ("clients.count", "GET"): E(200),
    ("clients.new", "GET"): E(200, editors),
    ("clients.create", "POST"): E(302, editors),
    ("clients.bulk", "POST"): E(302, editors, note="archive a fresh card"),
    ("clients.save_view", "POST"): E(302),
    ("clients.delete_view", "POST"): E(302, mutates=True, note="the user's own saved view"),
    ("clients.user_view_log", "GET"): E(200, admins),
    # ---------------- the card page
    ("clients.show", "GET"): card(200, note="sensitive sections stay closed on a fresh open"),
    # Without HX-Request the header routes render the whole card, with the sections opened in this session.
    ("clients.header", "GET"): card(200, secret=REVEALED),
    ("clients.edit_header", "GET"): card(200, editors, secret=REVEALED),
    ("clients.update_header", "POST"): card(302, editors, mutates=True, note="rename only"),
    ("clients.section", "GET"): card(200, secret=REVEALED),
    ("clients.edit_section", "GET"): card(200, editors, secret=REVEALED),
    ("clients.update_section", "POST"): card(302, editors, mutates=True),
    ("clients.reveal_section", "POST"): card(200, reads_sensitive, secret=REVEALED),
    ("clients.validate_field", "POST"): card(200, editors),
    ("clients.history", "GET"): card(200, secret=REVEALED),
    ("clients.as_of", "GET"): card(200, secret=REVEALED),
    ("clients.revert", "POST"): card(302, editors, mutates=True, note="reverts @name"),
    ("clients.view_log", "GET"): card(200, admins),
    ("clients.print_card", "GET"): card(200, note="prints never carry sensitive values"),
    ("clients.prep", "GET"): card(200),
    ("clients.archive", "POST"): card(302, editors, mutates=True),
    ("clients.restore", "POST"): card(302, editors, mutates=True),
    ("clients.delete", "GET"): card(200, owner_only),
    ("clients.delete", "POST"): card(302, owner_only, mutates=True),
    ("clients.merge", "GET"): card(200, editors, secret=REVEALED),
    # Merging two cards that differ in a sensitive field needs to read it on both.
    ("clients.merge", "POST"): card(302, lambda r, o: editors(r, o) and (o == "colleague" or reads_sensitive(r, o)),
                                    mutates=True),
    # ---------------- jobs (progress bars): only the user who started a job (or an admin) sees it
    ("jobs.status", "GET"): E(200, note="the role's own job"),
    ("jobs.download", "GET"): E(200, note="the role's own finished export"),
    # ---------------- import and export
    ("imports.index", "GET"): E(200, editors),
    ("imports.upload", "POST"): E(422, editors, note="no file"),
    ("imports.show", "GET"): E(200, note="the role's own finished import"),
    ("imports.mapping", "POST"): E(302, editors, note="a finished import: back to its page"),
    ("imports.start", "POST"): E(302, editors, note="a finished import: back to its page"),
    ("imports.report", "GET"): E(200),
    ("imports.undo", "POST"): E(302, editors, note="nothing to undo: a message"),
    ("imports.export_list", "GET"): E(200, note="sensitive fields only when asked for"),
    ("imports.export_all", "POST"): E(200, owner_only, mutates=True),
    ("imports.restore_upload", "POST"): E(403, owner_only, note="the walk's company has clients: refused, a message"),
    # ---------------- the API
    ("api.openapi", "GET"): E(200),
    ("api.template_show", "GET"): E(200),
    ("api.template_field_create", "POST"): E(422, admins, note="empty body"),
    ("api.template_field_update", "PATCH"): E(404, admins, note="absent key"),
    ("api.template_field_archive", "DELETE"): E(404, admins, note="absent key"),
    ("api.template_field_restore", "POST"): E(404, admins, note="absent key"),
    ("api.clients_index", "GET"): E(200, note="list items never carry sensitive values"),
    ("api.clients_create", "POST"): E(201, editors),
    ("api.clients_batch", "POST"): E(201, editors),
    ("api.clients_show", "GET"): card(200, secret=REVEALED),
    ("api.clients_history", "GET"): card(200, secret=REVEALED),
    ("api.clients_update", "PATCH"): card(200, editors, mutates=True, gate_first=True, secret=REVEALED,
                                          note="rename only"),
    ("api.clients_archive", "DELETE"): card(204, editors, mutates=True, gate_first=True),
    ("api.clients_restore", "POST"): card(200, editors, mutates=True, gate_first=True, secret=REVEALED),
    ("api.clients_views", "GET"): card(200, admins, gate_first=True),
    # ---------------- billing (walked with billing on: see BILLING_ON); owners and admins only
    ("billing.index", "GET"): E(200, admins),
    ("billing.checkout", "POST"): E(422, admins, note="empty form: no seats"),
    ("billing.portal", "POST"): E(422, admins, note="no Stripe customer yet: nothing to manage"),
    ("billing.details", "POST"): E(302, admins, note="empty invoice details are valid"),
    ("billing.webhook", "POST"): E(400, note="unsigned: refused for everyone, signed in or not"),
    ("api.billing_show", "GET"): E(200, admins),
    # ---------------- follow-ups and grading
    ("followups.timeline", "GET"): card(200),
    ("followups.add", "POST"): card(422, editors, note="empty form"),
    ("followups.grade", "POST"): card(422, editors, note="empty form: no grade, no reason"),
    # The follow-up acted on was written by the card's owner: its author and admins may edit it.
    ("followups.edit", "GET"): card(200, lambda r, o: r in ADMINS or (r == "member" and o == "own")),
    ("followups.update", "POST"): card(302, lambda r, o: r in ADMINS or (r == "member" and o == "own"),
                                       note="empty form changes nothing"),
    ("followups.churn", "POST"): card(422, editors, note="empty form: no reason"),
    ("followups.review", "GET"): E(200, note="counts of the clients the user may see"),
    ("followups.review_xlsx", "GET"): E(200),
    ("followups.review_pdf", "GET"): E(200),
    ("followups.grading", "GET"): E(200, admins),
    ("followups.grading", "POST"): E(422, admins, note="empty form"),
    ("followups.grading_preview", "GET"): E(422, admins, note="no rules given"),
    ("followups.calendar", "GET"): E(200),
    ("followups.calendar_create", "POST"): E(200, note="the new link is shown once"),
    ("followups.calendar_revoke", "POST"): E(302),
    ("followups.calendar_feed", "GET"): E(404, note="a token that is no feed"),
    ("api.grading_show", "GET"): E(200),
    ("api.grading_update", "PUT"): E(422, admins, note="empty body"),
    ("api.followups_index", "GET"): card(200),
    ("api.followups_create", "POST"): card(422, editors, gate_first=True, note="empty body"),
    ("api.followups_due", "GET"): E(200),
    # ---------------- PDFs, briefs and share links
    ("sharing.brief", "GET"): card(200, note="a brief never carries a sensitive value"),
    ("sharing.export", "GET"): card(200),
    ("sharing.pdf", "GET"): card(200, note="confidential fields only when asked, with a reason"),
    ("sharing.share", "GET"): card(200, editors),
    ("sharing.create_link", "POST"): card(201, editors, mutates=True, note="empty form: 7 days"),
    # A link is revoked by its maker or an admin; anyone else gets 404 (links of others are not listed to them).
    ("sharing.revoke", "POST"): E(302, editors, mutates=True, denied=404, note="viewers: a link of the owner's"),
    ("sharing.links", "GET"): E(200, admins),
    ("sharing.logo", "POST"): E(422, admins, note="no file"),
    ("sharing.shared", "GET"): E(404, note="a token that is no share link"),
    ("sharing.unlock", "POST"): E(404, note="a token that is no share link"),
    ("sharing.shared_pdf", "GET"): E(404, note="a token that is no share link"),
    ("api.clients_pdf", "GET"): card(200),
    ("sharing.batch", "GET"): E(200, note="the options of a batch export of the list"),
    ("sharing.batch_start", "POST"): E(422, note="nothing ticked: the message, no job"),
    ("sharing.batch_job", "GET"): E(200, note="the role's own batch"),
    ("api.clients_pdf_batch", "POST"): E(422, note="an empty id list"),
    ("api.clients_pdf_batch_show", "GET"): E(200, note="the role's own batch"),
    ("api.clients_pdf_batch_file", "GET"): E(200, note="the role's own finished batch"),
    ("api.clients_brief", "GET"): card(200),
    ("api.share_links_create", "POST"): card(201, editors, mutates=True, gate_first=True),
    ("api.share_links_index", "GET"): E(200),
    ("api.share_links_revoke", "DELETE"): E(204, editors, mutates=True, denied=404,
                                            note="viewers: a link of the owner's"),
    ("api.clients_export", "GET"): E(200, note="sensitive fields only when asked for"),
    ("api.imports_create", "POST"): E(422, editors, note="no file"),
    ("api.imports_show", "GET"): E(200, note="the role's own import"),
    ("api.imports_undo", "POST"): E(409, editors, note="nothing to undo"),
}

# Billing answers 404 everywhere without STRIPE_SECRET_KEY (self-hosted); its routes are walked with it set.
BILLING_ON = ("billing.", "api.billing_")

# Known contradictions of the rules: (endpoint, method, role, object, visibility) -> reason. Each is an
# xfail(strict=True) case: it fails the day the route is fixed, so the entry is removed with the fix.
KNOWN_WRONG: dict[tuple, str] = {}


# ---------------------------------------------------------------- the tenants (built once per module)

@dataclass
class Card:
    id: int
    name: str
    owner_id: int
    secret: str | None
    co_owner_ids: tuple = ()


@dataclass
class Tenant:
    visibility: str
    bundle: object
    users: dict = field(default_factory=dict)       # role -> user id (plus "member2", "viewer" ...)
    browsers: dict = field(default_factory=dict)    # role -> Browser
    tokens: dict = field(default_factory=dict)      # role -> API token
    shared: dict = field(default_factory=dict)      # (object, role) -> Card, for reads
    cards: dict = field(default_factory=dict)       # card id -> Card (every card made, for the secret check)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))


def _ident(obj) -> int:
    return inspect(obj).identity[0]


def make_card(t: Tenant, obj: str, role: str, *, label: str = "") -> Card:
    """A card of this kind for this acting role; `own` belongs to the role's user, the others to member2."""
    n = next(t.counter)
    owner_id = t.users[role] if obj == "own" else t.users["member2"]
    name = f"角色测试客户{t.visibility}{n}号{label}"
    secret = None if obj == "colleague" else f"机密住址{t.visibility}{n}弄"
    fields = dict(REQUIRED)
    if secret:
        fields[SENSITIVE_FIELD] = secret
    c = factories.client(t.bundle, name, owner_id=owner_id, fields=fields)
    made = Card(_ident(c), name, owner_id, secret)
    _backdate(t, made.id)
    t.cards[made.id] = made
    return made


def _backdate(t: Tenant, card_id: int) -> None:
    """Make the card's values over a year old, so visit prep lists them as stale (with their values)."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.clients.models import Client, ClientChange
    from app.db_types import utcnow

    long_ago = utcnow() - timedelta(days=400)
    with tenant_context(t.bundle.id):
        _db.session.execute(update(ClientChange).where(ClientChange.client_id == card_id).values(at=long_ago))
        _db.session.execute(update(Client).where(Client.id == card_id).values(created_at=long_ago))
        _db.session.commit()


def _login(app, email) -> Browser:
    b = Browser(app.test_client())
    r = b.post("/login", data={"email": email, "password": factories.PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    set_current_tenant(None)
    return b


def build_tenant(app, visibility: str) -> Tenant:
    from app.accounts.models import User
    from app.accounts.services import create_api_token

    n = {"all": "甲", "own": "乙"}[visibility]
    bundle = factories.tenant(f"{n}角色公司", f"owner@{visibility}.example")
    t = Tenant(visibility, bundle)
    t.users["owner"] = _ident(bundle.owner)
    for role, email in (("admin", "admin"), ("member", "member"), ("member2", "member2"), ("viewer", "viewer")):
        t.users[role] = _ident(factories.user(bundle, f"{email}@{visibility}.example",
                                              "member" if role == "member2" else role, f"{n}{email}"))
    with tenant_context(bundle.id):
        bundle.tenant = _db.session.get(type(bundle.tenant), bundle.id)
        bundle.tenant.update_settings(members_see_all=visibility == "all")
        for role in ROLES:
            t.tokens[role] = create_api_token(_db.session.get(User, t.users[role]), "walk")
        _db.session.commit()
    emails = {"owner": f"owner@{visibility}.example", **{r: f"{r}@{visibility}.example" for r in ROLES[1:]}}
    for role in ROLES:
        t.browsers[role] = _login(app, emails[role])
        for obj in OBJECTS:
            if obj == "own" and role == "viewer":
                continue
            t.shared[(obj, role)] = make_card(t, obj, role)
    return t


@pytest.fixture(scope="module")
def walk(app):
    ctx = app.app_context()
    ctx.push()
    set_current_tenant(None)
    limiter.reset()
    app.extensions["mail_outbox"] = []
    try:
        yield {v: build_tenant(app, v) for v in ("all", "own")}
    finally:
        _db.session.rollback()
        _db.session.remove()
        _truncate_all()
        set_current_tenant(None)
        ctx.pop()


# ---------------------------------------------------------------- the cases

def _cases():
    for (endpoint, method), exp in sorted(EXPECT.items()):
        if exp.card:
            for visibility, role, obj in itertools.product(("all", "own"), ROLES, OBJECTS):
                if obj == "own" and role == "viewer":
                    continue  # a viewer never owns a card (see test_viewer_never_owns)
                if visibility == "own" and role in ADMINS:
                    continue  # the setting does not apply to admins
                if exp.objects and obj not in exp.objects:
                    continue
                yield endpoint, method, role, obj, visibility
        else:
            for role in ROLES:
                yield endpoint, method, role, None, "all"


def _params():
    out = []
    for case in _cases():
        marks = ()
        if case in KNOWN_WRONG:
            marks = (pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[case]),)
        out.append(pytest.param(*case, marks=marks, id="-".join(str(p) for p in case if p)))
    return out


def visible(t: Tenant, role: str, obj: str) -> bool:
    return t.visibility == "all" or role in ADMINS or obj == "own"


def expected_status(exp: Expect, t: Tenant, role: str, obj: str | None) -> int:
    allowed = exp.who(role, obj)
    if exp.card and not visible(t, role, obj) and (allowed or not exp.gate_first):
        return 404
    return exp.ok if allowed else exp.denied


def may_read(t: Tenant, role: str, c: Card) -> bool:
    """The documented rule for one card, from the walk's own bookkeeping."""
    uid = t.users[role]
    return role in ADMINS or (role == "member" and (c.owner_id == uid or uid in c.co_owner_ids))


class Request:
    """Builds one request of the walk: URL values, body, and the fresh objects a mutating case needs."""

    def __init__(self, app, t: Tenant, endpoint: str, method: str, role: str, obj: str | None):
        self.app, self.t, self.endpoint, self.method, self.role, self.obj = app, t, endpoint, method, role, obj
        self.rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
        self.exp = EXPECT[(endpoint, method)]
        self.target: Card | None = None
        self.other: Card | None = None
        self.values: dict = {}
        self.form: dict = {}
        self.body = None
        self.prepare()

    # -- objects
    def _card(self, fresh: bool) -> Card:
        return make_card(self.t, self.obj, self.role) if fresh else self.t.shared[(self.obj, self.role)]

    def _version(self, c: Card) -> int:
        from app.clients.models import Client

        with tenant_context(self.t.bundle.id):
            v = _db.session.get(Client, c.id).version
            _db.session.rollback()
        return v

    def prepare(self):
        e = self.endpoint
        if self.exp.card:
            self.target = self._card(self.exp.mutates or e == "clients.merge")
            self.values["client_id"] = self.target.id
        if "key" in self.rule.arguments:
            if e.startswith("clients."):
                self.values["key"] = SENSITIVE_FIELD if e == "clients.validate_field" else SENSITIVE_SECTION
            elif e == "card_templates.field":
                self.values["key"] = "industry"
            else:
                self.values["key"] = "no_such_key"
        if "followup_id" in self.rule.arguments:
            self.values["followup_id"] = self._fresh_followup()
        if e in ("auth.reset_password", "auth.accept_invite", "followups.calendar_feed", "sharing.shared",
                 "sharing.unlock", "sharing.shared_pdf"):
            self.values["token"] = "not-a-real-token"
        if e == "static":
            self.values["filename"] = "css/app.css"
        if e == "main.set_language":
            self.values["code"] = "zh_CN"
        if "user_id" in self.rule.arguments:
            self.values["user_id"] = self._fresh_user(inactive=e == "team.reactivate_user")
        if "invite_id" in self.rule.arguments:
            self.values["invite_id"] = self._fresh_invite()
        if "token_id" in self.rule.arguments:
            self.values["token_id"] = self._fresh_token()
        if "link_id" in self.rule.arguments:
            self.values["link_id"] = self._fresh_link()
        if "view_id" in self.rule.arguments:
            self.values["view_id"] = self._fresh_view()
        if "version" in self.rule.arguments:
            self.values["version"] = self._version(self.target)
        if "job_id" in self.rule.arguments:
            batch = e in ("sharing.batch_job", "api.clients_pdf_batch_show", "api.clients_pdf_batch_file")
            self.values["job_id"] = self._own_job(with_file=e in ("jobs.download", "api.clients_pdf_batch_file"),
                                                  kind="pdf.batch" if batch else "export.clients")
        if "import_id" in self.rule.arguments:
            self.values["import_id"] = self._own_import()
        if "change_id" in self.rule.arguments:
            self.values["change_id"] = self._rename_change()
        self.form = self._form()
        if self.rule.rule.startswith("/api/"):
            self.body = self._json()

    def _fresh_user(self, inactive=False) -> int:
        from app.accounts.models import User

        n = next(self.t.counter)
        uid = _ident(factories.user(self.t.bundle, f"spare{n}@{self.t.visibility}.example", "member", f"备用{n}"))
        if inactive:
            with tenant_context(self.t.bundle.id):
                _db.session.get(User, uid).active = False
                _db.session.commit()
        return uid

    def _fresh_invite(self) -> int:
        from app.accounts.models import User
        from app.team.services import create_invite

        with tenant_context(self.t.bundle.id):
            invite, _token = create_invite(_db.session.get(User, self.t.users["owner"]),
                                           f"invitee{next(self.t.counter)}@{self.t.visibility}.example", "member")
            _db.session.commit()
            return invite.id

    def _fresh_token(self) -> int:
        from app.accounts.models import ApiToken, User
        from app.accounts.services import create_api_token

        with tenant_context(self.t.bundle.id):
            create_api_token(_db.session.get(User, self.t.users[self.role]), f"spare{next(self.t.counter)}")
            _db.session.commit()
            return _db.session.scalars(select(ApiToken.id).order_by(ApiToken.id.desc())).first()

    def _fresh_link(self) -> int:
        """A share link made by the acting user (a viewer cannot make one: the owner's, on a colleague's card)."""
        from app.accounts.models import User
        from app.clients.models import Client
        from app.sharing.services import create_share_link

        maker = "owner" if self.role == "viewer" else self.role
        c = make_card(self.t, "colleague", maker)
        with tenant_context(self.t.bundle.id):
            link, _token = create_share_link(_db.session.get(User, self.t.users[maker]), _db.session.get(Client, c.id))
            _db.session.commit()
            return link.id

    def _fresh_view(self) -> int:
        from app.clients.models import SavedView

        with tenant_context(self.t.bundle.id):
            view = SavedView(user_id=self.t.users[self.role], name=f"视图{next(self.t.counter)}", query="q=1")
            _db.session.add(view)
            _db.session.commit()
            return view.id

    def _fresh_followup(self) -> int:
        from app.accounts.models import User
        from app.clients.models import Client
        from app.followups.services import add_followup

        with tenant_context(self.t.bundle.id):
            author = _db.session.get(User, self.target.owner_id)
            f = add_followup(author, _db.session.get(Client, self.target.id),
                             {"date": "2026-01-05", "method": "电话", "content": "角色测试的跟进"})
            _db.session.commit()
            return f.id

    def _own_job(self, with_file: bool = False, kind: str = "export.clients") -> int:
        from app.jobs import Job, JobFile

        with tenant_context(self.t.bundle.id):
            job = Job(kind=kind if with_file or kind != "export.clients" else "import.clients",
                      created_by_id=self.t.users[self.role], params={})
            _db.session.add(job)
            if with_file:
                job.status = "done"
                _db.session.flush()
                _db.session.add(JobFile(job_id=job.id, filename="clients.csv", content_type="text/csv", data=b"a"))
            _db.session.commit()
            return job.id

    def _own_import(self) -> int:
        from app.db_types import utcnow
        from app.imports.models import ImportRun

        with tenant_context(self.t.bundle.id):
            imp = ImportRun(created_by_id=self.t.users[self.role], filename="list.csv", status="started",
                            finished_at=utcnow(), problems=[{"row": 3, "field": "", "message": "x", "kind": "error",
                                                             "name": "n"}])
            _db.session.add(imp)
            _db.session.commit()
            return imp.id

    def _rename_change(self) -> int:
        from app.accounts.models import User
        from app.clients.models import Client, ClientChange
        from app.clients.services import update_client

        with tenant_context(self.t.bundle.id):
            c = _db.session.get(Client, self.target.id)
            update_client(_db.session.get(User, self.t.users["owner"]), c, version=c.version,
                          name=self.target.name + "改")
            _db.session.commit()
            return _db.session.scalars(select(ClientChange.id).where(ClientChange.client_id == c.id)
                                       .order_by(ClientChange.id.desc())).first()

    # -- bodies
    def _form(self) -> dict:
        e, t = self.endpoint, self.t
        if not self.exp.card:
            if e == "clients.create":
                return {"name": f"新建客户{next(t.counter)}", "owner_id": t.users["member2"], "allow_duplicate": "1",
                        **{input_name(k): v for k, v in REQUIRED.items()}}
            if e == "clients.bulk":
                mine = make_card(t, "own" if self.role != "viewer" else "colleague", self.role)
                return {"action": "archive", "ids": mine.id}
            if e == "clients.save_view":
                return {"name": f"保存的视图{next(t.counter)}", "query": "q=1"}
            if e == "team.set_role":
                return {"role": "member"}
            if e == "main.set_language":
                return {"next": "/home"}
            if e == "sharing.batch_start":
                return {"scope": "selected", "format": "pdf"}
            return {}
        version = self._version(self.target)
        if e == "clients.update_header":
            return {"version": version, "name": self.target.name + "新", "stage": "潜在", "owner_id": self.target.owner_id}
        if e in ("clients.update_section",):
            return {"version": version}
        if e == "clients.reveal_section":
            return {"reason": "拜访前核对"}
        if e == "clients.validate_field":
            return {input_name(SENSITIVE_FIELD): "随便写的地址"}
        if e == "clients.revert":
            return {"version": version, "key": "@name"}
        if e == "clients.delete":
            return {"confirm_name": self.target.name}
        if e == "clients.merge":
            self.other = make_card(t, self.obj, self.role, label="副本")
            return {"other": self.other.id, "kept_version": version, "other_version": 1}
        return {}

    def _json(self):
        e, t = self.endpoint, self.t
        if e == "api.clients_create":
            return {"name": f"接口客户{next(t.counter)}", "fields": REQUIRED, "allow_duplicate": True}
        if e == "api.clients_batch":
            return {"items": [{"name": f"批量客户{next(t.counter)}", "fields": REQUIRED}], "allow_duplicate": True}
        if e == "api.clients_pdf_batch":
            return {"ids": []}
        if e == "api.clients_update":
            return {"version": self._version(self.target), "name": self.target.name + "新"}
        if self.method in ("POST", "PATCH", "PUT"):
            return {}
        return None

    # -- sending
    def url(self) -> str:
        url = self.rule.build(self.values, append_unknown=False)[1]
        if self.endpoint == "clients.merge" and self.method == "GET":
            url += f"?other={self.other.id}"
        return url

    def send(self):
        if self.endpoint.startswith(BILLING_ON):
            self.app.config.update(STRIPE_SECRET_KEY="sk_test_walk", STRIPE_WEBHOOK_SECRET="whsec_walk")
            try:
                return self._send()
            finally:
                self.app.config.update(STRIPE_SECRET_KEY=None, STRIPE_WEBHOOK_SECRET=None)
        return self._send()

    def _send(self):
        if self.endpoint == "clients.merge" and self.method == "GET":
            self.form = {}
        if self.rule.rule.startswith("/api/"):
            r = self.app.test_client().open(self.url(), method=self.method, json=self.body,
                                            headers={"Authorization": f"Bearer {self.t.tokens[self.role]}"})
        else:
            browser = self.t.browsers[self.role]
            if self.endpoint == "auth.logout":
                browser = _login(self.app, _email(self.t, self.role))
            if self.exp.card and reads_sensitive(self.role, self.obj) and visible(self.t, self.role, self.obj):
                # Open the sensitive section first, as the page does: permitted users see the values after it.
                # (Others are refused by reveal_section, which the walk checks as a route of its own.)
                browser.post(f"/clients/{self.target.id}/sections/{SENSITIVE_SECTION}/reveal",
                             data={"reason": "拜访前核对"})
            r = browser.request(self.method, self.url(), data=self.form if self.method != "GET" else None)
        set_current_tenant(None)
        return r


def _text(r) -> str:
    """The body as a reader sees it: JSON is decoded, so escaped non-ASCII values are found too; a PDF's text is
    extracted and a workbook's cells read, so a sensitive value printed in them is found as well."""
    if r.mimetype == "application/pdf":
        import subprocess

        return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=r.get_data(), capture_output=True,
                              check=True).stdout.decode()
    body = readable_body(r)
    if r.is_json:
        body += json.dumps(r.get_json(silent=True), ensure_ascii=False)
    return body


def _gist(body: str) -> str:
    """The error messages of a page (or the start of a JSON body), for a failure message."""
    found = re.findall(r'class="[^"]*(?:error|invalid)[^"]*"[^>]*>\s*([^<]{1,200})', body)
    return "; ".join(m.strip() for m in found if m.strip()) or body[:400]


def _email(t: Tenant, role: str) -> str:
    return f"{role}@{t.visibility}.example"


@pytest.mark.parametrize("endpoint,method,role,obj,visibility", _params())
def test_role_walk(app, walk, endpoint, method, role, obj, visibility):
    t = walk[visibility]
    req = Request(app, t, endpoint, method, role, obj)
    if endpoint == "clients.merge" and method == "GET":
        req.other = make_card(t, obj, role, label="副本")
    r = req.send()
    body = _text(r)
    label = f"{method} {req.url()} ({endpoint}) as {role}" + (f" on {obj}'s card" if obj else "") + \
            f" [members see {visibility}]"
    want = expected_status(req.exp, t, role, obj)
    assert r.status_code == want, f"{label}: expected {want}, got {r.status_code}\n{_gist(body)}"

    # No response carries a sensitive value the user may not read; "never" routes carry none at all.
    leaked = [c.secret for c in t.cards.values() if c.secret and c.secret in body
              and (not may_read(t, role, c) or req.exp.secret == NEVER)]
    assert not leaked, f"{label}: shows sensitive values {leaked}"
    if req.exp.secret == REVEALED and r.status_code == 200 and req.target.secret and may_read(t, role, req.target):
        assert req.target.secret in body, f"{label}: a permitted user should see the revealed sensitive value"


def test_every_rule_has_an_expectation(app):
    """A new URL rule (or method) fails the walk until EXPECT says who may use it."""
    missing = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in EXPECT:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    stale = [f"{m} {e}" for e, m in EXPECT if e not in app.view_functions]
    assert not missing, "routes without an entry in tests/test_roles.py EXPECT:\n  " + "\n  ".join(sorted(missing))
    assert not stale, "EXPECT names endpoints that no longer exist:\n  " + "\n  ".join(stale)


# ---------------------------------------------------------------- the rules the walk cannot show by status alone

def _api(app, t: Tenant, role: str, method: str, url: str, body=None):
    r = app.test_client().open("/api/v1" + url, method=method, json=body,
                               headers={"Authorization": f"Bearer {t.tokens[role]}"})
    set_current_tenant(None)
    return r


def _state(t: Tenant, card_id: int) -> dict:
    from app.clients.models import Client

    with tenant_context(t.bundle.id):
        c = _db.session.get(Client, card_id)
        out = {"version": c.version, "owner_id": c.owner_id, "co_owner_ids": sorted(c.co_owner_ids),
               "values": dict(c.values or {})}
        _db.session.rollback()
    return out


def _add_co_owner(t: Tenant, c: Card, user_id: int) -> None:
    from app.accounts.models import User
    from app.clients.models import Client
    from app.clients.services import update_client

    with tenant_context(t.bundle.id):
        client = _db.session.get(Client, c.id)
        update_client(_db.session.get(User, t.users["owner"]), client, version=client.version,
                      co_owner_ids=[*client.co_owner_ids, user_id])
        _db.session.commit()
    c.co_owner_ids = (*c.co_owner_ids, user_id)


@pytest.mark.parametrize("visibility", ["all", "own"])
@pytest.mark.parametrize("role", ROLES)
def test_lists_follow_the_visibility_setting(app, walk, visibility, role):
    """With members_see_all off, members and viewers list only the cards they own or co-own (page, count, API)."""
    t = walk[visibility]
    co_owned = make_card(t, "colleague", "member", label="共管")
    _add_co_owner(t, co_owned, t.users["member"])
    colleague = t.shared[("colleague", role)]
    sees_colleague = visibility == "all" or role in ADMINS
    page = t.browsers[role].get("/clients/?limit=200").get_data(as_text=True)
    listed = _api(app, t, role, "GET", "/clients?limit=200").get_json()
    names = {i["name"] for i in listed["items"]}
    assert (colleague.name in page) == sees_colleague
    assert (colleague.name in names) == sees_colleague
    assert (co_owned.name in names) == (sees_colleague or role == "member")
    if role != "viewer":
        assert t.shared[("own", role)].name in names
    # The list never carries a sensitive value, even to those who may read it.
    assert not [c.secret for c in t.cards.values() if c.secret and c.secret in page + _text_of(listed)]


def _text_of(data) -> str:
    return json.dumps(data, ensure_ascii=False)


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_search_by_a_sensitive_value_finds_nothing_unreadable(app, walk, role):
    """Searching for a sensitive value must not confirm which card holds it to someone who may not read it."""
    t = walk["all"]
    target = t.shared[("sensitive", role)]
    page = t.browsers[role].get("/clients/", query_string={"q": target.secret}).get_data(as_text=True)
    listed = _api(app, t, role, "GET", f"/clients?q={target.secret}").get_json()
    assert target.name not in page
    assert target.name not in {i["name"] for i in listed["items"]}


def test_search_by_a_sensitive_value_is_not_vacuous(app, walk):
    """The same search by an admin shows the lookup itself works (else the test above proves nothing)."""
    t = walk["all"]
    target = t.shared[("sensitive", "admin")]
    listed = _api(app, t, "admin", "GET", f"/clients?q={target.secret}").get_json()
    names = {i["name"] for i in listed["items"]}
    if target.name not in names:
        pytest.skip("the list search does not look into sensitive values for anyone")
    assert names == {target.name}


def test_co_owner_reads_sensitive_fields(app, walk):
    t = walk["all"]
    c = make_card(t, "sensitive", "member", label="共管")
    assert c.secret not in _text_of(_api(app, t, "member", "GET", f"/clients/{c.id}").get_json())
    _add_co_owner(t, c, t.users["member"])
    assert c.secret in _text_of(_api(app, t, "member", "GET", f"/clients/{c.id}").get_json())
    r = t.browsers["member"].post(f"/clients/{c.id}/sections/{SENSITIVE_SECTION}/reveal", data={"reason": "拜访"})
    assert r.status_code == 200 and c.secret in r.get_data(as_text=True)


@pytest.mark.parametrize("field_name", ["owner", "co_owners"])
def test_a_viewer_never_owns_a_card(app, walk, field_name):
    t = walk["all"]
    c = make_card(t, "own", "admin")
    before = _state(t, c.id)
    value = t.users["viewer"] if field_name == "owner" else [t.users["viewer"]]
    r = _api(app, t, "admin", "PATCH", f"/clients/{c.id}", {"version": before["version"], field_name: value})
    assert r.status_code == 422, r.get_json()
    assert field_name in r.get_json()["errors"]
    # Nor by the header form, nor when creating a card.
    form = {"version": before["version"], "name": c.name, "stage": "潜在", "owner_id": t.users["admin"]}
    form["owner_id" if field_name == "owner" else "co_owner_ids"] = t.users["viewer"]
    assert t.browsers["admin"].post(f"/clients/{c.id}/header", data=form).status_code == 422
    created = _api(app, t, "admin", "POST", "/clients", {"name": "给财务的客户", "fields": REQUIRED,
                                                          "allow_duplicate": True, field_name: value})
    assert created.status_code == 422, created.get_json()
    assert _state(t, c.id) == before


def test_a_member_cannot_make_themselves_co_owner_of_a_colleagues_card(app, walk):
    t = walk["all"]
    c = make_card(t, "sensitive", "member")
    before = _state(t, c.id)
    me = t.users["member"]
    r = _api(app, t, "member", "PATCH", f"/clients/{c.id}", {"version": before["version"], "co_owners": [me]})
    assert r.status_code == 403, r.get_json()
    assert c.secret not in _text_of(r.get_json())
    form = {"version": before["version"], "name": c.name, "stage": "潜在", "owner_id": c.owner_id,
            "co_owner_ids": me}
    r = t.browsers["member"].post(f"/clients/{c.id}/header", data=form)
    assert r.status_code == 403
    assert c.secret not in r.get_data(as_text=True)
    # Nor take the card over, nor through a bulk action.
    r = _api(app, t, "member", "PATCH", f"/clients/{c.id}", {"version": before["version"], "owner": me})
    assert r.status_code == 403
    t.browsers["member"].post("/clients/bulk", data={"action": "owner", "to_owner": me, "ids": c.id})
    assert _state(t, c.id) == before
    # The same member may change the co-owners of a card they own.
    mine = make_card(t, "own", "member")
    r = _api(app, t, "member", "PATCH", f"/clients/{mine.id}",
             {"version": _state(t, mine.id)["version"], "co_owners": [t.users["member2"]]})
    assert r.status_code == 200 and _state(t, mine.id)["co_owner_ids"] == [t.users["member2"]]


@pytest.mark.parametrize("value", ["current", "new", "clear"])
def test_a_member_cannot_write_a_sensitive_field_of_a_colleagues_card(app, walk, value):
    """403 before any comparison: not even the unchanged version may confirm a guessed value."""
    t = walk["all"]
    c = make_card(t, "sensitive", "member")
    before = _state(t, c.id)
    sent = {"current": c.secret, "new": "新的机密住址", "clear": None}[value]
    r = _api(app, t, "member", "PATCH", f"/clients/{c.id}",
             {"version": before["version"], "fields": {SENSITIVE_FIELD: sent}})
    assert r.status_code == 403, r.get_json()
    assert c.secret not in _text_of(r.get_json())
    assert _state(t, c.id) == before
    # A stale version gets the same answer (no 409 with the card attached).
    r = _api(app, t, "member", "PATCH", f"/clients/{c.id}",
             {"version": before["version"] - 1 if before["version"] > 1 else 99, "fields": {SENSITIVE_FIELD: sent}})
    assert r.status_code == 403 and c.secret not in _text_of(r.get_json())
    # The card's owner may.
    mine = make_card(t, "own", "member")
    r = _api(app, t, "member", "PATCH", f"/clients/{mine.id}",
             {"version": _state(t, mine.id)["version"], "fields": {SENSITIVE_FIELD: "新的机密住址"}})
    assert r.status_code == 200


def test_a_member_cannot_write_a_sensitive_field_through_the_section_form(app, walk):
    t = walk["all"]
    c = make_card(t, "sensitive", "member")
    before = _state(t, c.id)
    r = t.browsers["member"].post(f"/clients/{c.id}/sections/{SENSITIVE_SECTION}",
                                  data={"version": before["version"], input_name(SENSITIVE_FIELD): "新的机密住址"})
    assert r.status_code in (302, 403)
    assert _state(t, c.id)["values"][SENSITIVE_FIELD] == c.secret


def test_a_member_cannot_revert_a_sensitive_change_of_a_colleagues_card(app, walk):
    from app.accounts.models import User
    from app.clients.models import Client, ClientChange
    from app.clients.services import update_client

    t = walk["all"]
    c = make_card(t, "sensitive", "member")
    with tenant_context(t.bundle.id):
        client = _db.session.get(Client, c.id)
        update_client(_db.session.get(User, t.users["owner"]), client, version=client.version,
                      fields={SENSITIVE_FIELD: "改过的机密住址"})
        _db.session.commit()
        change_id = _db.session.scalars(select(ClientChange.id).where(ClientChange.client_id == c.id)
                                        .order_by(ClientChange.id.desc())).first()
    before = _state(t, c.id)
    r = t.browsers["member"].post(f"/clients/{c.id}/history/{change_id}/revert",
                                  data={"version": before["version"], "key": SENSITIVE_FIELD})
    assert r.status_code in (403, 404)
    assert c.secret not in r.get_data(as_text=True)
    assert _state(t, c.id) == before


def test_the_view_log_is_for_admins_only(app, walk):
    """Opening a card is logged; admins read the log, the others get 403 on every face of it."""
    t = walk["all"]
    c = t.shared[("colleague", "member")]
    t.browsers["member"].get(f"/clients/{c.id}")
    for role in ROLES:
        ok = role in ADMINS
        page = t.browsers[role].get(f"/clients/{c.id}/views")
        by_user = t.browsers[role].get(f"/clients/view-log?user={t.users['member']}")
        api = _api(app, t, role, "GET", f"/clients/{c.id}/views")
        assert (page.status_code, by_user.status_code, api.status_code) == ((200,) * 3 if ok else (403,) * 3), role
        if ok:
            assert api.get_json()["total"] >= 1


def test_a_conflict_shows_no_sensitive_change_to_a_member(app, walk):
    """A stale save answers 409 with what changed meanwhile: a sensitive change stays masked (page and API)."""
    from app.accounts.models import User
    from app.clients.models import Client
    from app.clients.services import update_client

    t = walk["all"]
    c = make_card(t, "sensitive", "member")
    stale = _state(t, c.id)["version"]
    with tenant_context(t.bundle.id):
        client = _db.session.get(Client, c.id)
        # The same change renames the card, so the member's header save conflicts with it.
        update_client(_db.session.get(User, t.users["owner"]), client, version=client.version,
                      name=c.name + "甲", fields={SENSITIVE_FIELD: "冲突后的机密住址"})
        _db.session.commit()
    r = t.browsers["member"].post(f"/clients/{c.id}/header",
                                  data={"version": stale, "name": c.name + "新", "stage": "潜在",
                                        "owner_id": c.owner_id})
    api = _api(app, t, "member", "PATCH", f"/clients/{c.id}", {"version": stale, "name": c.name + "新"})
    assert (r.status_code, api.status_code) == (409, 409)
    for body in (r.get_data(as_text=True), _text_of(api.get_json())):
        assert c.secret not in body and "冲突后的机密住址" not in body
    # An admin's conflict does show it (the check above can fail).
    admin = _api(app, t, "admin", "PATCH", f"/clients/{c.id}", {"version": stale, "name": c.name + "新"})
    assert admin.status_code == 409 and "冲突后的机密住址" in _text_of(admin.get_json())
