"""What is derived from a card's values: completeness, search text, duplicate match keys and the per-field value
index the list filters and sorts by. Written in one place, on every save, import and template change.

Sensitive values stay in the card: no derived column or side row holds a value of a sensitive field
(sensitive table fields included). Exact lookup of sensitive identifiers will go through a keyed hash.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from pypinyin import lazy_pinyin

from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.bulk import insert_rows
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import FieldIndex, fields_by_key
from app.clients.models import Client, ClientFieldValue, ClientMatchKey, ClientSearchGrams
from app.extensions import db
from app.followups.grading import apply_grade
from app.tenancy import current_tenant_id
from app.values import (FIELD_TYPES, display_value, is_empty, normalize_company_name, normalize_text, phone_digits,
                        search_text)


def _shareable(fields: Iterable[FieldDef]) -> list[FieldDef]:
    """The fields whose values may be copied out of the card into derived data."""
    return [fd for fd in fields if not fd.sensitive]


def core_fields(template: CardTemplate) -> list[FieldDef]:
    """The card's core, which completeness counts: the fields the tenant marked as core (settings "core"), by
    default the new-client form's (the first shown section) and every required field."""
    shown = sorted((s for s in template.sections if not s.archived), key=lambda s: (s.position, s.id or 0))
    first = {f.key for f in shown[0].fields} if shown else set()
    out = []
    for fd in fields_by_key(template, include_archived=False).values():
        marked = (fd.settings or {}).get("core")
        if marked if marked is not None else (fd.required or fd.key in first):
            out.append(fd)
    return out


def completeness(template: CardTemplate, values: dict, fx: FieldIndex | None = None) -> float:
    """Share of the card's core filled, required fields weighing three times as much."""
    return _completeness_of(fx.core if fx is not None else core_fields(template), values)


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{_CJK}]")
GRAM_CHARS = re.compile(f"^[0-9a-z{_CJK}]+$")
_GRAM_RUN = re.compile(f"[0-9a-z{_CJK}]+")
_NON_WORD = re.compile(r"[\W_]+")
_PLAIN_TEXT = frozenset({"text", "textarea"})  # their search text is their NFKC, lower-case words


def name_pinyin(name: str, syllables: list[str] | None = None) -> str:
    """Full pinyin and initials of a name with Chinese in it ("中联重科" -> "zhonglianzhongke zlzk"), for search;
    empty for a name without Chinese. `syllables`: lazy_pinyin(name), when the caller has it already."""
    if not name or not CJK_CHAR.search(name):
        return ""
    syllables = lazy_pinyin(name) if syllables is None else syllables
    full = "".join(syllables).lower()
    initials = "".join(_initials(name, syllables)).lower()
    keep = lambda s: "".join(ch for ch in s if ch.isascii() and ch.isalnum())  # noqa: E731
    return f"{keep(full)} {keep(initials)}"


def _initials(name: str, syllables: list[str]) -> list[str]:
    """lazy_pinyin(name, style=FIRST_LETTER) from lazy_pinyin(name): a character's syllable gives its first letter,
    text without pinyin (Latin, digits, signs) stays as it is. An item is such text exactly when the name continues
    with it: a syllable stands for one Chinese character, which never begins with the syllable's Latin letters."""
    out, pos = [], 0
    for item in syllables:
        if name.startswith(item, pos):
            out.append(item)
            pos += len(item)
        else:
            out.append(item[:1])
            pos += 1
    return out


def name_sort_key(name: str, syllables: list[str] | None = None) -> str:
    """The name's pinyin sort key: syllables and Latin words joined by ".", then " " and the name itself (homophones
    in a stable order, keys distinct): "zhong.lian 中联". Compared bytewise (SQLite's default, PostgreSQL's "C"
    collation), so both databases order alike, and a name sorts before the longer names it begins. `syllables`:
    lazy_pinyin of the normalized name, when the caller has it already."""
    name = normalize_text(name or "")
    syllables = lazy_pinyin(name) if syllables is None else syllables
    words = [w for part in syllables for w in _NON_WORD.split(part.lower()) if w]
    return f"{'.'.join(words)[:400]} {name}"[:600]


