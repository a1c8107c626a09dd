"""Template editing: plain service functions used by the editor UI and the REST API alike.

Every function works on the current tenant's template, validates everything before writing,
bumps ``CardTemplate.version`` and records a ``TemplateChange`` (who, when, what, before/after).
No function ever deletes a value stored on a card:

* keys are stable and never reused: renaming a label keeps the values; archiving hides a field
  (its values stay on the cards) and restoring brings them back;
* renaming an option rewrites the cards that use it (each card's history records the change);
* retiring an option that cards use either moves those cards to another option (recorded on each
  card) or keeps it as a *retired* option: old cards stay valid, new cards cannot choose it;
* a type change happens only when every stored value converts (``app.values.convert_value``);
  otherwise ``TemplateError`` lists the cards that block it;
* a table column that holds values cannot be removed.

Errors are raised as ``TemplateError(errors)`` with a dict of input name -> translated message.
"""
from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.accounts.models import User
from app.card_templates.models import CardTemplate, FieldDef, Section, TemplateChange
from app.card_templates.services import fields_by_key, load_template
from app.clients.derived import core_fields, recompute_completeness, reindex_field_values, rederive_field
from app.clients.models import Client
from app.clients.services import VersionConflict, rewrite_card_values
from app.db_types import utcnow
from app.extensions import db
from app.values import FIELD_TYPES, InvalidValue, convert_value, is_empty, normalize_text

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Card attributes that live outside the template's values (the API shows them beside the fields).
RESERVED_KEYS = frozenset({"id", "name", "number", "grade", "owner", "owner_id", "co_owners", "version",
                           "archived", "archived_at", "created_at", "created_by", "updated_at", "values",
                           "fields", "client", "template", "history"})
LABEL_MAX = 120
HELP_MAX = 1000
HINTS_MAX = 30
HINT_MAX = 300
OPTIONS_MAX = 200
OPTION_MAX = 100
FIELDS_MAX = 300  # active fields of a template
SECTIONS_MAX = 60
COLUMNS_MAX = 30
OPTION_TYPES = tuple(name for name, ft in FIELD_TYPES.items() if ft.has_options)
# Template changes that can change the card's core, and so every card's completeness.
CORE_ACTIONS = {"add_field", "update_field", "archive_field", "restore_field", "archive_section", "restore_section",
                "move_field", "move_section", "merge", "change_type"}
FLAGS = ("required", "sensitive", "in_brief", "identifier", "yearly_reminder")

TYPE_LABELS = {name: ft.label for name, ft in FIELD_TYPES.items()}


class TemplateError(Exception):
    """Bad input for a template change; `errors` maps the input name to a translated message."""

    def __init__(self, errors: dict, blocking: list | None = None, status: int = 422):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.blocking = blocking or []  # cards that block a type change: [{id, number, name, value, message}]
        self.status = status  # 400 for input that is refused before it is read (nesting, control characters)


# ---------------------------------------------------------------- small helpers

def clean_text(value, keep_newlines: bool = False) -> str:
    """Stripped text without control characters; single line unless keep_newlines."""
    if value is None:
        return ""
    out = []
    for ch in str(value):
        cat = unicodedata.category(ch)
        if cat == "Cc" and not (keep_newlines and ch == "\n"):
            out.append(" " if ch in "\t\r\n" else "")
        elif cat != "Cs" and ch not in "\u200b\ufeff":
            out.append(ch)
    text = "".join(out)
    if keep_newlines:
        return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()
    return " ".join(text.split())


def _lines(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace("\r", "\n").split("\n")
    return [t for t in (clean_text(v) for v in value) if t]


def as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes", "y", "是")
    return bool(value)


def option_key(option: str) -> str:
    """Options that differ only in case, width or spacing are the same option to the value library."""
    return normalize_text(option).casefold()


def slugify(text: str) -> str:
    """An ASCII key from a label ('' when nothing ASCII is left, e.g. a Chinese label)."""
    s = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "_", s).strip("_")
    s = re.sub(r"^[^a-z]+", "", s)
    return s[:40].rstrip("_")


def unique_key(base: str, taken, prefix: str = "field") -> str:
    """base if free, else base_2, base_3 …; `prefix_<n>` when base is empty or reserved."""
    taken = set(taken)
    if base and KEY_RE.match(base) and base not in taken and base not in RESERVED_KEYS:
        return base
    if not base or base in RESERVED_KEYS or not KEY_RE.match(base):
        n = len(taken) + 1
        while f"{prefix}_{n}" in taken:
            n += 1
        return f"{prefix}_{n}"
    n = 2
    while True:
        candidate = f"{base[:36]}_{n}"
        if candidate not in taken:
            return candidate
        n += 1


def check_key(key: str, taken, name: str = "key") -> dict:
    if not KEY_RE.match(key or ""):
        return {name: _l("A key starts with a lower-case letter and has only a-z, 0-9 and _ (at most 40).")}
    if key in RESERVED_KEYS:
        return {name: _l("“%(key)s” is reserved for the card itself; choose another key.", key=key)}
    if key in taken:
        return {name: _l("The key “%(key)s” is already used in this template (keys are never reused).", key=key)}
    return {}


def _sections(template: CardTemplate) -> list[Section]:
    return sorted(template.sections, key=lambda s: (s.position, s.id or 0))


def _fields(section: Section) -> list[FieldDef]:
    return sorted(section.fields, key=lambda f: (f.position, f.id or 0))


def _renumber(template: CardTemplate, order: dict[int, list[FieldDef]] | None = None) -> None:
    """Positions from the section order, then the field order in each section."""
    position = 0
    for s_pos, section in enumerate(_sections(template)):
        section.position = s_pos
        for fd in (order or {}).get(id(section), _fields(section)):
            position += 1
            fd.position = position


def _active_count(template: CardTemplate) -> int:
    return sum(1 for fd in template.fields if not fd.archived)


def _log(template: CardTemplate, actor: User | None, action: str, detail: dict) -> TemplateChange:
    """Bump the template version and record the change."""
    template.version = (template.version or 1) + 1
    template.updated_at = utcnow()
    change = TemplateChange(template_id=template.id, version=template.version,
                            actor_id=actor.id if actor else None, action=action, detail=detail)
    db.session.add(change)
    db.session.flush()
    if action in CORE_ACTIONS:
        recompute_completeness(template)
    return change


def _section(template: CardTemplate, key: str) -> Section:
    for s in template.sections:
        if s.key == key:
            return s
    raise TemplateError({"section": _l("There is no section “%(key)s” in this template.", key=key)})


