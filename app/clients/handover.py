"""Hand-over (交接): give a leaving colleague's clients to one or more active colleagues in one step."""
from __future__ import annotations

from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import User
from app.card_templates.services import load_template
from app.clients.models import Client, ClientCoOwner
from app.clients.access import can_own
from app.clients.services import update_client
from app.extensions import db

# Other areas (follow-ups, reminders) register here to move their open items with the cards:
# fn(actor, from_user, new_owner_by_client_id) runs in the same transaction, after the cards moved.
HANDOVER_HOOKS: list[Callable[[User, User, dict[int, int]], None]] = []


def register_handover_hook(fn):
    HANDOVER_HOOKS.append(fn)
    return fn


class HandOverRejected(ValueError):
    """The receivers were not acceptable; nothing was changed."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _receivers(from_user: User, to_user_ids) -> list[int]:
    try:
        ids = [int(i) for i in dict.fromkeys(to_user_ids or [])]
    except (TypeError, ValueError):
        raise HandOverRejected(_l("Choose one or more active colleagues.")) from None
    if not ids:
        raise HandOverRejected(_l("Choose one or more active colleagues."))
    if from_user.id in ids:
        raise HandOverRejected(_l("Clients cannot be handed over to the same person."))
    found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    for uid in ids:
        u = found.get(uid)
        if not can_own(u):
            raise HandOverRejected(_l("Only active colleagues who may edit can receive clients."))
    return ids


def hand_over(actor: User, from_user: User, to_user_ids) -> int:
    """Spread from_user's owned clients round-robin (by client number) over the receivers, give their
    co-ownerships to the receivers, record a "handover" entry per card; returns the number of cards changed."""
    ids = _receivers(from_user, to_user_ids)
    template = load_template()
    note = f"{from_user.display_name}"[:200]
    moved: dict[int, int] = {}
    owned = db.session.scalars(select(Client).where(Client.owner_id == from_user.id)
                               .order_by(Client.number, Client.id)).all()
    for i, client in enumerate(owned):
        to = ids[i % len(ids)]
        update_client(actor, client, version=None, owner_id=to,
                      co_owner_ids=[u for u in client.co_owner_ids if u != to], action="handover",
                      note=note, template=template)
        moved[client.id] = to
    co_owned_ids = select(ClientCoOwner.client_id).where(ClientCoOwner.user_id == from_user.id)
    co_owned = db.session.scalars(select(Client).where(Client.id.in_(co_owned_ids))
                                  .order_by(Client.number, Client.id)).all()
    turn = 0
    changed = set(moved)
    for client in co_owned:
        taken = {client.owner_id, *client.co_owner_ids}
        receiver = None
        for step in range(len(ids)):
            candidate = ids[(turn + step) % len(ids)]
            if candidate not in taken:
                receiver = candidate
                turn = turn + step + 1
                break
        new_co = [receiver if u == from_user.id else u for u in client.co_owner_ids if u != from_user.id or receiver]
        update_client(actor, client, version=None, co_owner_ids=[u for u in new_co if u is not None],
                      action="handover", note=note, template=template)
        changed.add(client.id)
    for hook in HANDOVER_HOOKS:
        hook(actor, from_user, moved)
    return len(changed)
