"""Team services: invites, roles, deactivation. Every rule about who may change whom lives here."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.accounts.models import ROLES, AuditRecord, Invite, User, hash_token
from app.accounts.services import email_taken, end_all_sessions, normalize_email
from app.db_types import utcnow
from app.clients.access import check_limit
from app.clients.handover import hand_over
from app.clients.models import Client, ClientCoOwner
from app.extensions import db
from app.tenancy import all_tenants, current_tenant, set_current_tenant


class TeamError(Exception):
    """A team change that is not allowed; `message` says why in the user's language."""

    def __init__(self, message, field: str = ""):
        super().__init__(str(message))
        self.message = message
        self.field = field


# "Owner" in Chinese would be 负责人, the word for a client's owner: the account's owner is 所有者 (see the zh notes).
ROLE_LABELS = {"owner": _l("Account owner"), "admin": _l("Admin"), "member": _l("Member"), "viewer": _l("Viewer")}


def _audit(actor: User, action: str, subject: str, **detail) -> None:
    db.session.add(AuditRecord(actor_id=actor.id, action=action, subject=subject[:200], detail=detail))


def members() -> list[User]:
    """Everyone in the current tenant: active first, then by name."""
    return db.session.scalars(select(User).order_by(User.active.desc(), User.name, User.id)).all()


def get_member(user_id: int) -> User | None:
    return db.session.execute(select(User).where(User.id == user_id)).scalar_one_or_none()


def assignable_roles(actor: User) -> tuple[str, ...]:
    """The roles this actor may give: only owners make owners."""
    if actor.role == "owner":
        return ROLES
    if actor.role == "admin":
        return ("admin", "member", "viewer")
    return ()


def _active_owner_count() -> int:
    return db.session.execute(
        select(func.count(User.id)).where(User.role == "owner", User.active.is_(True))
    ).scalar_one()


def _check_may_manage(actor: User, target: User) -> None:
    if not actor.is_admin:
        raise TeamError(_l("Only owners and admins manage the team."))
    if target.role == "owner" and actor.role != "owner":
        raise TeamError(_l("Only an owner can change another owner."))


def _is_last_owner(target: User) -> bool:
    return target.role == "owner" and target.active and _active_owner_count() <= 1


# ---------------------------------------------------------------- roles and deactivation

def change_role(actor: User, target: User, role: str) -> bool:
    """Give a colleague another role; returns False when nothing changed. Raises TeamError."""
    if role not in ROLES:
        raise TeamError(_l("Choose one of the listed roles."), "role")
    _check_may_manage(actor, target)
    if role == target.role:
        return False
    if role == "owner" and actor.role != "owner":
        raise TeamError(_l("Only an owner can make someone an owner."), "role")
    if _is_last_owner(target):
        raise TeamError(_l("%(name)s is the last owner. Make someone else an owner first.",
                           name=target.display_name), "role")
    before = target.role
    target.role = role
    _audit(actor, "user.role", target.email, user_id=target.id, **{"from": before, "to": role})
    return True


def deactivate(actor: User, target: User) -> bool:
    """Deactivate a colleague: their sessions end, sign-in and API tokens stop; their work stays."""
    _check_may_manage(actor, target)
    if target.id == actor.id:
        raise TeamError(_l("You cannot deactivate yourself. Ask another owner or admin."))
    if not target.active:
        return False
    if _is_last_owner(target):
        raise TeamError(_l("%(name)s is the last owner. Make someone else an owner first.",
                           name=target.display_name))
    target.active = False
    target.session_nonce = secrets.token_hex(8)  # every open session of theirs ends now
    end_all_sessions(target)
    _audit(actor, "user.deactivate", target.email, user_id=target.id)
    return True


def reactivate(actor: User, target: User) -> bool:
    """Let a deactivated colleague sign in again."""
    _check_may_manage(actor, target)
    if target.active:
        return False
    check_limit(current_tenant(), "users")  # a seat of the plan again
    target.active = True
    _audit(actor, "user.reactivate", target.email, user_id=target.id)
    return True


# ---------------------------------------------------------------- invites

def _invite_link(token: str) -> str:
    from flask import url_for

    return current_app.config["BASE_URL"] + url_for("auth.accept_invite", token=token)


def pending_invites() -> list[Invite]:
    """Invites not yet accepted or revoked (expired ones included, marked by the page)."""
    return db.session.scalars(select(Invite).where(Invite.accepted_at.is_(None), Invite.revoked_at.is_(None))
                              .order_by(Invite.created_at.desc(), Invite.id.desc())).all()


def get_invite(invite_id: int) -> Invite | None:
    return db.session.execute(select(Invite).where(Invite.id == invite_id)).scalar_one_or_none()


def _new_token(invite: Invite) -> str:
    token = secrets.token_urlsafe(32)
    invite.token_hash = hash_token(token)
    invite.expires_at = utcnow() + timedelta(days=current_app.config["INVITE_DAYS"])
    return token


