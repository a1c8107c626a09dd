"""Template export and import in the JSON format of the built-in templates (``clientcard.template/1``).

An import is validated completely before anything is written and applied without data loss:
fields and sections of the current template that the file leaves out are archived (never deleted),
existing keys are updated in place (a type change only when every stored value converts), options
that cards use and the file leaves out stay as retired options, table columns that hold values are kept.
"""
from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.card_templates import editing
from app.clients.derived import rederive_field
from app.card_templates.editing import (FIELDS_MAX, LABEL_MAX, OPTION_TYPES, SECTIONS_MAX, TemplateError, _en,
                                        _fields, _log, _renumber, _sections, _set_en, _set_options, _stored,
                                        check_key, clean_field_data, clean_text, column_usage,
                                        conversion_blockers, field_snapshot, slugify, unique_key)
from app.card_templates.models import CardTemplate, FieldDef, Section
from app.card_templates.services import load_template
from app.extensions import db
from app.text_input import BadInput, check_json, load_json

FORMAT = "clientcard.template/1"
MAX_BYTES = 2 * 1024 * 1024
MAX_ERRORS = 30


def _columns_out(fd: FieldDef) -> list[dict]:
    out = []
    for c in fd.columns or []:
        en = (c.get("i18n") or {}).get("en") or {}
        col = {"key": c["key"], "label": c["label"], "label_en": en.get("label") or "", "type": c["type"],
               "options": list(c.get("options") or []),
               "options_en": [(en.get("options") or {}).get(o, "") for o in c.get("options") or []]}
        if c.get("retired_options"):
            col["retired_options"] = list(c["retired_options"])
        out.append(col)
    return out


def field_to_data(fd: FieldDef) -> dict:
    """One field in the template JSON format."""
    en = _en(fd)
    options_en = en.get("options") or {}
    data = {"key": fd.key, "label": fd.label, "label_en": en.get("label") or "", "type": fd.type,
            "required": bool(fd.required), "sensitive": bool(fd.sensitive), "in_brief": bool(fd.in_brief),
            "identifier": bool(fd.identifier), "yearly_reminder": bool(fd.yearly_reminder),
            "help": fd.help or "", "help_en": en.get("help") or "", "hints": list(fd.hints or []),
            "hints_en": list(en.get("hints") or []), "options": list(fd.options or []),
            "options_en": [options_en.get(o, "") for o in fd.options or []], "columns": _columns_out(fd)}
    if fd.retired_options:
        data["retired_options"] = list(fd.retired_options)
    if fd.archived:
        data["archived"] = True
    settings = {k: v for k, v in (fd.settings or {}).items() if k != "archived_with_section"}
    if settings:
        data["settings"] = settings
    return data


def export_template(template: CardTemplate | None = None) -> dict:
    """The current template as JSON data, archived fields (``"archived": true``) and retired options included."""
    template = template or load_template()
    en = (template.i18n or {}).get("en") or {}
    sections = []
    for s in _sections(template):
        entry = {"key": s.key, "label": s.label, "label_en": _en(s).get("label") or ""}
        if s.archived:
            entry["archived"] = True
        entry["fields"] = [field_to_data(fd) for fd in _fields(s)]
        sections.append(entry)
    return {"format": FORMAT, "key": template.base_key, "name": template.name, "name_en": en.get("name") or "",
            "description": "", "description_en": en.get("description") or "",
            "version": template.version, "sections": sections}