def _field(template: CardTemplate, key: str) -> FieldDef:
    fd = fields_by_key(template).get(key)
    if fd is None:
        raise TemplateError({"key": _l("There is no field “%(key)s” in this template.", key=key)})
    return fd


def get_section(key: str) -> Section | None:
    return next((s for s in load_template().sections if s.key == key), None)


def get_field(key: str) -> FieldDef | None:
    return fields_by_key(load_template()).get(key)


def _en(obj) -> dict:
    return dict((obj.i18n or {}).get("en") or {})


def _set_en(obj, **values) -> None:
    """Set (or with None/'' drop) English translations."""
    en = _en(obj)
    for name, value in values.items():
        if value in (None, "", [], {}):
            en.pop(name, None)
        else:
            en[name] = value
    i18n = dict(obj.i18n or {})
    if en:
        i18n["en"] = en
    else:
        i18n.pop("en", None)
    obj.i18n = i18n


def is_core(template: CardTemplate, fd: FieldDef) -> bool:
    """Does completeness count this field (the tenant's mark, else the default rule)?"""
    return any(f is fd for f in core_fields(template))


def field_snapshot(fd: FieldDef) -> dict:
    """What a change record keeps of a field (before/after)."""
    return {"label": fd.label, "label_en": _en(fd).get("label") or "", "type": fd.type, "help": fd.help or "",
            "hints": list(fd.hints or []), **{flag: bool(getattr(fd, flag)) for flag in FLAGS},
            "core": is_core(fd.template, fd) if fd.template else False,
            "options": list(fd.options or []), "retired_options": list(fd.retired_options or []),
            "columns": [{"key": c["key"], "label": c["label"], "type": c["type"]} for c in fd.columns or []],
            "section": fd.section.key if fd.section else None, "archived": bool(fd.archived)}


# ---------------------------------------------------------------- card values

def _stored(key: str) -> list[tuple[int, str, str, object]]:
    """(client id, number, name, value) of every card, archived ones too, holding a value for key."""
    rows = db.session.execute(select(Client.id, Client.number, Client.name, Client.values).order_by(Client.id)).all()
    return [(cid, number, name, values[key]) for cid, number, name, values in rows
            if values and key in values and not is_empty(values[key])]


def _person_spec() -> dict:
    users = db.session.execute(select(User.id, User.name, User.email)).all()
    return {"person_ids": {u.id for u in users}, "person_names": {u.id: (u.name or u.email) for u in users}}


def _rewrite(template: CardTemplate, actor: User | None, updates: dict[int, dict], note: str) -> int:
    """Write new values to cards (one transaction with the template change), each recorded in its history."""
    try:
        return rewrite_card_values(template, actor, updates, note)
    except VersionConflict:
        raise TemplateError({"cards": _l("A card changed while the template was being saved; try again.")}) from None


# ---------------------------------------------------------------- validation of field data

def _clean_options(raw, errors: dict, name: str = "options") -> list[str]:
    options = _lines(raw)
    seen = {}
    for opt in options:
        if len(opt) > OPTION_MAX:
            errors[name] = _l("An option has at most %(n)d characters: “%(option)s…”.", n=OPTION_MAX,
                              option=opt[:20])
            return options
        k = option_key(opt)
        if k in seen:
            errors[name] = _l("The option “%(option)s” is listed twice.", option=opt)
            return options
        seen[k] = opt
    if len(options) > OPTIONS_MAX:
        errors[name] = _l("A field has at most %(n)d options (this list has %(count)d).", n=OPTIONS_MAX,
                          count=len(options))
    return options


def clean_columns(raw, errors: dict, name: str = "columns", current: list | None = None) -> list[dict]:
    """Table columns [{key, label, type, options, label_en?}] validated; new columns get a key."""
    if raw is None:
        raw = []
    if not isinstance(raw, (list, tuple)):
        errors[name] = _l("Columns must be a list.")
        return []
    current_by_key = {c["key"]: c for c in current or []}
    out, taken = [], set()
    wanted_keys = {c.get("key") for c in raw if isinstance(c, dict) and c.get("key")}
    for n, col in enumerate(raw, start=1):
        if not isinstance(col, dict):
            errors[name] = _l("Column %(n)d: give a label and a type.", n=n)
            return out
        label = clean_text(col.get("label"))
        label_en = clean_text(col.get("label_en"))
        ctype = col.get("type") or "text"
        if not label:
            errors[name] = _l("Column %(n)d: enter a label.", n=n)
            return out
        if len(label) > LABEL_MAX or len(label_en) > LABEL_MAX:
            errors[name] = _l("Column %(n)d: use at most %(max)d characters for the label.", n=n, max=LABEL_MAX)
            return out
        if ctype not in FIELD_TYPES or not FIELD_TYPES[ctype].column:
            errors[name] = _l("Column %(n)d: choose a field type other than table.", n=n)
            return out
        key = clean_text(col.get("key"))
        if key:
            if not KEY_RE.match(key):
                errors[name] = _l("Column %(n)d: a key starts with a lower-case letter and has only a-z, 0-9 and _.",
                                  n=n)
                return out
            if key in taken:
                errors[name] = _l("Column %(n)d: the key “%(key)s” is used twice.", n=n, key=key)
                return out
        else:
            key = unique_key(slugify(label_en or label), taken | wanted_keys | set(current_by_key), prefix="col")
        taken.add(key)
        col_errors: dict = {}
        options = _clean_options(col.get("options"), col_errors) if ctype in OPTION_TYPES else []
        if col_errors:
            errors[name] = _l("Column %(n)d: %(message)s", n=n, message=col_errors["options"])
            return out
        before = current_by_key.get(key) or {}
        retired = [o for o in (col.get("retired_options") or before.get("retired_options") or [])
                   if option_key(o) not in {option_key(x) for x in options}]
        i18n = dict(before.get("i18n") or {})
        en = dict(i18n.get("en") or {})
        if label_en:
            en["label"] = label_en
        elif "label_en" in col or label != before.get("label"):
            en.pop("label", None)
        options_en = col.get("options_en")
        if isinstance(options_en, dict):
            en["options"] = {k: v for k, v in options_en.items() if k in options}
        elif isinstance(options_en, list) and len(options_en) == len(options):
            en["options"] = dict(zip(options, options_en))
        elif en.get("options"):
            en["options"] = {k: v for k, v in en["options"].items() if k in options}
        out.append({"key": key, "label": label, "type": ctype, "options": options,
                    **({"retired_options": retired} if retired else {}),
                    "i18n": {"en": en} if en else {}})
    if len(out) > COLUMNS_MAX:
        errors[name] = _l("A table has at most %(n)d columns.", n=COLUMNS_MAX)
    return out