def create_invite(actor: User, email: str, role: str) -> tuple[Invite, str]:
    """Invite a colleague by email: (invite, the one-time token). Older open invites to that email end."""
    from app.values import InvalidValue, parse_value

    if not actor.is_admin:
        raise TeamError(_l("Only owners and admins manage the team."))
    check_limit(current_tenant(), "users")  # an open invitation holds a seat of the plan
    try:
        email = parse_value("email", email or "")
    except InvalidValue as e:
        raise TeamError(e.message, "email")
    if not email:
        raise TeamError(_l("Enter your colleague's email address."), "email")
    email = normalize_email(email)
    if role not in assignable_roles(actor):
        raise TeamError(_l("Only an owner can make someone an owner.") if role == "owner"
                        else _l("Choose one of the listed roles."), "role")
    if email_taken(email):
        raise TeamError(_l("This email already has an account."), "email")
    now = utcnow()
    for old in db.session.scalars(select(Invite).where(Invite.email == email, Invite.accepted_at.is_(None),
                                                       Invite.revoked_at.is_(None))):
        old.revoked_at = now
    invite = Invite(email=email, role=role, invited_by_id=actor.id)
    token = _new_token(invite)
    db.session.add(invite)
    db.session.flush()
    _audit(actor, "invite.create", email, invite_id=invite.id, role=role)
    return invite, token


def resend_invite(actor: User, invite: Invite) -> str:
    """A fresh link (and 7 more days) for an open invite; the old link stops working."""
    if not actor.is_admin:
        raise TeamError(_l("Only owners and admins manage the team."))
    if invite.accepted_at or invite.revoked_at:
        raise TeamError(_l("This invitation is no longer open."))
    token = _new_token(invite)
    _audit(actor, "invite.resend", invite.email, invite_id=invite.id)
    return token


def revoke_invite(actor: User, invite: Invite) -> None:
    if not actor.is_admin:
        raise TeamError(_l("Only owners and admins manage the team."))
    if invite.accepted_at or invite.revoked_at:
        return
    invite.revoked_at = utcnow()
    _audit(actor, "invite.revoke", invite.email, invite_id=invite.id)


def send_invite_mail(invite: Invite, token: str, inviter: User) -> str:
    """Mail the invite link (logged when SMTP is not set up); returns the link."""
    from flask_babel import gettext as _

    from app.mail import send_mail
    from app.tenancy import current_tenant

    link = _invite_link(token)
    company = current_tenant().name if current_tenant() else ""
    send_mail(invite.email, _("%(name)s invites you to %(company)s on ClientCard", name=inviter.display_name,
                              company=company),
              _("%(name)s invites you to work on the client cards of %(company)s.\n\n"
                "Open this link within %(days)d days to choose your password:\n\n%(link)s\n\n"
                "The link works once.", name=inviter.display_name, company=company,
                days=current_app.config["INVITE_DAYS"], link=link))
    return link


def invite_for_token(token: str) -> tuple[Invite | None, str]:
    """The invite behind a link and '' or why it can't be used: invalid | expired | used | revoked | registered.

    Sets the tenant scope to the invite's tenant."""
    invite = db.session.execute(
        all_tenants(select(Invite).where(Invite.token_hash == hash_token(token or "")))
    ).scalar_one_or_none()
    if invite is None:
        return None, "invalid"
    set_current_tenant(invite.tenant_id)
    if invite.revoked_at is not None:
        return invite, "revoked"
    if invite.accepted_at is not None:
        return invite, "used"
    if invite.expires_at <= utcnow():
        return invite, "expired"
    if email_taken(invite.email):
        return invite, "registered"
    return invite, ""


def accept_invite(invite: Invite, name: str, password: str, language: str = "zh_CN") -> User:
    """Create the invited user (the invite's tenant must be in scope) and close the invite."""
    from app.accounts.services import add_user

    check_limit(current_tenant(), "users", adding=0)  # this invitation already holds its seat
    user = add_user(invite.email, password, invite.role, name, language if language in ("zh_CN", "en") else "zh_CN")
    user.last_login_at = utcnow()
    invite.accepted_at = utcnow()
    db.session.add(AuditRecord(actor_id=user.id, action="invite.accept", subject=invite.email,
                               detail={"invite_id": invite.id, "role": invite.role}))
    return user


# ---------------------------------------------------------------- hand-over

def client_counts(user: User) -> dict:
    """How many cards a colleague owns and co-owns (archived included)."""
    owned = db.session.execute(select(func.count(Client.id)).where(Client.owner_id == user.id)).scalar_one()
    co_owned = db.session.execute(select(func.count(ClientCoOwner.id))
                                  .where(ClientCoOwner.user_id == user.id)).scalar_one()
    return {"owned": owned, "co_owned": co_owned}


def handover_candidates(user: User) -> list[User]:
    """Active colleagues who can receive a user's clients (viewers can't own cards)."""
    return db.session.scalars(select(User).where(User.active.is_(True), User.id != user.id,
                                                 User.role != "viewer").order_by(User.name, User.id)).all()


def run_handover(actor: User, from_user: User, to_user_ids) -> int:
    """Check the receivers, then hand the user's clients over (app.clients.handover); returns the count."""
    if not actor.is_admin:
        raise TeamError(_l("Only owners and admins manage the team."))
    try:
        ids = [int(i) for i in dict.fromkeys(to_user_ids or [])]
    except (TypeError, ValueError):
        raise TeamError(_l("Choose one or more active colleagues."), "to_users")
    allowed = {u.id for u in handover_candidates(from_user)}
    if not ids:
        raise TeamError(_l("Choose one or more active colleagues."), "to_users")
    if not set(ids) <= allowed:
        raise TeamError(_l("Only active colleagues other than %(name)s can receive clients.",
                           name=from_user.display_name), "to_users")
    return hand_over(actor, from_user, ids)
