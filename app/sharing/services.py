"""Client briefs, card PDFs and share links: plain functions, testable without HTTP.

Every face here renders from access.card_view() (one access decision) and the one read-only partial
templates/clients/_fields_read.html. A brief or a share link never carries a sensitive field, whatever the in-brief
flags say; a PDF carries them only when a permitted user asked, with a reason, and that is logged.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import render_template
from flask_babel import format_datetime, gettext as _, lazy_gettext as _l
from sqlalchemy import delete, select

from app import pdf
from app.accounts.models import User, hash_token
from app.card_templates.models import FieldDef, Section
from app.card_templates.services import load_template
from app.clients import history as ch
from app.clients.access import CardView, NotAllowed, card_view, check_limit, is_admin, require
from app.clients.models import Client
from app.db_types import utcnow
from app.extensions import db
from app.followups.services import followups_of
from app.sharing.models import ShareLink, ShareLinkView, TenantLogo
from app.tenancy import all_tenants, current_tenant
from app.values import is_empty

EXPIRY_CHOICES = (1, 7, 30)
DEFAULT_EXPIRY_DAYS = 7
MAX_EXPIRY_DAYS = 365
WATERMARKS = {"": None, "internal": _l("Internal"), "confidential": _l("Confidential")}
TOKEN_BYTES = 24  # 192 bits from the OS CSPRNG
# The card PDF's stylesheet: handed to app.pdf (parsed once per process), not linked from the document.
PDF_STYLESHEETS = ("css/pdf.css",)
# Template indentation between two tags. In the PDF the field pairs are inline blocks, so every such run of white
# space is a text box WeasyPrint lays out and draws (~20% of a card's render); the markup is shared with the card
# page, so it is dropped here, for the PDF only. A line break never sits between two tags on purpose: values are
# text, and a lone space between inline tags (no line break) is kept.
_INDENT_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")

_code_hasher = PasswordHasher()


class ShareInputError(Exception):
    """Bad input for a share link: `errors` maps a field name to a translated message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# ---------------------------------------------------------------- what a face shows

def people_names() -> dict[int, str]:
    """Every colleague's display name by id (owners and person fields)."""
    return {u.id: u.display_name for u in db.session.scalars(select(User).order_by(User.id))}


def _filled(view: CardView, fields: list[FieldDef], values: dict) -> list[FieldDef]:
    return [f for f in fields if view.field_visible(f) and not is_empty(values.get(f.key))]


def card_sections(view: CardView) -> list[tuple[Section, list[FieldDef]]]:
    """The card's sections with the filled fields this view shows (the PDF of the whole card)."""
    values = view.values()
    out = []
    for section in view.sections():
        fields = _filled(view, section.active_fields, values)
        if fields:
            out.append((section, fields))
    return out


def brief_sections(view: CardView) -> list[tuple[Section, list[FieldDef]]]:
    """The brief: filled in-brief fields, never a sensitive one (whatever the flags or the viewer's rights)."""
    values = view.values()
    out = []
    for section in view.sections():
        fields = _filled(view, [f for f in section.active_fields if f.in_brief and not f.sensitive], values)
        if fields:
            out.append((section, fields))
    return out


def brief_view(user: User | None, client: Client) -> CardView:
    """The card as a brief shows it: nothing sensitive is ever revealed."""
    return card_view(user, client, load_template(), reveal=False)


@dataclass
class PdfOptions:
    include_sensitive: bool = False
    reason: str = ""
    watermark: str = ""
    brief: bool = False


def check_pdf_options(user: User, client: Client, opts: PdfOptions) -> dict:
    """Field errors for these PDF options (empty when fine); NotAllowed when confidential fields are asked for
    by someone who may not read them."""
    errors = {}
    if opts.watermark not in WATERMARKS:
        errors["watermark"] = _("Choose one of the offered watermarks.")
    if opts.include_sensitive:
        require(user, "clients.read_sensitive", client, _("You may not read the confidential fields of this card."))
        tenant = current_tenant()
        if not opts.reason.strip() and (tenant is None or tenant.setting("sensitive_reason") != "never"):
            errors["reason"] = _("Say why the confidential fields are needed; it is kept in the view log.")
        if len(opts.reason) > 300:
            errors["reason"] = _("Keep the reason under 300 characters.")
    return errors