def clean_field_data(data: dict, current: FieldDef | None = None) -> tuple[dict, dict]:
    """Validate the given attributes of a field: (clean values, errors). Only keys present are returned."""
    clean, errors = {}, {}
    if "label" in data or current is None:
        label = clean_text(data.get("label"))
        if not label:
            errors["label"] = _l("Enter a label.")
        elif len(label) > LABEL_MAX:
            errors["label"] = _l("Use at most %(n)d characters (this label has %(count)d).", n=LABEL_MAX,
                                 count=len(label))
        clean["label"] = label
    if "label_en" in data:
        label_en = clean_text(data.get("label_en"))
        if len(label_en) > LABEL_MAX:
            errors["label_en"] = _l("Use at most %(n)d characters (this label has %(count)d).", n=LABEL_MAX,
                                    count=len(label_en))
        clean["label_en"] = label_en
    if "type" in data or current is None:
        ftype = data.get("type") or ("text" if current is None else current.type)
        if ftype not in FIELD_TYPES:
            errors["type"] = _l("Unknown field type “%(type)s”; choose one of: %(types)s.", type=str(ftype)[:40],
                                types=", ".join(FIELD_TYPES))
        clean["type"] = ftype
    for name in ("help", "help_en"):
        if name in data:
            text = clean_text(data.get(name), keep_newlines=True)
            if len(text) > HELP_MAX:
                errors[name] = _l("Use at most %(n)d characters.", n=HELP_MAX)
            clean[name] = text
    for name in ("hints", "hints_en"):
        if name in data:
            hints = _lines(data.get(name))
            if len(hints) > HINTS_MAX:
                errors[name] = _l("At most %(n)d questions per field.", n=HINTS_MAX)
            elif any(len(h) > HINT_MAX for h in hints):
                errors[name] = _l("A question has at most %(n)d characters.", n=HINT_MAX)
            clean[name] = hints
    for flag in FLAGS:
        if flag in data:
            clean[flag] = as_bool(data.get(flag))
    if "core" in data:
        clean["core"] = as_bool(data.get("core"))
    if "options" in data:
        clean["options"] = _clean_options(data.get("options"), errors)
    if "columns" in data:
        clean["columns"] = clean_columns(data.get("columns"), errors,
                                         current=list(current.columns or []) if current else None)
    ftype = clean.get("type") or (current.type if current else "text")
    yearly = clean.get("yearly_reminder", current.yearly_reminder if current else False)
    if yearly and ftype != "date" and "type" not in errors:
        errors["yearly_reminder"] = _l("Only date fields can remind every year.")
    if ftype == "table" and current is None and not clean.get("columns") and "columns" not in errors:
        clean["columns"] = [{"key": "item", "label": clean.get("label") or "item", "type": "text", "options": [],
                             "i18n": {}}]
    return clean, errors


# ---------------------------------------------------------------- sections

def add_section(actor: User | None, label: str, *, label_en: str | None = None, key: str | None = None) -> Section:
    """Add an empty section at the end of the template."""
    template = load_template()
    label, label_en = clean_text(label), clean_text(label_en)
    errors = {}
    if not label:
        errors["label"] = _l("Enter a label.")
    elif len(label) > LABEL_MAX:
        errors["label"] = _l("Use at most %(n)d characters (this label has %(count)d).", n=LABEL_MAX, count=len(label))
    if len(label_en) > LABEL_MAX:
        errors["label_en"] = _l("Use at most %(n)d characters.", n=LABEL_MAX)
    taken = {s.key for s in template.sections}
    if key:
        errors.update(check_key(key, taken))
    else:
        key = unique_key(slugify(label_en or label), taken, prefix="section")
    if len(template.sections) >= SECTIONS_MAX:
        errors["label"] = _l("A template has at most %(n)d sections.", n=SECTIONS_MAX)
    if errors:
        raise TemplateError(errors)
    section = Section(template=template, key=key, label=label, position=len(template.sections), i18n={})
    _set_en(section, label=label_en)
    db.session.add(section)
    db.session.flush()
    _renumber(template)
    _log(template, actor, "add_section", {"section": key, "label": label})
    return section


def rename_section(actor: User | None, key: str, label: str, label_en: str | None = None) -> Section:
    """Change a section's label (and its English label; None keeps it unless the label changed)."""
    template = load_template()
    section = _section(template, key)
    label = clean_text(label)
    errors = {}
    if not label:
        errors["label"] = _l("Enter a label.")
    elif len(label) > LABEL_MAX:
        errors["label"] = _l("Use at most %(n)d characters (this label has %(count)d).", n=LABEL_MAX, count=len(label))
    if label_en is not None and len(clean_text(label_en)) > LABEL_MAX:
        errors["label_en"] = _l("Use at most %(n)d characters.", n=LABEL_MAX)
    if errors:
        raise TemplateError(errors)
    before = {"label": section.label, "label_en": _en(section).get("label") or ""}
    if label_en is not None:
        _set_en(section, label=clean_text(label_en))
    elif label != section.label:
        _set_en(section, label=None)  # a stale translation would show the old meaning
    section.label = label
    after = {"label": section.label, "label_en": _en(section).get("label") or ""}
    if before == after:
        return section
    _log(template, actor, "rename_section", {"section": key, "before": before, "after": after})
    return section


def move_section(actor: User | None, key: str, direction: str | None = None, index: int | None = None) -> Section:
    """Move a section up/down (among the shown sections) or to an index."""
    template = load_template()
    section = _section(template, key)
    order = _sections(template)
    before = order.index(section)
    if direction in ("up", "down"):
        shown = [s for s in order if not s.archived or s is section]
        i = shown.index(section)
        j = i - 1 if direction == "up" else i + 1
        if not 0 <= j < len(shown):
            return section
        order.remove(section)
        target = order.index(shown[j])
        order.insert(target if direction == "up" else target + 1, section)
    elif index is not None:
        order.remove(section)
        order.insert(max(0, min(int(index), len(order))), section)
    else:
        raise TemplateError({"direction": _l("Say where to move it: up, down or a position.")})
    after = order.index(section)
    if after == before:
        return section
    field_order = {id(s): _fields(s) for s in order}
    for pos, s in enumerate(order):
        s.position = pos
    _renumber(template, field_order)
    _log(template, actor, "move_section", {"section": key, "label": section.label, "before": before, "after": after})
    return section


def archive_section(actor: User | None, key: str) -> Section:
    """Hide a section and its fields; every value stays on the cards."""
    template = load_template()
    section = _section(template, key)
    if section.archived:
        return section
    archived = []
    for fd in section.fields:
        if not fd.archived:
            fd.archived = True
            fd.settings = {**(fd.settings or {}), "archived_with_section": True}
            archived.append(fd.key)
    section.archived = True
    _log(template, actor, "archive_section", {"section": key, "label": section.label, "fields": archived})
    return section


