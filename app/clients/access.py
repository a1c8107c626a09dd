"""The one access decision for client cards: who may see a card, do what with it, and read or write each field.

Every face of a card — the page, the API, print, merge, and later the PDF, the brief, share links and exports —
asks here, and renders from the same session-free `CardView`. A second copy of a rule is a future leak.

Roles (defined once in app.accounts.models):
  owner, admin  everything; sensitive fields of every card
  member        creates and edits cards; sensitive fields only of cards they own or co-own;
                sees every card unless the tenant turned "members see all clients" off
  viewer        reads cards (never sensitive fields), never owns one, follows the same visibility setting
Share links of a card's brief: editors (owner, admin, member) of a card they can see; never sensitive fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Iterable

from flask import current_app
from sqlalchemy import or_, select

from app.accounts.models import ADMIN_ROLES, EDITOR_ROLES, Tenant, User
from app.card_templates.models import CardTemplate, FieldDef, Section
from app.card_templates.services import fields_by_key
from app.clients.models import Client, ClientCoOwner
from app.extensions import db
from app.tenancy import current_tenant

# Actions on cards and the rule for each. `client` is the card acted on (None for actions on no card).
ACTIONS = (
    "clients.create",          # make a new card
    "clients.edit",            # change values, name, stage, tags; archive, restore, merge, revert
    "clients.reassign",        # change the owner and co-owners
    "clients.read_sensitive",  # see (and so write) the card's sensitive fields
    "clients.delete",          # remove a card for good
    "clients.view_log",        # read who looked at cards (查阅登记)
    "team.view",               # see the team page: colleagues' names, emails and roles
    "clients.share",           # make a read-only share link of the card's brief
)


class NotAllowed(Exception):
    """The user may not do this; `message` says what, for a 403 or a form error."""

    def __init__(self, message=""):
        super().__init__(str(message) or "not allowed")
        self.message = message


def is_admin(user: User | None) -> bool:
    return user is not None and user.role in ADMIN_ROLES


def can_own(user: User | None) -> bool:
    """Only active colleagues who may edit can own or co-own a card (viewers never)."""
    return user is not None and user.active and user.role in EDITOR_ROLES


def owns(user: User, client: Client) -> bool:
    return client.owner_id == user.id or user.id in client.co_owner_ids


# Actions that write: refused for every role while the tenant is read-only (see tenant_read_only).
WRITE_ACTIONS = frozenset({"clients.create", "clients.edit", "clients.reassign", "clients.delete", "clients.share"})


def can(user: User | None, action: str, client: Client | None = None) -> bool:
    """May this user do `action` (to this card)? The only place a permission rule is written."""
    if user is None or not getattr(user, "is_authenticated", True):
        return False
    if action in WRITE_ACTIONS and tenant_read_only(user.tenant):
        return False
    if action == "clients.create":
        return user.role in EDITOR_ROLES
    if action == "clients.edit":
        return user.role in EDITOR_ROLES
    if action in ("clients.reassign", "clients.read_sensitive"):
        if user.role in ADMIN_ROLES:
            return True
        return user.role in EDITOR_ROLES and client is not None and owns(user, client)
    if action == "clients.delete":
        return user.role == "owner"
    if action == "clients.view_log":
        return user.role in ADMIN_ROLES
    if action in ("team.view", "clients.share"):
        # Viewers (often outsiders: an accountant, a partner) never get the list of colleagues' emails, and
        # never hand a card on.
        return user.role in EDITOR_ROLES
    raise ValueError(f"unknown action {action!r}")


def require(user: User | None, action: str, client: Client | None = None, message="") -> None:
    if not can(user, action, client):
        if action in WRITE_ACTIONS and user is not None and tenant_read_only(user.tenant):
            raise ReadOnlyTenant()
        raise NotAllowed(message)


# ---------------------------------------------------------------- which cards

def members_see_all(tenant: Tenant | None = None) -> bool:
    tenant = tenant or current_tenant()
    return bool(tenant.setting("members_see_all")) if tenant else True


def visible_clients(user: User):
    """A SELECT of the clients this user may see (the tenant scope is added centrally)."""
    stmt = select(Client)
    if user.role not in ADMIN_ROLES and not members_see_all(user.tenant):
        co_owned = select(ClientCoOwner.client_id).where(ClientCoOwner.user_id == user.id)
        stmt = stmt.where(or_(Client.owner_id == user.id, Client.id.in_(co_owned)))
    return stmt


def get_visible_client(user: User, client_id: int) -> Client | None:
    return db.session.execute(visible_clients(user).where(Client.id == client_id)).scalar_one_or_none()


def assignable_user_ids() -> set[int]:
    """Colleagues who may be chosen as owner or co-owner."""
    return set(db.session.scalars(select(User.id).where(User.active.is_(True), User.role.in_(EDITOR_ROLES))))


# ---------------------------------------------------------------- which fields

def can_read_field(user: User | None, client: Client | None, fd: FieldDef) -> bool:
    return not fd.sensitive or can(user, "clients.read_sensitive", client)


def unreadable_keys(user: User | None, client: Client | None, template: CardTemplate, keys: Iterable[str]) -> list[str]:
    """The keys among `keys` whose fields this user may not read (and so may not write)."""
    fields = fields_by_key(template)
    return [k for k in keys if fields.get(k) is not None and not can_read_field(user, client, fields[k])]


class TemplateFields:
    """A template's fields as the views of many cards read them (a list page, a batch), built once: by key, and
    the active ones split into plain and sensitive, so filtering 50 cards' values does not rebuild the template's
    field map per card. Reflects the template when built; never kept across a change to it."""

    __slots__ = ("all", "plain", "secret")

    def __init__(self, template: CardTemplate):
        self.all: dict[str, FieldDef] = fields_by_key(template)
        self.plain: frozenset[str] = frozenset(k for k, f in self.all.items() if not f.archived and not f.sensitive)
        self.secret: dict[str, FieldDef] = {k: f for k, f in self.all.items() if not f.archived and f.sensitive}


@dataclass
class CardView:
    """One card as one viewer may see it, with no request or session behind it.

    `revealed` is the set of section keys whose sensitive fields are shown (the page opens them one by one,
    with a logged reason); `reveal_all` shows every sensitive field the viewer may read (API, PDF on request).
    """

    user: User | None
    client: Client
    template: CardTemplate
    sensitive_ok: bool
    can_edit: bool
    revealed: frozenset = dc_field(default_factory=frozenset)
    reveal_all: bool = False
    known: TemplateFields | None = None  # shared by the views of one list or batch

    @property
    def fields(self) -> TemplateFields:
        if self.known is None:
            self.known = TemplateFields(self.template)
        return self.known

    def field_visible(self, fd: FieldDef) -> bool:
        """A sensitive value shows only to permitted users, and only once its section was opened."""
        if not fd.sensitive:
            return True
        if not self.sensitive_ok:
            return False
        return self.reveal_all or (fd.section is not None and fd.section.key in self.revealed)

    def field_writable(self, fd: FieldDef) -> bool:
        return self.can_edit and not fd.archived and (not fd.sensitive or self.sensitive_ok)

    def collapsed(self, section: Section) -> bool:
        """A section with sensitive fields the viewer may open, but has not opened yet."""
        return (self.sensitive_ok and not self.reveal_all and section.key not in self.revealed
                and any(f.sensitive for f in section.active_fields))

    def sections(self) -> list[Section]:
        """The sections a reader sees: active ones with active fields."""
        return [s for s in self.template.sections if not s.archived and s.active_fields]

    def values(self, values: dict | None = None) -> dict:
        """The card's values (or the given ones, e.g. as of a past version) that this view shows."""
        plain, secret = self.fields.plain, self.fields.secret
        source = self.client.values if values is None else values
        return {k: v for k, v in (source or {}).items()
                if k in plain or (k in secret and self.field_visible(secret[k]))}

    def hidden_keys(self) -> set[str]:
        """Field keys whose values (and changes) this view must not carry."""
        return {k for k, fd in self.fields.all.items() if not self.field_visible(fd)}

    def shows_sensitive_values(self, values: dict | None = None) -> bool:
        """Whether this view shows a sensitive value (such a view is recorded in the view log)."""
        return any(k in self.fields.secret for k in self.values(values))