def search_grams(text: str) -> str:
    """Every CJK character and every adjacent pair of CJK characters, letters or digits of a search text, distinct
    and space-separated: a one- or two-character term is in the text exactly when it is among these."""
    text = text or ""
    grams = set(CJK_CHAR.findall(text))  # every CJK character is inside a run
    for run in _GRAM_RUN.findall(text):
        grams.update(map(str.__add__, run, run[1:]))
    return " ".join(sorted(grams))


def gram_term(term: str) -> bool:
    """Whether the gram index answers this (normalized, lower-case) term exactly."""
    return (len(term) == 1 and bool(CJK_CHAR.match(term))) or (len(term) == 2 and bool(GRAM_CHARS.match(term)))


def card_search_text(fields: Iterable[FieldDef], *, name: str, number: str, tags, values: dict) -> str:
    """The lower-case blob active search looks in: name (and its pinyin), number, tags and every non-sensitive
    value."""
    parts = [name or "", name_pinyin(name or ""), number or "", " ".join(tags or [])]
    for fd in _shareable(fields):
        value = (values or {}).get(fd.key)
        if is_empty(value):
            continue
        try:
            parts.append(search_text(fd.type, value, fd.spec()))
        except Exception:  # a stored value never blocks a save
            parts.append(str(value))
    return normalize_text(" ".join(p for p in parts if p)).lower()[:20000]


def build_search_text(template: CardTemplate, client: Client, fx: FieldIndex | None = None,
                      syllables: list[str] | None = None) -> str:
    if fx is None:
        return card_search_text(fields_by_key(template).values(), name=client.name, number=client.number,
                                tags=client.tags, values=client.values or {})
    # The same text as card_search_text, walking only the fields the card has a value for.
    values = client.values or {}
    name = client.name or ""
    parts = [name, name_pinyin(name, syllables), client.number or "", " ".join(client.tags or [])]
    for key, ftype, _fd in fx.shareable:
        if key not in values:
            continue
        value = values[key]
        if is_empty(value):
            continue
        if ftype in _PLAIN_TEXT:  # search_text of a text value, without its dispatch (most of a card's values)
            parts.append(" ".join(unicodedata.normalize("NFKC", str(value)).lower().split()))
            continue
        try:
            parts.append(search_text(ftype, value, fx.spec(key)))
        except Exception:  # a stored value never blocks a save
            parts.append(str(value))
    return normalize_text(" ".join(p for p in parts if p)).lower()[:20000]


def card_match_keys(fields: Iterable[FieldDef], name: str, values: dict,
                    fx: FieldIndex | None = None) -> set[tuple[str, str]]:
    """Normalized keys for duplicate detection; empty values and sensitive fields never produce a key."""
    keys = set()
    norm = normalize_company_name(name or "")
    if norm:
        keys.add(("name", norm[:200]))
    values = values or {}
    if fx is not None:
        return keys | _keyed_match_keys(fx, values)
    for fd in _shareable(fields):
        value = values.get(fd.key)
        if is_empty(value):
            continue
        if fd.type == "table":
            for row in value if isinstance(value, list) else []:
                for col in fd.columns or []:
                    if col.get("type") in ("phone", "email") and isinstance(row, dict) \
                            and not is_empty(row.get(col["key"])):
                        keys |= _contact_keys(col["type"], row[col["key"]])
        elif fd.type in ("phone", "email"):
            keys |= _contact_keys(fd.type, value)
        elif fd.identifier:
            norm_value = normalize_text(display_value(fd.type, value, fd.spec())).lower().replace(" ", "")
            if norm_value:
                keys.add((f"field:{fd.key}", norm_value[:200]))
    return keys


def _keyed_match_keys(fx: FieldIndex, values: dict) -> set[tuple[str, str]]:
    """card_match_keys' keys of the values, from the fields that can give one (FieldIndex.keyed)."""
    keys = set()
    for key, ftype, identifier, fd in fx.keyed:
        if key not in values:
            continue
        value = values[key]
        if is_empty(value):
            continue
        if ftype == "table":
            for row in value if isinstance(value, list) else []:
                for col in fd.columns or []:
                    if col.get("type") in ("phone", "email") and isinstance(row, dict) \
                            and not is_empty(row.get(col["key"])):
                        keys |= _contact_keys(col["type"], row[col["key"]])
        elif ftype in ("phone", "email"):
            keys |= _contact_keys(ftype, value)
        elif identifier:
            norm_value = normalize_text(display_value(ftype, value, fx.spec(key))).lower().replace(" ", "")
            if norm_value:
                keys.add((f"field:{key}", norm_value[:200]))
    return keys