def restore_section(actor: User | None, key: str) -> Section:
    """Show a section again with the fields that were archived together with it."""
    template = load_template()
    section = _section(template, key)
    if not section.archived:
        return section
    back = [fd for fd in section.fields if (fd.settings or {}).get("archived_with_section")]
    if _active_count(template) + len(back) > FIELDS_MAX:
        raise TemplateError({"section": _l("A template has at most %(n)d fields in use; archive others first.",
                                           n=FIELDS_MAX)})
    for fd in back:
        fd.archived = False
        fd.settings = {k: v for k, v in (fd.settings or {}).items() if k != "archived_with_section"}
    section.archived = False
    _log(template, actor, "restore_section", {"section": key, "label": section.label,
                                              "fields": [fd.key for fd in back]})
    return section


# ---------------------------------------------------------------- fields

def add_field(actor: User | None, section_key: str, data: dict) -> FieldDef:
    """Add a field at the end of a section (or at data['index'] among its shown fields)."""
    template = load_template()
    section = _section(template, section_key)
    clean, errors = clean_field_data(data)
    taken = set(fields_by_key(template))
    if data.get("key"):
        key = clean_text(data["key"])
        errors.update(check_key(key, taken))
    else:
        key = unique_key(slugify(clean.get("label_en") or clean.get("label") or ""), taken)
    if section.archived:
        errors["section"] = _l("The section “%(label)s” is archived; restore it first.", label=section.label)
    if _active_count(template) >= FIELDS_MAX:
        errors["label"] = _l("A template has at most %(n)d fields in use; archive others first.", n=FIELDS_MAX)
    if errors:
        raise TemplateError(errors)
    ftype = clean["type"]
    fd = FieldDef(template=template, section=section, key=key, label=clean["label"], type=ftype,
                  help=clean.get("help", ""), hints=clean.get("hints", []),
                  options=clean.get("options", []) if ftype in OPTION_TYPES else [],
                  retired_options=[], columns=clean.get("columns", []) if ftype == "table" else [],
                  settings={"core": clean["core"]} if "core" in clean else {}, i18n={}, archived=False,
                  position=10 ** 6, **{flag: clean.get(flag, False) for flag in FLAGS})
    _set_en(fd, label=clean.get("label_en"), help=clean.get("help_en"), hints=clean.get("hints_en"))
    db.session.add(fd)
    order = {id(s): [f for f in _fields(s) if f is not fd] for s in template.sections}
    fields = order[id(section)]
    index = data.get("index")
    if index is not None:
        shown = [f for f in fields if not f.archived]
        i = max(0, min(int(index), len(shown)))
        fields.insert(fields.index(shown[i]) if i < len(shown) else len(fields), fd)
    else:
        fields.append(fd)
    _renumber(template, order)
    db.session.flush()
    _log(template, actor, "add_field", {"key": key, "label": fd.label, "type": ftype, "section": section.key,
                                        "after": field_snapshot(fd)})
    return fd


def update_field(actor: User | None, key: str, data: dict) -> FieldDef:
    """Change a field's label, help, questions, flags, options, columns, type or section; values stay."""
    template = load_template()
    fd = _field(template, key)
    clean, errors = clean_field_data(data, current=fd)
    if "key" in data and data["key"] != key:
        errors["key"] = _l("A field's key never changes; change its label instead.")
    target = None
    if data.get("section") and data["section"] != fd.section.key:
        try:
            target = _section(template, data["section"])
        except TemplateError as e:
            errors.update(e.errors)
        else:
            if target.archived:
                errors["section"] = _l("The section “%(label)s” is archived; restore it first.", label=target.label)
    new_type = clean.pop("type", fd.type)
    if clean.get("options") and new_type not in OPTION_TYPES:
        errors["options"] = _l("Only choice fields have options.")
    if "columns" in clean and new_type != "table":
        errors["columns"] = _l("Only table fields have columns.")
    if errors:
        raise TemplateError(errors)
    before = field_snapshot(fd)
    # The type first: it is the only step that can still refuse (values that do not convert).
    if new_type != fd.type:
        _change_type(template, actor, fd, new_type, options=clean.get("options"), columns=clean.get("columns"))
        clean.pop("options", None)
        clean.pop("columns", None)
    if "label" in clean and clean["label"] != fd.label and "label_en" not in clean:
        clean["label_en"] = ""  # a stale translation would show the old meaning
    if "help" in clean and clean["help"] != (fd.help or "") and "help_en" not in clean:
        clean["help_en"] = ""
    if "hints" in clean and clean["hints"] != list(fd.hints or []) and "hints_en" not in clean:
        clean["hints_en"] = []
    for name in ("label", "help", "hints", *FLAGS):
        if name in clean:
            setattr(fd, name, clean[name])
    if "core" in clean and clean["core"] != is_core(template, fd):
        fd.settings = {**(fd.settings or {}), "core": clean["core"]}
    en = {name[:-3]: clean[name] for name in ("label_en", "help_en", "hints_en") if name in clean}
    if en:
        _set_en(fd, **en)
    moved = 0
    if "options" in clean and fd.type in OPTION_TYPES:
        moved = _set_options(template, actor, fd, clean["options"])
    if "columns" in clean:
        _set_columns(template, actor, fd, clean["columns"])
    if target is not None:
        order = {id(s): [f for f in _fields(s) if f is not fd] for s in template.sections}
        fd.section = target
        order[id(target)].append(fd)
        _renumber(template, order)
    after = field_snapshot(fd)
    if before == after:
        return fd
    if (before["sensitive"], before["identifier"]) != (after["sensitive"], after["identifier"]):
        # A field turned sensitive takes its values out of search text, match keys and the value index now.
        rederive_field(template, key)
    _log(template, actor, "update_field", {"key": key, "label": fd.label, "before": before, "after": after,
                                           **({"cards": moved} if moved else {})})
    return fd


