"""Duplicate detection (查重 / 撞单): cards that look like the same company, by name, phone, email or identifier."""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Iterable

from sqlalchemy import or_, select

from app.accounts.models import User
from app.card_templates.models import CardTemplate
from app.clients.access import visible_clients
from app.clients.derived import match_keys
from app.clients.models import Client, ClientMatchKey
from app.extensions import db


@dataclass
class DuplicateCandidate:
    client_id: int
    number: str
    name: str
    owner_name: str
    matched_on: list[str] = dc_field(default_factory=list)
    visible: bool = True


class DuplicateFound(Exception):
    def __init__(self, candidates: list[DuplicateCandidate]):
        super().__init__("likely duplicate")
        self.candidates = candidates


def find_duplicates(user: User, template: CardTemplate, name: str, values: dict,
                    exclude_id: int | None = None, fx=None) -> list[DuplicateCandidate]:
    """Clients that look like the same company; hidden ones reveal only that they exist and who owns them."""
    keys = match_keys(template, name, values, fx)
    if not keys:
        return []
    conditions = [((ClientMatchKey.kind == kind) & (ClientMatchKey.value == value)) for kind, value in keys]
    rows = db.session.execute(select(ClientMatchKey.client_id, ClientMatchKey.kind).where(or_(*conditions))).all()
    return candidates_of(user, rows, exclude_id)


def candidates_of(user: User, rows, exclude_id: int | None = None) -> list[DuplicateCandidate]:
    """The candidates behind matching (client id, key kind) pairs."""
    matched: dict[int, list[str]] = {}
    for client_id, kind in rows:
        if client_id != exclude_id:
            matched.setdefault(client_id, []).append(kind.split(":", 1)[-1] if kind.startswith("field:") else kind)
    if not matched:
        return []
    visible_ids = set(db.session.scalars(visible_clients(user).with_only_columns(Client.id)
                                         .where(Client.id.in_(matched))))
    clients = db.session.scalars(select(Client).where(Client.id.in_(matched)).order_by(Client.id)).all()
    out = []
    for c in clients:
        owner = c.owner.display_name if c.owner else ""
        out.append(DuplicateCandidate(c.id, c.number, c.name, owner, sorted(set(matched[c.id])),
                                      visible=c.id in visible_ids))
    return out


def existing_matches(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
    """(kind, value) -> ids of the tenant's cards with that match key, for many keys at once (a batch): one indexed
    query per key kind and 500 values, whatever the number of cards."""
    by_kind: dict[str, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    out: dict[tuple[str, str], list[int]] = {}
    for kind, values in by_kind.items():
        values = sorted(values)
        for start in range(0, len(values), 500):
            for client_id, value in db.session.execute(
                    select(ClientMatchKey.client_id, ClientMatchKey.value)
                    .where(ClientMatchKey.kind == kind, ClientMatchKey.value.in_(values[start:start + 500]))):
                out.setdefault((kind, value), []).append(client_id)
    return out