def export_json(template: CardTemplate | None = None) -> str:
    return json.dumps(export_template(template), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- import: validation

def _where(section_label: str, field_label: str | None = None):
    if field_label is None:
        return _l("Section “%(section)s”", section=section_label)
    return _l("Section “%(section)s”, field “%(field)s”", section=section_label, field=field_label)


def parse_import(raw) -> dict:
    """JSON text/bytes/dict -> dict, or TemplateError with a clear message."""
    if isinstance(raw, dict):
        try:
            check_json(raw)
        except BadInput as e:
            raise TemplateError({"file": e.message}, status=400) from None
        return raw
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > MAX_BYTES:
            raise TemplateError({"file": _l("The file is too large (at most 2 MB).")}, status=413)
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TemplateError({"file": _l("The file is not UTF-8 text; export the template again.")}) from None
    if not isinstance(raw, str) or not raw.strip():
        raise TemplateError({"file": _l("Choose a template file (.json) to import.")})
    try:
        data = load_json(raw)
    except BadInput as e:
        raise TemplateError({"file": e.message}, status=400) from None
    except ValueError as e:
        raise TemplateError({"file": _l("The file is not valid JSON (line %(line)d, column %(col)d).",
                                        line=getattr(e, "lineno", 0), col=getattr(e, "colno", 0))}) from None
    if not isinstance(data, dict):
        raise TemplateError({"file": _l("This is not a ClientCard template file.")})
    return data


def validate_import(data: dict) -> tuple[list[dict], dict]:
    """Check a whole import: (clean sections [{key, label, label_en, archived, fields: [clean field]}], errors)."""
    errors: dict = {}

    def add(name, where, message):
        if len(errors) < MAX_ERRORS:
            errors[name] = _l("%(where)s: %(message)s", where=where, message=message) if where else message

    if data.get("format") != FORMAT:
        add("format", None, _l("This is not a ClientCard template file (the format must be “%(format)s”).",
                               format=FORMAT))
        return [], errors
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        add("sections", None, _l("The template has no sections."))
        return [], errors
    if len(sections) > SECTIONS_MAX:
        add("sections", None, _l("A template has at most %(n)d sections (this file has %(count)d).", n=SECTIONS_MAX,
                                 count=len(sections)))
    name = clean_text(data.get("name"))
    if len(name) > LABEL_MAX:
        add("name", None, _l("The template name has at most %(n)d characters.", n=LABEL_MAX))
    out, section_keys, field_keys, active = [], set(), set(), 0
    wanted = {f.get("key") for s in sections if isinstance(s, dict) for f in (s.get("fields") or [])
              if isinstance(f, dict) and isinstance(f.get("key"), str)}
    for i, s in enumerate(sections):
        if not isinstance(s, dict):
            add(f"sections.{i}", None, _l("Section %(n)d is not an object.", n=i + 1))
            continue
        s_label = clean_text(s.get("label"))
        where = _where(s_label or f"#{i + 1}")
        s_key = s.get("key") if isinstance(s.get("key"), str) else ""
        if not s_label:
            add(f"sections.{i}.label", where, _l("Enter a label."))
        elif len(s_label) > LABEL_MAX:
            add(f"sections.{i}.label", where, _l("Use at most %(n)d characters (this label has %(count)d).",
                                                 n=LABEL_MAX, count=len(s_label)))
        if not s_key:
            s_key = unique_key(slugify(clean_text(s.get("label_en")) or s_label), section_keys, prefix="section")
        for msg in check_key(s_key, section_keys).values():
            add(f"sections.{i}.key", where, msg)
        section_keys.add(s_key)
        fields = s.get("fields")
        if fields is None:
            fields = []
        if not isinstance(fields, list):
            add(f"sections.{i}.fields", where, _l("The fields must be a list."))
            continue
        s_archived = bool(s.get("archived"))
        clean_fields = []
        for j, f in enumerate(fields):
            if not isinstance(f, dict):
                add(f"sections.{i}.fields.{j}", where, _l("Field %(n)d is not an object.", n=j + 1))
                continue
            f_where = _where(s_label or f"#{i + 1}", clean_text(f.get("label")) or f"#{j + 1}")
            entry = {k: f[k] for k in ("label", "label_en", "type", "help", "help_en", "hints", "hints_en",
                                       "required", "sensitive", "in_brief", "identifier", "yearly_reminder")
                     if k in f}
            entry.setdefault("label", "")
            if not isinstance(f.get("type", "text"), str):
                entry["type"] = repr(f.get("type"))
            ftype = entry.get("type") or "text"
            if "options" in f:
                entry["options"] = f["options"] if isinstance(f["options"], list) else []
            if f.get("columns") or ftype == "table":
                entry["columns"] = f.get("columns") if isinstance(f.get("columns"), list) else []
            clean, f_errors = clean_field_data(entry)
            key = f.get("key") if isinstance(f.get("key"), str) else ""
            if not key:
                key = unique_key(slugify(clean.get("label_en") or clean.get("label") or ""), field_keys | wanted)
            f_errors.update({"key": m for m in check_key(key, field_keys).values()})
            if ftype == "table" and not clean.get("columns") and "columns" not in f_errors:
                f_errors["columns"] = _l("A table needs at least one column.")
            retired_errors: dict = {}
            retired = editing._clean_options(f.get("retired_options") or [], retired_errors, "retired_options")
            f_errors.update(retired_errors)
            for name_, msg in f_errors.items():
                add(f"sections.{i}.fields.{j}.{name_}", f_where, msg)
            field_keys.add(key)
            options = clean.get("options", []) if ftype in OPTION_TYPES else []
            options_en = f.get("options_en") if isinstance(f.get("options_en"), list) else []
            archived = bool(f.get("archived")) or s_archived
            if not archived:
                active += 1
            clean_fields.append({**clean, "key": key, "type": ftype if ftype in editing.FIELD_TYPES else "text",
                                 "options": options,
                                 "options_en": {o: clean_text(e)[:100] for o, e in zip(options, options_en)
                                                if isinstance(e, str) and clean_text(e)}
                                 if len(options_en) == len(options) else {},
                                 "retired_options": [o for o in retired if o not in options],
                                 "archived": archived,
                                 "settings": f.get("settings") if isinstance(f.get("settings"), dict) else {}})
        out.append({"key": s_key, "label": s_label, "label_en": clean_text(s.get("label_en"))[:LABEL_MAX],
                    "archived": s_archived, "fields": clean_fields})
    if active > FIELDS_MAX:
        add("fields", None, _l("A template has at most %(n)d fields in use (this file has %(count)d).", n=FIELDS_MAX,
                               count=active))
    return out, errors


# ---------------------------------------------------------------- import: apply

def _apply_to_field(template, actor, fd: FieldDef, entry: dict) -> None:
    fd.label = entry["label"]
    rederive = (fd.sensitive, fd.identifier) != (bool(entry.get("sensitive")), bool(entry.get("identifier")))
    for flag in editing.FLAGS:
        setattr(fd, flag, bool(entry.get(flag)))
    if rederive:  # values of a field turned sensitive leave search text, match keys and the value index
        rederive_field(template, fd.key)
    fd.help = entry.get("help", "")
    fd.hints = list(entry.get("hints", []))
    _set_en(fd, label=entry.get("label_en"), help=entry.get("help_en"), hints=entry.get("hints_en"))
    if fd.type in OPTION_TYPES:
        _set_options(template, actor, fd, entry["options"])
        fd.retired_options = list(dict.fromkeys(list(fd.retired_options or []) +
                                                [o for o in entry["retired_options"] if o not in fd.options]))
        en = dict(_en(fd).get("options") or {})
        en.update(entry["options_en"])
        _set_en(fd, options={k: v for k, v in en.items() if k in fd.options or k in fd.retired_options} or None)
    if fd.type == "table" and entry.get("columns"):
        columns = list(entry["columns"])
        usage = column_usage(fd)
        listed = {c["key"] for c in columns}
        columns += [c for c in fd.columns or [] if c["key"] not in listed and usage.get(c["key"])]
        editing._set_columns(template, actor, fd, columns)
    fd.settings = {**{k: v for k, v in (fd.settings or {}).items() if k == "archived_with_section"},
                   **entry.get("settings", {})}
    if fd.yearly_reminder and fd.type != "date":
        fd.yearly_reminder = False


def import_template(actor: User | None, raw) -> dict:
    """Validate and apply an imported template (see the module docstring). Returns a summary."""
    data = parse_import(raw)
    sections, errors = validate_import(data)
    if errors:
        raise TemplateError(errors)
    template = load_template()
    existing_fields = {fd.key: fd for fd in template.fields}
    existing_sections = {s.key: s for s in template.sections}
    # Type changes are checked for every field first: nothing is written when one is blocked.
    blocked = {}
    for s in sections:
        for entry in s["fields"]:
            fd = existing_fields.get(entry["key"])
            if fd is not None and fd.type != entry["type"]:
                _converted, blocking = conversion_blockers(fd, entry["type"], entry["options"] or None)
                if blocking:
                    blocked[entry["key"]] = _l("%(field)s: %(message)s", field=fd.label,
                                               message=editing._blocking_message(blocking))
    if blocked:
        raise TemplateError(blocked)
    snapshots = {key: field_snapshot(fd) for key, fd in existing_fields.items()}
    summary = {"added": [], "updated": [], "archived": [], "restored": [], "sections_added": [],
               "sections_archived": [], "cards": 0}
    order: dict[int, list[FieldDef]] = {}
    section_objs: list[Section] = []
    seen_fields = set()
    position = 10 ** 6
    for s in sections:
        section = existing_sections.get(s["key"])
        if section is None:
            section = Section(template=template, key=s["key"], label=s["label"], i18n={}, position=0,
                              archived=False)
            db.session.add(section)
            summary["sections_added"].append(s["key"])
        section.label = s["label"]
        _set_en(section, label=s["label_en"])
        section.archived = s["archived"]
        section_objs.append(section)
        fields = order.setdefault(id(section), [])
        for entry in s["fields"]:
            fd = existing_fields.get(entry["key"])
            if fd is None:
                position += 1
                fd = FieldDef(template=template, section=section, key=entry["key"], label=entry["label"],
                              type=entry["type"], options=list(entry["options"]),
                              retired_options=list(entry["retired_options"]),
                              columns=list(entry.get("columns") or []) if entry["type"] == "table" else [],
                              settings=dict(entry["settings"]), i18n={}, position=position, archived=False,
                              help="", hints=[])
                _set_en(fd, options=entry["options_en"] or None)
                db.session.add(fd)
                summary["added"].append(fd.key)
                for flag in editing.FLAGS:
                    setattr(fd, flag, bool(entry.get(flag)))
                fd.help = entry.get("help", "")
                fd.hints = list(entry.get("hints", []))
                _set_en(fd, label=entry.get("label_en"), help=entry.get("help_en"), hints=entry.get("hints_en"))
            else:
                if fd.type != entry["type"]:
                    summary["cards"] += editing._change_type(template, actor, fd, entry["type"],
                                                             options=entry["options"] or None,
                                                             columns=entry.get("columns"))
                _apply_to_field(template, actor, fd, entry)
                if fd.section is not section:
                    fd.section = section
            was_archived = bool(fd.archived)
            fd.archived = entry["archived"]
            if was_archived and not fd.archived and fd.key in existing_fields:
                summary["restored"].append(fd.key)
            if not fd.archived:
                fd.settings = {k: v for k, v in (fd.settings or {}).items() if k != "archived_with_section"}
            fields.append(fd)
            seen_fields.add(fd.key)
    # Whatever the file leaves out is archived, never deleted: its values stay on the cards.
    listed_sections = {id(s) for s in section_objs}
    for section in _sections(template):
        if id(section) in listed_sections:
            continue
        if not section.archived:
            section.archived = True
            summary["sections_archived"].append(section.key)
        section_objs.append(section)
        order[id(section)] = []
    for key, fd in existing_fields.items():
        if key in seen_fields:
            continue
        if not fd.archived:
            fd.archived = True
            summary["archived"].append(key)
        order.setdefault(id(fd.section), []).append(fd)
    for pos, section in enumerate(section_objs):
        section.position = pos
    for section in section_objs:  # missing fields keep their old order after the listed ones
        listed = [f for f in order[id(section)] if f.key in seen_fields]
        rest = sorted((f for f in order[id(section)] if f.key not in seen_fields), key=lambda f: f.position)
        order[id(section)] = listed + rest
    _renumber(template, order)
    name = clean_text(data.get("name"))
    if name:
        template.name = name
    summary["updated"] = [key for key, fd in existing_fields.items()
                          if key in seen_fields and field_snapshot(fd) != snapshots[key]]
    db.session.flush()
    _log(template, actor, "import", {k: v for k, v in summary.items()})
    return summary


def stored_value_count(key: str) -> int:
    return len(_stored(key))