def match_keys(template: CardTemplate, name: str, values: dict,
               fx: FieldIndex | None = None) -> set[tuple[str, str]]:
    if fx is not None:
        return card_match_keys((), name, values, fx)
    return card_match_keys(fields_by_key(template).values(), name, values)


def _contact_keys(kind: str, value) -> set[tuple[str, str]]:
    if kind == "phone":
        digits = phone_digits(str(value))
        return {("phone", digits)} if len(digits) >= 5 else set()
    text = normalize_text(str(value)).lower()
    return {("email", text[:200])} if text else set()


def write_match_keys(template: CardTemplate, client: Client) -> None:
    db.session.execute(delete(ClientMatchKey).where(ClientMatchKey.client_id == client.id))
    insert_match_keys([(client, match_keys(template, client.name, client.values or {}))])


def field_value_rows(template: CardTemplate, values: dict,
                     fx: FieldIndex | None = None) -> list[tuple[str, float | None, str | None]]:
    """(key, num, txt) rows of ClientFieldValue for a card's values: what the list filters and sorts by."""
    if fx is None:
        return [row for fd in fields_by_key(template).values() for row in _field_value_rows(fd, values.get(fd.key))]
    # The same rows, from the non-sensitive indexed fields the card has a value for.
    return [row for key, index in fx.index_kinds if key in values for row in _index_rows(key, index, values[key])]


def _field_value_rows(fd: FieldDef, value) -> list[tuple[str, float | None, str | None]]:
    if fd.sensitive or is_empty(value):
        return []
    ft = FIELD_TYPES.get(fd.type)
    return _index_rows(fd.key, ft.index if ft else None, value)


def _index_rows(key: str, index: str | None, value) -> list[tuple[str, float | None, str | None]]:
    if is_empty(value):
        return []
    if index == "num":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [(key, float(value), None)]
    elif index == "multi":
        return [(key, None, o[:200]) for o in dict.fromkeys(value if isinstance(value, list) else [value])
                if isinstance(o, str)]
    elif index == "txt" and isinstance(value, str):
        return [(key, None, value[:200])]
    return []


def reindex_field_values(template: CardTemplate, key: str) -> None:
    """Rebuild one field's ClientFieldValue rows on every card of the tenant (after the field's type or its
    sensitive flag changed: a text field turned into a select keeps its values, but now the list filters by them)."""
    fd = fields_by_key(template).get(key)
    tid = current_tenant_id()
    db.session.flush()
    db.session.execute(delete(ClientFieldValue).where(ClientFieldValue.tenant_id == tid, ClientFieldValue.key == key))
    if fd is None:
        return
    rows = [{"tenant_id": tid, "client_id": cid, "key": k, "num": n, "txt": t}
            for cid, values in db.session.execute(select(Client.id, Client.values).where(Client.tenant_id == tid))
            for k, n, t in _field_value_rows(fd, (values or {}).get(key))]
    if rows:
        db.session.execute(ClientFieldValue.__table__.insert(), rows)


def write_field_values(template: CardTemplate, client: Client) -> None:
    """Bring the card's ClientFieldValue rows in line with its values (after the card is flushed)."""
    db.session.execute(delete(ClientFieldValue).where(ClientFieldValue.client_id == client.id))
    rows = field_value_rows(template, client.values or {})
    if rows:
        db.session.execute(ClientFieldValue.__table__.insert(), [
            {"tenant_id": client.tenant_id, "client_id": client.id, "key": k, "num": n, "txt": t} for k, n, t in rows])


def derive_columns(template: CardTemplate, client: Client, fx: FieldIndex | None = None,
                   rules: dict | None = None) -> None:
    """Set the card's own derived columns before its flush, so one save is one UPDATE and one version.
    A batch passes its FieldIndex and grading rules, built once."""
    client.completeness = completeness(template, client.values or {}, fx)
    before = client.search_text
    name = client.name or ""
    # The name's pinyin once for its search text and its sort key (both read the normalized name).
    syllables = lazy_pinyin(name) if fx is not None and name == normalize_text(name) else None
    client.search_text = build_search_text(template, client, fx, syllables)
    apply_grade(client, rules)  # the tenant's grading rules; a manual override stays
    client.name_sort = name_sort_key(client.name, syllables)
    client._search_changed = client.search_text != before