def card_view(user: User | None, client: Client, template: CardTemplate, *, reveal: Iterable[str] | bool = (),
              known: TemplateFields | None = None) -> CardView:
    """The card as `user` may see it; `reveal` opens sensitive sections (True: all the user may read). The views
    of many cards share one `known` TemplateFields of their template."""
    sensitive_ok = can(user, "clients.read_sensitive", client)
    return CardView(user=user, client=client, template=template, sensitive_ok=sensitive_ok,
                    can_edit=can(user, "clients.edit", client),
                    revealed=frozenset(() if isinstance(reveal, bool) else reveal), reveal_all=reveal is True,
                    known=known)


# ---------------------------------------------------------------- plan limits

class LimitReached(NotAllowed):
    """The tenant's plan does not allow this much (`resource`); the message carries the upgrade hint."""

    def __init__(self, message="", resource: str = ""):
        super().__init__(message)
        self.resource = resource


def check_limit(tenant: Tenant | None, resource: str, adding: int = 1) -> None:
    """Raise LimitReached when adding `adding` of `resource` ("users", "clients", "share_days") would exceed the
    tenant's plan (ReadOnlyTenant when the tenant is read-only). Every feature that creates such things calls this
    before it starts (one client or an import of thousands alike). Without billing configured (self-hosted) there
    are no limits. The plan's rules live in app.billing.services (registered as extensions["plan_limits"])."""
    if not current_app.config.get("STRIPE_SECRET_KEY"):
        return
    tenant = tenant or current_tenant()
    if tenant_read_only(tenant):
        raise ReadOnlyTenant()
    hook = current_app.extensions.get("plan_limits")
    if hook is not None:
        hook(tenant, resource, adding)


