"""A card's memory: its recorded changes (who, when, before, after), past versions, and the view log (查阅登记)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.accounts.models import User
from app.clients.models import Client, ClientChange, ClientView
from app.extensions import db

# Card attributes that are not template fields are recorded in history under these keys.
META_KEYS = ("@name", "@stage", "@owner", "@co_owners", "@tags", "@grade", "@archived")


def record_change(client: Client, actor: User | None, action: str, changes: dict, note: str = "") -> ClientChange:
    """Add one history entry for the card's current version."""
    change = ClientChange(client_id=client.id, version=client.version, actor_id=actor.id if actor else None,
                          action=action, changes=changes, note=note[:500])
    db.session.add(change)
    return change


VIEW_KINDS = ("open", "print", "pdf", "export", "share", "sensitive", "prep", "brief", "share_open", "share_pdf")


def record_view(user: User | None, client: Client, kind: str = "open", reason: str = "") -> None:
    """Log one look at a card (查阅登记): open, print, PDF, export, share, prep, or a sensitive reveal with its reason."""
    db.session.add(ClientView(client_id=client.id, user_id=user.id if user else None, kind=kind,
                              reason=(reason or "")[:500]))


def view_log(client: Client, limit: int = 500) -> list[ClientView]:
    """The latest views of one card, newest first."""
    return db.session.scalars(select(ClientView).where(ClientView.client_id == client.id)
                              .order_by(ClientView.id.desc()).limit(limit)).all()


def views_by_user(user_id: int, limit: int = 500) -> list[tuple[ClientView, Client]]:
    """The latest cards one user looked at, newest first, with the card."""
    return db.session.execute(select(ClientView, Client).join(Client, Client.id == ClientView.client_id)
                              .where(ClientView.user_id == user_id)
                              .order_by(ClientView.id.desc()).limit(limit)).all()


def history(client: Client) -> list[ClientChange]:
    """The card's recorded changes, newest first."""
    return db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id)
                              .order_by(ClientChange.id.desc())).all()


def merged_card_ids(client: Client) -> list[int]:
    """Ids of the cards merged into this one, directly or through earlier merges."""
    found: list[int] = []
    queue = [client.id]
    while queue:
        cid = queue.pop()
        for change in db.session.scalars(select(ClientChange).where(ClientChange.client_id == cid,
                                                                    ClientChange.action == "merge")):
            other = ((change.changes or {}).get("@merged_from") or {}).get("to") or {}
            oid = other.get("id") if isinstance(other, dict) else None
            if isinstance(oid, int) and oid not in found and oid != client.id:
                found.append(oid)
                queue.append(oid)
    return found


def history_with_merged(client: Client) -> list[ClientChange]:
    """This card's history and that of every card merged into it, newest first."""
    ids = [client.id, *merged_card_ids(client)]
    return db.session.scalars(select(ClientChange).where(ClientChange.client_id.in_(ids))
                              .order_by(ClientChange.at.desc(), ClientChange.id.desc())).all()


def state_as_of(client: Client, version: int) -> dict:
    """The card's name, stage, owner, tags and values as they were at a past version."""
    state = {"@name": client.name, "@stage": client.stage, "@owner": client.owner_id, "@tags": list(client.tags or []),
             "@co_owners": sorted(client.co_owner_ids), "@grade": client.grade, "@archived": client.archived,
             "values": dict(client.values or {})}
    for change in db.session.scalars(select(ClientChange).where(ClientChange.client_id == client.id,
                                                                ClientChange.version > version)
                                     .order_by(ClientChange.id.desc())):
        for key, diff in (change.changes or {}).items():
            if key.startswith("@"):
                state[key] = diff.get("from")
            elif diff.get("from") is None:
                state["values"].pop(key, None)
            else:
                state["values"][key] = diff["from"]
    return state


def field_last_changed(client: Client) -> dict[str, datetime]:
    """When each field last changed, from the card's history."""
    out: dict[str, datetime] = {}
    for key, at in db.session.execute(select(ClientChange.changes, ClientChange.at)
                                      .where(ClientChange.client_id == client.id).order_by(ClientChange.id)):
        for k in key or {}:
            out[k] = at
    return out