def _upsert(model, rows: list[dict], index: list[str], update: list[str]):
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(model)
    return stmt.on_conflict_do_update(index_elements=index, set_={k: stmt.excluded[k] for k in update})


def write_search_grams(clients: list[Client], *, new: bool = False) -> None:
    """The cards' gram index rows (one statement for any number of cards; `new`: cards just inserted, which have
    none yet)."""
    rows = [{"tenant_id": c.tenant_id, "client_id": c.id, "grams": search_grams(c.search_text)} for c in clients]
    if new:
        insert_rows(ClientSearchGrams.__table__, rows)
    elif rows:
        db.session.execute(_upsert(ClientSearchGrams, rows, ["client_id"], ["grams"]), rows)


def write_side_rows(template: CardTemplate, client: Client, *, values_changed: bool = True, new: bool = False) -> None:
    """Rewrite the card's match keys, search grams (when its search text changed) and (when its values changed) its
    value index rows, after its flush. `new`: a card just inserted has no side rows to delete."""
    if new:
        insert_match_keys([(client, match_keys(template, client.name, client.values or {}))])
    else:
        write_match_keys(template, client)
    if getattr(client, "_search_changed", True):
        write_search_grams([client])
    if values_changed:
        if new:
            insert_field_values(template, [client])
        else:
            write_field_values(template, client)


def insert_match_keys(pairs) -> None:
    """Match keys of new cards, one statement: pairs of (client, keys)."""
    rows = [{"tenant_id": c.tenant_id, "client_id": c.id, "kind": kind, "value": value}
            for c, keys in pairs for kind, value in sorted(keys)]
    insert_rows(ClientMatchKey.__table__, rows)


def insert_field_values(template: CardTemplate, clients: list[Client], fx: FieldIndex | None = None) -> None:
    """Value index rows of new cards, one statement."""
    rows = [{"tenant_id": c.tenant_id, "client_id": c.id, "key": k, "num": n, "txt": t}
            for c in clients for k, n, t in field_value_rows(template, c.values or {}, fx)]
    insert_rows(ClientFieldValue.__table__, rows)


def recompute_completeness(template: CardTemplate) -> int:
    """After the card's core changed (a field added, archived, moved, made required or core): every card's
    completeness again. A derived column only, so card versions stay. Returns how many cards changed."""
    core = core_fields(template)
    changed = 0
    rows = db.session.execute(select(Client.id, Client.values, Client.completeness)).all()
    for client_id, values, old in rows:
        new = _completeness_of(core, values or {})
        if new != old:
            db.session.execute(update(Client).where(Client.id == client_id).values(completeness=new),
                               execution_options={"synchronize_session": False})
            changed += 1
    if changed:
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, Client):
                set_committed_value(obj, "completeness", _completeness_of(core, obj.values or {}))
    return changed


def _completeness_of(core: list[FieldDef], values: dict) -> float:
    total = filled = 0
    for fd in core:
        weight = 3 if fd.required else 1
        total += weight
        if not is_empty(values.get(fd.key)):
            filled += weight
    return round(filled / total, 4) if total else 1.0


def rederive_field(template: CardTemplate, key: str) -> int:
    """After a field's sensitive or identifier flag changed: search text and match keys of every card holding a
    value for it are rebuilt, and its value index too. Derived columns only, so card versions stay."""
    count = 0
    for client in db.session.scalars(select(Client).order_by(Client.id)):
        if is_empty((client.values or {}).get(key)):
            continue
        text = build_search_text(template, client)
        if text != client.search_text:
            # Not a card edit: bypass the version counter (no one's open form goes stale for this).
            db.session.execute(update(Client).where(Client.id == client.id).values(search_text=text),
                               execution_options={"synchronize_session": False})
            set_committed_value(client, "search_text", text)
            write_search_grams([client])
        write_match_keys(template, client)
        count += 1
    reindex_field_values(template, key)
    return count