class ReadOnlyTenant(NotAllowed):
    """The grace period after a failed payment is over: the tenant can read and export everything, but write
    nothing until the payment is fixed. Nothing is ever deleted."""

    def __init__(self, message=""):
        from flask_babel import lazy_gettext as _l

        super().__init__(message or _l("Your company's account is read-only because a payment is overdue. Reading "
                                       "and exporting still work; an owner or admin can fix the payment under "
                                       "Billing."))


# Write requests (POST, PATCH, DELETE …) still allowed while a tenant is read-only: signing in and out, the
# user's language and password, opening a sensitive section to read it (which only logs the view), taking access
# away (revoking an API token, deactivating a colleague who left), billing itself (to pay), and exports. A feature
# whose export or read is a POST adds its endpoint here.
READ_ONLY_OPEN_ENDPOINTS = {"auth.login", "auth.logout", "main.set_language", "auth.change_password",
                            "clients.reveal_section", "auth.revoke_token", "team.deactivate_user",
                            "sharing.revoke", "api.share_links_revoke", "sharing.batch_start",
                            "api.clients_pdf_batch", "imports.export_all"}
READ_ONLY_OPEN_PREFIXES = ("billing.", "static")


def tenant_read_only(tenant: Tenant | None) -> bool:
    """Is this tenant read-only (unpaid past its grace period)? The one decision; billing answers it
    (extensions["plan_read_only"]). Always False without billing."""
    if tenant is None or not current_app.config.get("STRIPE_SECRET_KEY"):
        return False
    hook = current_app.extensions.get("plan_read_only")
    return bool(hook and hook(tenant))


def check_writable(tenant: Tenant | None, endpoint: str | None, method: str) -> None:
    """The central guard for write requests of every kind (cards, team, settings, template, API): raises
    ReadOnlyTenant for a write to a read-only tenant, unless the endpoint stays open (see above)."""
    if method in ("GET", "HEAD", "OPTIONS") or not endpoint:
        return
    if endpoint in READ_ONLY_OPEN_ENDPOINTS or endpoint.startswith(READ_ONLY_OPEN_PREFIXES):
        return
    if tenant_read_only(tenant):
        raise ReadOnlyTenant()
