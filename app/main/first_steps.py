"""The empty home page's first steps for a new company, each ticked off when done (from the data, not a flag)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.accounts.models import Invite, User
from app.card_templates.models import CardTemplate
from app.clients.access import can, is_admin
from app.clients.models import Client
from app.extensions import db

# While a company has fewer clients than this, the home page keeps showing the steps not yet done.
SHOW_BELOW = 20


@dataclass
class Step:
    key: str
    title: object
    help: object
    url: str
    done: bool


def first_steps(user: User) -> list[Step]:
    """The steps this user can take: tailor the card, add a first client, invite a colleague, import a list (only
    once imports exist). Empty when the company is past its first hour or the user can do none of them."""
    # Counting stops at SHOW_BELOW: a large tenant's home page never counts all its cards for this.
    clients = db.session.scalar(select(func.count()).select_from(select(Client.id).limit(SHOW_BELOW).subquery()))
    if clients >= SHOW_BELOW or not can(user, "clients.create"):
        return []
    steps = []
    if is_admin(user):
        version = db.session.scalar(select(CardTemplate.version)) or 1
        steps.append(Step("template", _l("Tailor the card"),
                          _l("Rename, add or archive fields so the card asks what your team needs."),
                          url_for("card_templates.edit"), version > 1))
    steps.append(Step("client", _l("Add your first client"),
                      _l("Fill the short new-client form right after a visit; the rest can wait."),
                      url_for("clients.new"), clients > 0))
    if is_admin(user):
        colleagues = db.session.scalar(select(func.count(User.id))) > 1
        invited = db.session.scalar(select(func.count(Invite.id))) > 0
        steps.append(Step("invite", _l("Invite a colleague"),
                          _l("Everyone fills the same cards; you decide who sees what."),
                          url_for("team.index"), colleagues or invited))
    if "imports.index" in current_app.view_functions and is_admin(user):
        steps.append(Step("import", _l("Import your client list"),
                          _l("Bring in the spreadsheet you keep today."), url_for("imports.index"), clients > 1))
    return steps if not all(s.done for s in steps) else []
