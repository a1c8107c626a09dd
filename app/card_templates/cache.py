"""The tenant's card template, built once per process and reused across requests.

A request asks the database for the template's (id, version, updated_at) — one small indexed query — and gets the
built template from this process's cache when that triple is unchanged. Every change to a template bumps its
version (the editor) or, for any write to its sections or fields that does not, its `updated_at` (the flush hook
below), so every process sees a change on its next request: the key is read from the database, never trusted
from memory.

The cached objects are detached and fully loaded (sections, fields, their back references): they are for reading
(validating and deriving a card's values, rendering, serializing). Code that changes the template loads its own
copy with `load_template()`.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.card_templates.models import CardTemplate, FieldDef, Section
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import current_tenant_id

MAX_ENTRIES = 256  # templates per process (one per tenant in use); the least recently used is dropped

_cache: OrderedDict[tuple, CardTemplate] = OrderedDict()
_lock = threading.Lock()
stats = {"hits": 0, "misses": 0}


def _stamp(session) -> tuple:
    row = session.execute(select(CardTemplate.id, CardTemplate.version, CardTemplate.updated_at)).one()
    return (str(session.get_bind().url), current_tenant_id(), row.id, row.version, row.updated_at)


def cached_template() -> CardTemplate:
    """The current tenant's template with its sections and fields (read-only, shared by requests)."""
    key = _stamp(db.session)
    with _lock:
        template = _cache.get(key)
        if template is not None:
            _cache.move_to_end(key)
            stats["hits"] += 1
            return template
    built_key, template = _build()
    if built_key != key:
        # This transaction changed the template (or a change landed meanwhile): read it through its own session.
        from app.card_templates.services import load_template

        return load_template()
    with _lock:
        stats["misses"] += 1
        _cache[key] = template
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return template


def _build() -> tuple[tuple, CardTemplate]:
    """Load the template in a session of its own (committed state only) and detach it, every attribute loaded."""
    with Session(db.engine, expire_on_commit=False) as session:
        key = _stamp(session)
        template = session.execute(
            select(CardTemplate).where(CardTemplate.id == key[2])
            .options(selectinload(CardTemplate.sections).selectinload(Section.fields))
        ).scalar_one()
        every = []
        for section in template.sections:
            set_committed_value(section, "template", template)
            for fd in section.fields:
                set_committed_value(fd, "section", section)
                set_committed_value(fd, "template", template)
                every.append(fd)
        set_committed_value(template, "fields", sorted(every, key=lambda f: (f.position, f.id)))
        session.expunge_all()
    return key, template


def clear() -> None:
    with _lock:
        _cache.clear()


@event.listens_for(Session, "after_flush")
def _touch_changed_templates(session, flush_context) -> None:
    """A flush that writes a section or field without bumping the template's version still changes the cache key."""
    ids = {obj.template_id for obj in (*session.new, *session.dirty, *session.deleted)
           if isinstance(obj, (Section, FieldDef)) and obj.template_id is not None}
    if ids:
        session.connection().execute(update(CardTemplate.__table__).where(CardTemplate.__table__.c.id.in_(ids))
                                     .values(updated_at=utcnow()))