def move_field(actor: User | None, key: str, direction: str | None = None, section_key: str | None = None,
               index: int | None = None) -> FieldDef:
    """Move a field up/down (past the section edge into the next shown section) or to an index of a section."""
    template = load_template()
    fd = _field(template, key)
    sections = [s for s in _sections(template) if not s.archived or s is fd.section]
    order = {id(s): _fields(s) for s in template.sections}
    before = (fd.section.key, order[id(fd.section)].index(fd))
    current = order[id(fd.section)]
    if direction in ("up", "down"):
        shown = [f for f in current if not f.archived or f is fd]
        i = shown.index(fd)
        j = i - 1 if direction == "up" else i + 1
        current.remove(fd)
        if 0 <= j < len(shown):
            anchor = current.index(shown[j])
            current.insert(anchor if direction == "up" else anchor + 1, fd)
            target = fd.section
        else:  # across the section edge
            s_i = sections.index(fd.section) + (-1 if direction == "up" else 1)
            if not 0 <= s_i < len(sections) or fd.archived:
                return fd
            target = sections[s_i]
            if target.archived:
                return fd
            if direction == "up":
                order[id(target)].append(fd)
            else:
                order[id(target)].insert(0, fd)
    elif index is not None or section_key:
        target = _section(template, section_key) if section_key else fd.section
        if target.archived and target is not fd.section:
            raise TemplateError({"section": _l("The section “%(label)s” is archived; restore it first.",
                                               label=target.label)})
        current.remove(fd)
        fields = order[id(target)]
        shown = [f for f in fields if not f.archived]
        i = len(shown) if index is None else max(0, min(int(index), len(shown)))
        fields.insert(fields.index(shown[i]) if i < len(shown) else len(fields), fd)
    else:
        raise TemplateError({"direction": _l("Say where to move it: up, down or a position.")})
    if target is not fd.section:
        fd.section = target
    after = (target.key, order[id(target)].index(fd))
    _renumber(template, order)
    if before == after:
        return fd
    _log(template, actor, "move_field", {"key": key, "label": fd.label, "before": list(before),
                                         "after": list(after)})
    return fd


def archive_field(actor: User | None, key: str) -> FieldDef:
    """Hide a field from cards and forms; its values stay on every card."""
    template = load_template()
    fd = _field(template, key)
    if fd.archived:
        return fd
    fd.archived = True
    _log(template, actor, "archive_field", {"key": key, "label": fd.label, "cards": len(_stored(key))})
    return fd


def restore_field(actor: User | None, key: str) -> FieldDef:
    """Show an archived field again, with the values the cards kept."""
    template = load_template()
    fd = _field(template, key)
    if not fd.archived:
        return fd
    if fd.section.archived:
        raise TemplateError({"section": _l("The section “%(label)s” is archived; restore it first.",
                                           label=fd.section.label)})
    if _active_count(template) >= FIELDS_MAX:
        raise TemplateError({"key": _l("A template has at most %(n)d fields in use; archive others first.",
                                       n=FIELDS_MAX)})
    fd.archived = False
    fd.settings = {k: v for k, v in (fd.settings or {}).items() if k != "archived_with_section"}
    _log(template, actor, "restore_field", {"key": key, "label": fd.label, "cards": len(_stored(key))})
    return fd


# ---------------------------------------------------------------- options

def option_usage(fd: FieldDef) -> dict[str, int]:
    """How many cards hold each option (active and retired) of a select or multiselect field."""
    counts = {o: 0 for o in list(fd.options or []) + list(fd.retired_options or [])}
    for _cid, _number, _name, value in _stored(fd.key):
        for v in (value if isinstance(value, list) else [value]):
            if v in counts:
                counts[v] += 1
    return counts


def _options_field(template: CardTemplate, key: str) -> FieldDef:
    fd = _field(template, key)
    if fd.type not in OPTION_TYPES:
        raise TemplateError({"options": _l("Only choice fields have options.")})
    return fd


def _replace_option_values(template, actor, fd: FieldDef, mapping: dict[str, str], note: str) -> int:
    """Rewrite option values on the cards (old -> new), keeping multiselect order and no duplicates."""
    updates = {}
    for cid, _number, _name, value in _stored(fd.key):
        if isinstance(value, list):
            new = list(dict.fromkeys(mapping.get(v, v) for v in value))
        else:
            new = mapping.get(value, value)
        if new != value:
            updates[cid] = {fd.key: new}
    return _rewrite(template, actor, updates, note)


def _set_option_en(fd: FieldDef, mapping_en: dict) -> None:
    _set_en(fd, options=mapping_en or None)


def add_option(actor: User | None, key: str, option: str, option_en: str | None = None) -> FieldDef:
    """Add an option at the end (a retired option of the same name comes back instead)."""
    template = load_template()
    fd = _options_field(template, key)
    option = clean_text(option)
    errors = {}
    if not option:
        errors["option"] = _l("Enter the option.")
    elif len(option) > OPTION_MAX:
        errors["option"] = _l("An option has at most %(n)d characters.", n=OPTION_MAX)
    elif option_key(option) in {option_key(o) for o in fd.options or []}:
        errors["option"] = _l("“%(option)s” is already an option.", option=option)
    elif len(fd.options or []) >= OPTIONS_MAX:
        errors["option"] = _l("A field has at most %(n)d options.", n=OPTIONS_MAX)
    if errors:
        raise TemplateError(errors)
    retired = [o for o in fd.retired_options or [] if option_key(o) == option_key(option)]
    if retired:  # the same option again: bring the retired one back, its cards stay valid
        option = retired[0]
        fd.retired_options = [o for o in fd.retired_options if o != option]
    fd.options = list(fd.options or []) + [option]
    if option_en and clean_text(option_en):
        _set_option_en(fd, {**(_en(fd).get("options") or {}), option: clean_text(option_en)[:OPTION_MAX]})
    _log(template, actor, "add_option", {"key": key, "label": fd.label, "option": option})
    return fd


def rename_option(actor: User | None, key: str, old: str, new: str) -> int:
    """Rename an option and rewrite the cards that hold it (each card's history records it); returns the card count."""
    template = load_template()
    fd = _options_field(template, key)
    new = clean_text(new)
    errors = {}
    if old not in (fd.options or []) and old not in (fd.retired_options or []):
        errors["option"] = _l("“%(option)s” is not an option of this field.", option=old)
    elif not new:
        errors["new"] = _l("Enter the new name of the option.")
    elif len(new) > OPTION_MAX:
        errors["new"] = _l("An option has at most %(n)d characters.", n=OPTION_MAX)
    elif new != old and option_key(new) in {option_key(o) for o in list(fd.options or []) + list(fd.retired_options or [])
                                            if o != old}:
        errors["new"] = _l("“%(option)s” is already an option; to merge two options, retire one and move its cards "
                           "to the other.", option=new)
    if errors:
        raise TemplateError(errors)
    if new == old:
        return 0
    fd.options = [new if o == old else o for o in fd.options or []]
    fd.retired_options = [new if o == old else o for o in fd.retired_options or []]
    en = dict(_en(fd).get("options") or {})
    en.pop(old, None)  # the English of the old name would show the old meaning
    _set_option_en(fd, en)
    count = _replace_option_values(template, actor, fd, {old: new},
                                   note=f"{fd.label}: {old} → {new}")
    _log(template, actor, "rename_option", {"key": key, "label": fd.label, "before": old, "after": new,
                                            "cards": count})
    return count