def card_html(user: User | None, client: Client, opts: PdfOptions, *, link: ShareLink | None = None,
              people: dict[int, str] | None = None, logo: tuple[bytes, str] | None = None) -> tuple[str, CardView]:
    """The PDF document of a card (or its brief) for `user`, and the view it was built from. `people` and `logo`
    may be passed by a batch that renders many cards of one tenant. Options must be checked."""
    view = card_view(user, client, load_template(), reveal=bool(opts.include_sensitive and not opts.brief))
    sections = brief_sections(view) if opts.brief else card_sections(view)
    tenant = current_tenant()
    now = utcnow()
    # The card's last five contacts belong to the card, not to a brief (which colleagues outside sales read).
    followups = [] if opts.brief or link is not None else followups_of(client, limit=5)
    html = render_template(
        "sharing/pdf.html", client=client, view=view, sections=sections,
        people=people if people is not None else people_names(), tenant=tenant,
        brief=opts.brief, watermark=WATERMARKS.get(opts.watermark), link=link,
        printed_by=user.display_name if user else (link.label if link else ""),
        printed_at=format_datetime(now, "yyyy-MM-dd HH:mm"), static_url=pdf.static_url,
        shows_sensitive=view.shows_sensitive_values(), logo=pdf.logo_url() if logo else None, followups=followups)
    return _INDENT_BETWEEN_TAGS.sub("><", html), view


def record_pdf_view(user: User, client: Client, view: CardView, opts: PdfOptions) -> None:
    """The view log of a card PDF a signed-in user made (and of its confidential fields, with the reason)."""
    ch.record_view(user, client, "pdf", _("Brief") if opts.brief else "")
    if view.shows_sensitive_values():
        ch.record_view(user, client, "sensitive", _("PDF: %(reason)s", reason=opts.reason.strip()))


def card_pdf(user: User | None, client: Client, opts: PdfOptions, *, link: ShareLink | None = None) -> bytes:
    """Render a card (or its brief) to PDF for `user` and record it in the view log. Options must be checked."""
    tenant = current_tenant()
    logo = tenant_logo(tenant.id) if tenant else None
    html, view = card_html(user, client, opts, link=link, logo=logo)
    data = pdf.render_pdf(html, logo=logo, stylesheets=PDF_STYLESHEETS)
    if link is None:
        record_pdf_view(user, client, view, opts)
    return data


# ---------------------------------------------------------------- the tenant's logo on PDFs

LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": ("png", "image/png"), b"\xff\xd8\xff": ("jpg", "image/jpeg")}
MAX_LOGO_BYTES = 512 * 1024


def tenant_logo(tenant_id: int) -> tuple[bytes, str] | None:
    """The current tenant's logo (bytes and media type), or None."""
    logo = db.session.scalars(select(TenantLogo).where(TenantLogo.tenant_id == tenant_id)).first()
    return (logo.data, logo.content_type) if logo else None