def move_option(actor: User | None, key: str, option: str, direction: str | None = None,
                index: int | None = None) -> FieldDef:
    """Move an option up/down or to an index in the list."""
    template = load_template()
    fd = _options_field(template, key)
    options = list(fd.options or [])
    if option not in options:
        raise TemplateError({"option": _l("“%(option)s” is not an option of this field.", option=option)})
    i = options.index(option)
    if direction == "up":
        j = i - 1
    elif direction == "down":
        j = i + 1
    elif index is not None:
        j = int(index)
    else:
        raise TemplateError({"direction": _l("Say where to move it: up, down or a position.")})
    if not 0 <= j < len(options) or j == i:
        return fd
    options.insert(j, options.pop(i))
    return _reorder(template, actor, fd, options)


def reorder_options(actor: User | None, key: str, options: list[str]) -> FieldDef:
    """Put the active options in this order (the same options, reordered)."""
    template = load_template()
    fd = _options_field(template, key)
    if sorted(options) != sorted(fd.options or []):
        raise TemplateError({"options": _l("Give every option exactly once to reorder them.")})
    return _reorder(template, actor, fd, list(options))


def _reorder(template, actor, fd: FieldDef, options: list[str]) -> FieldDef:
    if options == list(fd.options or []):
        return fd
    before = list(fd.options or [])
    fd.options = options
    _log(template, actor, "move_option", {"key": fd.key, "label": fd.label, "before": before, "after": options})
    return fd


def retire_option(actor: User | None, key: str, option: str, move_to: str | None = None) -> dict:
    """Take an option out of the list.

    Unused: it disappears. Used and ``move_to`` given: those cards move to that active option (recorded on
    each card). Used without ``move_to``: it stays as a retired option, old cards keep a valid value and new
    cards cannot choose it. Returns {"cards": n, "moved": n, "kept": bool}.
    """
    template = load_template()
    fd = _options_field(template, key)
    if option not in (fd.options or []):
        raise TemplateError({"option": _l("“%(option)s” is not an option of this field.", option=option)})
    if move_to is not None and (move_to == option or move_to not in (fd.options or [])):
        raise TemplateError({"move_to": _l("Choose another active option to move the cards to.")})
    used = option_usage(fd).get(option, 0)
    fd.options = [o for o in fd.options if o != option]
    moved, kept = 0, False
    if used and move_to is not None:
        moved = _replace_option_values(template, actor, fd, {option: move_to},
                                       note=f"{fd.label}: {option} → {move_to}")
    elif used:
        fd.retired_options = list(fd.retired_options or []) + [option]
        kept = True
    if not kept:
        en = dict(_en(fd).get("options") or {})
        en.pop(option, None)
        _set_option_en(fd, en)
    _log(template, actor, "retire_option", {"key": key, "label": fd.label, "option": option, "cards": used,
                                            "moved_to": move_to if moved else None, "kept": kept})
    return {"cards": used, "moved": moved, "kept": kept}


def restore_option(actor: User | None, key: str, option: str) -> FieldDef:
    """Make a retired option choosable again."""
    template = load_template()
    fd = _options_field(template, key)
    if option not in (fd.retired_options or []):
        raise TemplateError({"option": _l("“%(option)s” is not a retired option of this field.", option=option)})
    if len(fd.options or []) >= OPTIONS_MAX:
        raise TemplateError({"option": _l("A field has at most %(n)d options.", n=OPTIONS_MAX)})
    fd.retired_options = [o for o in fd.retired_options if o != option]
    fd.options = list(fd.options or []) + [option]
    _log(template, actor, "restore_option", {"key": key, "label": fd.label, "option": option})
    return fd


def _set_options(template, actor, fd: FieldDef, options: list[str]) -> int:
    """A whole new option list: removed options in use stay retired; retired ones listed again come back.

    An option listed again in another spelling (case, width, spaces) is a rename: its cards are rewritten.
    Returns how many cards were rewritten.
    """
    usage = option_usage(fd)
    new_by_key = {option_key(o): o for o in options}
    existing = list(fd.options or []) + list(fd.retired_options or [])
    renames = {o: new_by_key[option_key(o)] for o in existing
               if option_key(o) in new_by_key and new_by_key[option_key(o)] != o}
    retired = [o for o in fd.retired_options or [] if option_key(o) not in new_by_key]
    retired += [o for o in fd.options or [] if option_key(o) not in new_by_key and usage.get(o)]
    fd.options = list(options)
    fd.retired_options = retired
    en = dict(_en(fd).get("options") or {})
    _set_option_en(fd, {k: v for k, v in en.items() if k in fd.options or k in retired})
    if not renames:
        return 0
    return _replace_option_values(template, actor, fd, renames,
                                  note=f"{fd.label}: " + ", ".join(f"{a} → {b}" for a, b in renames.items()))


# ---------------------------------------------------------------- table columns

def column_usage(fd: FieldDef) -> dict[str, int]:
    """How many cards hold a value in each column of a table field."""
    counts = {c["key"]: 0 for c in fd.columns or []}
    for _cid, _number, _name, rows in _stored(fd.key):
        present = set()
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict):
                present |= {k for k, v in row.items() if not is_empty(v)}
        for k in present:
            counts[k] = counts.get(k, 0) + 1
    return counts


def set_columns(actor: User | None, key: str, columns: list[dict]) -> FieldDef:
    """Replace a table field's columns: add, relabel, reorder; a column holding values cannot be removed."""
    template = load_template()
    fd = _field(template, key)
    if fd.type != "table":
        raise TemplateError({"columns": _l("Only table fields have columns.")})
    errors = {}
    clean = clean_columns(columns, errors, current=list(fd.columns or []))
    if errors:
        raise TemplateError(errors)
    before = field_snapshot(fd)
    _set_columns(template, actor, fd, clean)
    if field_snapshot(fd) != before:
        _log(template, actor, "set_columns", {"key": key, "label": fd.label, "before": before["columns"],
                                              "after": field_snapshot(fd)["columns"]})
    return fd


def _set_columns(template, actor, fd: FieldDef, columns: list[dict]) -> None:
    if not columns:
        raise TemplateError({"columns": _l("A table needs at least one column.")})
    usage = column_usage(fd)
    new_by_key = {c["key"]: c for c in columns}
    removed = [c for c in fd.columns or [] if c["key"] not in new_by_key and usage.get(c["key"])]
    if removed:
        raise TemplateError({"columns": _l("The column “%(label)s” holds values on %(count)d cards; it cannot be "
                                           "removed (rename it or archive the whole field).",
                                           label=removed[0]["label"], count=usage[removed[0]["key"]])})
    old_by_key = {c["key"]: c for c in fd.columns or []}
    # Column type changes and removed column options: convert the cells or refuse; removed options in use stay retired.
    updates: dict[int, dict] = {}
    blocking = []
    for col in columns:
        old = old_by_key.get(col["key"])
        if not old or not usage.get(col["key"]):
            continue
        if old.get("type") != col["type"]:
            for cid, number, name, rows in _stored(fd.key):
                new_rows = updates.get(cid, {}).get(fd.key, rows)
                out = []
                for row in new_rows:
                    if col["key"] in row and not is_empty(row[col["key"]]):
                        try:
                            value = convert_value(old.get("type") or "text", col["type"], row[col["key"]],
                                                  {"options": col["options"],
                                                   "retired_options": col.get("retired_options", []),
                                                   "allow_retired": True, **_person_spec()})
                        except InvalidValue as e:
                            blocking.append({"id": cid, "number": number, "name": name, "value": row[col["key"]],
                                             "message": str(e.message)})
                            value = row[col["key"]]
                        row = {**row, col["key"]: value}
                    out.append(row)
                updates.setdefault(cid, {})[fd.key] = out
        if col["type"] in OPTION_TYPES:
            keep = set(col["options"]) | set(col.get("retired_options") or [])
            for _cid, _number, _name, rows in _stored(fd.key):
                for row in rows:
                    v = row.get(col["key"])
                    for item in (v if isinstance(v, list) else [v]):
                        if item is not None and item not in keep:
                            col.setdefault("retired_options", []).append(item)
                            keep.add(item)
    if blocking:
        raise TemplateError({"columns": _blocking_message(blocking)}, blocking=blocking)
    fd.columns = columns
    _rewrite(template, actor, {cid: u for cid, u in updates.items()}, note=f"{fd.label}: columns")


# ---------------------------------------------------------------- type changes

def _blocking_message(blocking: list[dict]):
    shown = "、".join(f"{b['number']} {b['name']}" for b in blocking[:10])
    if len(blocking) > 10:
        return _l("%(count)d cards hold values that do not convert: %(cards)s and %(more)d more.",
                  count=len(blocking), cards=shown, more=len(blocking) - 10)
    return _l("%(count)d cards hold values that do not convert: %(cards)s. Edit those cards first.",
              count=len(blocking), cards=shown)


def conversion_blockers(fd: FieldDef, new_type: str, options: list[str] | None = None) -> tuple[dict, list]:
    """Try converting every stored value: ({client id: new value}, [blocking cards])."""
    spec = {"options": list(options if options is not None else fd.options or []),
            "retired_options": list(fd.retired_options or []), "allow_retired": True,
            "columns": list(fd.columns or []), **_person_spec()}
    converted, blocking = {}, []
    for cid, number, name, value in _stored(fd.key):
        try:
            converted[cid] = convert_value(fd.type, new_type, value, spec)
        except InvalidValue as e:
            blocking.append({"id": cid, "number": number, "name": name, "value": value, "message": str(e.message)})
    return converted, blocking


def change_type(actor: User | None, key: str, new_type: str, options: list[str] | None = None,
                columns: list[dict] | None = None) -> int:
    """Change a field's type when every stored value converts; returns how many cards were rewritten."""
    template = load_template()
    fd = _field(template, key)
    errors = {}
    if new_type not in FIELD_TYPES:
        errors["type"] = _l("Unknown field type “%(type)s”; choose one of: %(types)s.", type=str(new_type)[:40],
                            types=", ".join(FIELD_TYPES))
    clean_opts = _clean_options(options, errors) if options is not None else None
    clean_cols = clean_columns(columns, errors, current=list(fd.columns or [])) if columns is not None else None
    if errors:
        raise TemplateError(errors)
    if new_type == fd.type:
        return 0
    before = field_snapshot(fd)
    count = _change_type(template, actor, fd, new_type, options=clean_opts, columns=clean_cols)
    _log(template, actor, "change_type", {"key": key, "label": fd.label, "before": before["type"],
                                          "after": new_type, "cards": count})
    return count


def _change_type(template, actor, fd: FieldDef, new_type: str, options=None, columns=None) -> int:
    if new_type in OPTION_TYPES and options is None and not fd.options:
        # Turning free text into a choice: the distinct stored values become the options.
        found = []
        for _cid, _n, _name, value in _stored(fd.key):
            for v in (value if isinstance(value, list) else [value]):
                text = clean_text(v if isinstance(v, str) else str(v))[:OPTION_MAX]
                if text and option_key(text) not in {option_key(o) for o in found}:
                    found.append(text)
        options = found
    if len(options or []) > OPTIONS_MAX:
        raise TemplateError({"options": _l("A field has at most %(n)d options (this list has %(count)d).",
                                           n=OPTIONS_MAX, count=len(options))})
    converted, blocking = conversion_blockers(fd, new_type, options)
    if blocking:
        raise TemplateError({"type": _blocking_message(blocking)}, blocking=blocking)
    old_type = fd.type
    fd.type = new_type
    if new_type in OPTION_TYPES:
        fd.options = list(options if options is not None else fd.options or [])
    if new_type == "table":
        fd.columns = columns or fd.columns or [{"key": "item", "label": fd.label, "type": "text", "options": [],
                                                 "i18n": {}}]
    if new_type != "date":
        fd.yearly_reminder = False
    stored = {cid: value for cid, _n, _name, value in _stored(fd.key)}
    updates = {cid: {fd.key: new} for cid, new in converted.items() if new != stored.get(cid)}
    count = _rewrite(template, actor, updates, note=f"{fd.label}: {old_type} → {new_type}")
    reindex_field_values(template, fd.key)  # the list's per-field index depends on the type
    return count


# ---------------------------------------------------------------- merging built-in sections