def save_logo(tenant_id: int, data: bytes) -> None:
    """Store a PNG or JPEG logo (at most 512 KB) for the tenant's PDFs, replacing any earlier one."""
    kind = next((v for magic, v in LOGO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise ShareInputError({"logo": _("Upload the logo as a PNG or JPEG picture.")})
    if len(data) > MAX_LOGO_BYTES:
        raise ShareInputError({"logo": _("The logo may be at most 512 KB.")})
    logo = db.session.scalars(select(TenantLogo).where(TenantLogo.tenant_id == tenant_id)).first() or TenantLogo()
    logo.data, logo.content_type, logo.updated_at = data, kind[1], utcnow()
    db.session.add(logo)


def remove_logo(tenant_id: int) -> None:
    db.session.execute(delete(TenantLogo).where(TenantLogo.tenant_id == tenant_id))


def pdf_filename(client: Client, brief: bool = False) -> str:
    kind = "brief" if brief else "card"
    return f"{client.number}-{kind}.pdf"


# ---------------------------------------------------------------- share links

def expiry_from(days=None, until: date | None = None, now: datetime | None = None) -> tuple[datetime, int]:
    """When a link made now ends, and how many days that is (for the plan's share_days limit)."""
    now = now or utcnow()
    if until is not None:
        if until <= now.date():
            raise ShareInputError({"expires_on": _("Choose a date after today.")})
        if (until - now.date()).days > MAX_EXPIRY_DAYS:
            raise ShareInputError({"expires_on": _("A link can last at most %(n)s days.", n=MAX_EXPIRY_DAYS)})
        end = datetime.combine(until, time(23, 59, 59), tzinfo=timezone.utc)
        return end, (until - now.date()).days
    if days is None:
        days = DEFAULT_EXPIRY_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ShareInputError({"expires_in_days": _("Choose between 1 and %(n)s days.", n=MAX_EXPIRY_DAYS)})
    return now + timedelta(days=days), days


def create_share_link(user: User, client: Client, *, days=None, until: date | None = None,
                      access_code: str | None = None, label: str = "") -> tuple[ShareLink, str]:
    """Make a share link of the client's brief; returns the row and the token (shown once, never stored)."""
    require(user, "clients.share", client, _("You may not share this client."))
    errors = {}
    label = (label or "").strip()
    if len(label) > 100:
        errors["label"] = _("Keep the label under 100 characters.")
    code = (access_code or "").strip()
    if code and not 4 <= len(code) <= 32:
        errors["access_code"] = _("An access code has 4 to 32 characters.")
    try:
        expires_at, n_days = expiry_from(days, until)
    except ShareInputError as e:
        errors.update(e.errors)
    if errors:
        raise ShareInputError(errors)
    check_limit(current_tenant(), "share_days", adding=n_days)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(client_id=client.id, created_by_id=user.id, token_hash=hash_token(token), label=label,
                     access_code_hash=_code_hasher.hash(code) if code else None, expires_at=expires_at)
    db.session.add(link)
    db.session.flush()
    ch.record_view(user, client, "share", label or _("Share link #%(id)s", id=link.id))
    return link, token


def find_link(token: str) -> ShareLink | None:
    """The link of a token, looked up across tenants (the token is all a visitor has); None when unknown."""
    if not token or len(token) > 100:
        return None
    return db.session.execute(all_tenants(select(ShareLink).where(ShareLink.token_hash == hash_token(token)))
                              ).scalar_one_or_none()


def check_access_code(link: ShareLink, code: str) -> bool:
    if not link.access_code_hash:
        return True
    try:
        return _code_hasher.verify(link.access_code_hash, (code or "").strip())
    except (VerificationError, InvalidHashError):
        return False


def may_manage(user: User, link: ShareLink) -> bool:
    """The link's creator and admins may revoke it and read its views."""
    return is_admin(user) or link.created_by_id == user.id


def revoke_link(user: User, link: ShareLink) -> None:
    """Revoke a link now; opening it afterwards answers 410."""
    if not may_manage(user, link):
        raise NotAllowed(_("Only the colleague who made this link, or an admin, can revoke it."))
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        link.revoked_by_id = user.id


def record_link_view(link: ShareLink, client: Client, *, ip: str, user_agent: str, kind: str = "open") -> None:
    """Count one opening of a link in its own log and in the card's view log (查阅登记)."""
    link.view_count = (link.view_count or 0) + 1
    link.last_viewed_at = utcnow()
    db.session.add(ShareLinkView(link_id=link.id, kind=kind, ip=(ip or "")[:64], user_agent=(user_agent or "")[:300]))
    reason = _("Share link #%(id)s", id=link.id) + (f" · {link.label}" if link.label else "")
    ch.record_view(None, client, "share_open" if kind == "open" else "share_pdf", reason)


def links_for(user: User, client: Client | None = None, *, live_only: bool = True) -> list[ShareLink]:
    """Links this user may manage (all of the tenant's for admins), newest first."""
    stmt = select(ShareLink).order_by(ShareLink.id.desc())
    if client is not None:
        stmt = stmt.where(ShareLink.client_id == client.id)
    if not is_admin(user):
        stmt = stmt.where(ShareLink.created_by_id == user.id)
    if live_only:
        stmt = stmt.where(ShareLink.revoked_at.is_(None), ShareLink.expires_at > utcnow())
    return list(db.session.scalars(stmt.limit(500)))


def link_views(link: ShareLink, limit: int = 100) -> list[ShareLinkView]:
    return list(db.session.scalars(select(ShareLinkView).where(ShareLinkView.link_id == link.id)
                                   .order_by(ShareLinkView.id.desc()).limit(limit)))


def qr_svg(url: str) -> str:
    """The link as a QR code, an inline SVG a phone across the table can scan."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=4, dark="#1f2937", light="#ffffff")