def merge_sections_from_builtin(actor: User | None, builtin_key: str, section_keys: list[str]) -> dict:
    """Add sections of a built-in template; existing fields are never touched (same key: skipped).

    A section whose key exists gets a suffix (basic -> basic_2). Returns
    {"sections": [new keys], "fields": [added keys], "skipped": [keys already in the template]}.
    """
    from app.card_templates.builtin import BUILTIN_KEYS, load_builtin
    from app.card_templates.services import field_from_data

    if builtin_key not in BUILTIN_KEYS:
        raise TemplateError({"builtin": _l("Choose one of the built-in templates.")})
    data = load_builtin(builtin_key)
    chosen = [s for s in data["sections"] if s["key"] in set(section_keys or [])]
    if not chosen:
        raise TemplateError({"sections": _l("Choose at least one section to add.")})
    template = load_template()
    taken_fields = set(fields_by_key(template))
    taken_sections = {s.key for s in template.sections}
    added_sections, added_fields, skipped = [], [], []
    plan = []
    for s in chosen:
        fields = [f for f in s["fields"] if f["key"] not in taken_fields]
        skipped += [f["key"] for f in s["fields"] if f["key"] in taken_fields]
        if fields:
            plan.append((s, fields))
    new_count = sum(len(f) for _s, f in plan)
    if _active_count(template) + new_count > FIELDS_MAX:
        raise TemplateError({"sections": _l("A template has at most %(n)d fields in use; these sections would add "
                                            "%(count)d to %(current)d.", n=FIELDS_MAX, count=new_count,
                                            current=_active_count(template))})
    if len(template.sections) + len(plan) > SECTIONS_MAX:
        raise TemplateError({"sections": _l("A template has at most %(n)d sections.", n=SECTIONS_MAX)})
    if not plan:
        raise TemplateError({"sections": _l("Every field of these sections is already in your template.")})
    position = max((f.position for f in template.fields), default=0)
    for s_data, fields in plan:
        key = unique_key(s_data["key"], taken_sections, prefix="section")
        taken_sections.add(key)
        section = Section(template=template, key=key, label=s_data["label"], position=len(template.sections),
                          i18n={"en": {"label": s_data["label_en"]}} if s_data.get("label_en") else {})
        db.session.add(section)
        for entry in fields:
            position += 1
            db.session.add(field_from_data(entry, template, section, position))
            taken_fields.add(entry["key"])
            added_fields.append(entry["key"])
        added_sections.append(key)
    db.session.flush()
    _renumber(template)
    _log(template, actor, "merge", {"from": builtin_key, "sections": added_sections, "fields": added_fields,
                                    "skipped": skipped})
    return {"sections": added_sections, "fields": added_fields, "skipped": skipped}


# ---------------------------------------------------------------- the change log

def recent_changes(limit: int = 50) -> list[TemplateChange]:
    template = load_template()
    return db.session.scalars(select(TemplateChange).where(TemplateChange.template_id == template.id)
                              .order_by(TemplateChange.id.desc()).limit(limit)).all()


def builtin_label(key: str) -> str:
    """A built-in template's name in the user's language (its key only if it is not a built-in one)."""
    from flask_babel import get_locale

    from app.card_templates.builtin import BUILTIN_KEYS, load_builtin

    if key not in BUILTIN_KEYS:
        return key
    data = load_builtin(key)
    locale = get_locale()
    return data["name_en"] if locale is not None and locale.language == "en" else data["name"]


def describe_change(change: TemplateChange) -> str:
    """One translated sentence for the change log."""
    d = change.detail or {}
    label = d.get("label") or d.get("key") or d.get("section") or ""
    before, after = d.get("before"), d.get("after")
    a = change.action
    if a == "create":
        return str(_l("Template created from “%(key)s”.", key=builtin_label(d.get("from", ""))))
    if a == "add_section":
        return str(_l("Section “%(label)s” added.", label=label))
    if a == "rename_section":
        return str(_l("Section “%(before)s” renamed to “%(after)s”.", before=(before or {}).get("label", ""),
                      after=(after or {}).get("label", "")))
    if a == "move_section":
        return str(_l("Section “%(label)s” moved.", label=label))
    if a == "archive_section":
        return str(_l("Section “%(label)s” archived (%(count)d fields hidden, values kept).", label=label,
                      count=len(d.get("fields") or [])))
    if a == "restore_section":
        return str(_l("Section “%(label)s” restored.", label=label))
    if a == "add_field":
        return str(_l("Field “%(label)s” added.", label=label))
    if a == "update_field":
        b, f = before or {}, after or {}
        if b.get("label") != f.get("label"):
            return str(_l("Field “%(before)s” renamed to “%(after)s”.", before=b.get("label", ""),
                          after=f.get("label", "")))
        what = sorted(k for k in set(b) | set(f) if b.get(k) != f.get(k))
        return str(_l("Field “%(label)s” changed: %(what)s.", label=label, what=", ".join(what)))
    if a == "move_field":
        return str(_l("Field “%(label)s” moved.", label=label))
    if a == "archive_field":
        return str(_l("Field “%(label)s” archived (values kept on %(count)d cards).", label=label,
                      count=d.get("cards", 0)))
    if a == "restore_field":
        return str(_l("Field “%(label)s” restored.", label=label))
    if a == "change_type":
        return str(_l("Field “%(label)s” changed from %(before)s to %(after)s (%(count)d cards converted).",
                      label=label, before=TYPE_LABELS.get(before, before), after=TYPE_LABELS.get(after, after),
                      count=d.get("cards", 0)))
    if a == "add_option":
        return str(_l("Option “%(option)s” added to “%(label)s”.", option=d.get("option", ""), label=label))
    if a == "rename_option":
        return str(_l("Option “%(before)s” of “%(label)s” renamed to “%(after)s” (%(count)d cards updated).",
                      before=before, after=after, label=label, count=d.get("cards", 0)))
    if a == "move_option":
        return str(_l("Options of “%(label)s” reordered.", label=label))
    if a == "retire_option":
        if d.get("moved_to"):
            return str(_l("Option “%(option)s” of “%(label)s” removed; %(count)d cards moved to “%(to)s”.",
                          option=d.get("option", ""), label=label, count=d.get("cards", 0), to=d["moved_to"]))
        if d.get("kept"):
            return str(_l("Option “%(option)s” of “%(label)s” retired; %(count)d cards keep it.",
                          option=d.get("option", ""), label=label, count=d.get("cards", 0)))
        return str(_l("Option “%(option)s” of “%(label)s” removed.", option=d.get("option", ""), label=label))
    if a == "restore_option":
        return str(_l("Option “%(option)s” of “%(label)s” restored.", option=d.get("option", ""), label=label))
    if a == "set_columns":
        return str(_l("Columns of “%(label)s” changed.", label=label))
    if a == "merge":
        return str(_l("%(sections)d sections with %(fields)d fields added from “%(name)s” (%(skipped)d "
                      "fields already present were skipped).", sections=len(d.get("sections") or []),
                      fields=len(d.get("fields") or []), skipped=len(d.get("skipped") or []),
                      name=builtin_label(d.get("from", ""))))
    if a == "import":
        return str(_l("Template imported: %(added)d fields added, %(updated)d updated, %(archived)d archived.",
                      added=len(d.get("added") or []), updated=len(d.get("updated") or []),
                      archived=len(d.get("archived") or [])))
    return a
