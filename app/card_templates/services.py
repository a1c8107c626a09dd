"""Template services: install a template from its JSON form, load the active one."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.card_templates.models import CardTemplate, FieldDef, Section, TemplateChange
from app.extensions import db
from app.card_templates import cache as _cache  # noqa: F401  (registers the template-change hook)


def _i18n_en(entry: dict, names: tuple[str, ...]) -> dict:
    en = {name: entry.get(f"{name}_en") for name in names if entry.get(f"{name}_en")}
    return {"en": en} if en else {}


def field_from_data(entry: dict, template: CardTemplate, section: Section, position: int) -> FieldDef:
    """A FieldDef built from one field of the template JSON format."""
    options = list(entry.get("options") or [])
    i18n = _i18n_en(entry, ("label", "help", "hints"))
    options_en = entry.get("options_en") or []
    if options_en and len(options_en) == len(options):
        en_options = {o: e for o, e in zip(options, options_en) if e}
        if en_options:
            i18n.setdefault("en", {})["options"] = en_options
    columns = []
    for col in entry.get("columns") or []:
        col_i18n = {}
        if col.get("label_en"):
            col_i18n["label"] = col["label_en"]
        if col.get("options_en") and len(col["options_en"]) == len(col.get("options") or []):
            col_i18n["options"] = {o: e for o, e in zip(col["options"], col["options_en"]) if e}
        columns.append({"key": col["key"], "label": col["label"], "type": col["type"],
                        "options": list(col.get("options") or []), "i18n": {"en": col_i18n} if col_i18n else {},
                        **({"retired_options": list(col["retired_options"])} if col.get("retired_options") else {})})
    return FieldDef(
        template=template, section=section, key=entry["key"], label=entry["label"], type=entry["type"],
        required=bool(entry.get("required")), sensitive=bool(entry.get("sensitive")),
        in_brief=bool(entry.get("in_brief")), identifier=bool(entry.get("identifier")),
        yearly_reminder=bool(entry.get("yearly_reminder")), archived=bool(entry.get("archived")),
        position=position, help=entry.get("help") or "", hints=list(entry.get("hints") or []),
        options=options, retired_options=list(entry.get("retired_options") or []), columns=columns,
        settings=dict(entry.get("settings") or {}), i18n=i18n,
    )


def install_template(data: dict, actor_id: int | None = None) -> CardTemplate:
    """Create the current tenant's card template from the JSON template format (sign-up, CLI)."""
    template = CardTemplate(base_key=data.get("key") or "custom", name=data.get("name") or "",
                            i18n=_i18n_en(data, ("name", "description")), version=1)
    db.session.add(template)
    position = 0
    for s_pos, s in enumerate(data.get("sections") or []):
        section = Section(template=template, key=s["key"], label=s["label"],
                          i18n=_i18n_en(s, ("label",)), position=s_pos, archived=bool(s.get("archived")))
        db.session.add(section)
        for entry in s.get("fields") or []:
            position += 1
            db.session.add(field_from_data(entry, template, section, position))
    db.session.flush()
    db.session.add(TemplateChange(template_id=template.id, version=1, actor_id=actor_id, action="create",
                                  detail={"from": template.base_key}))
    return template


def install_builtin(key: str, actor_id: int | None = None) -> CardTemplate:
    from app.card_templates.builtin import load_builtin

    return install_template(load_builtin(key), actor_id=actor_id)


def load_template() -> CardTemplate:
    """The current tenant's template with its sections and fields loaded."""
    return db.session.execute(
        select(CardTemplate).options(selectinload(CardTemplate.sections).selectinload(Section.fields))
    ).scalar_one()


def fields_by_key(template: CardTemplate, include_archived: bool = True) -> dict[str, FieldDef]:
    return {f.key: f for s in template.sections for f in s.fields if include_archived or not f.archived}


class FieldIndex:
    """A plain snapshot of a template's fields for the hot loops of a batch (import, `POST /clients/batch`): built
    once per batch, not per card, so validating and deriving a card does not walk the template's ORM objects again.
    It reflects the template when it was built: never keep one across a change to the template."""

    __slots__ = ("all", "active", "_specs", "required", "core", "shareable", "index_kinds", "parse", "keyed")

    def __init__(self, template: CardTemplate):
        from app.values import FIELD_TYPES

        self.all: dict[str, FieldDef] = fields_by_key(template)
        self.active: dict[str, FieldDef] = {k: f for k, f in self.all.items() if not f.archived}
        from app.clients.derived import core_fields

        self._specs: dict[str, dict] = {}
        self.required: list[FieldDef] = [f for f in self.active.values() if f.required]
        self.core: list[FieldDef] = core_fields(template)
        # Fields whose values may be copied into derived data, in template order: (key, type, field).
        self.shareable: list[tuple[str, str, FieldDef]] = [(k, f.type, f) for k, f in self.all.items()
                                                           if not f.sensitive]
        # Per field what parsing a value needs: (field, type, archived, retired options to watch).
        self.parse: dict[str, tuple[FieldDef, str, bool, bool]] = {
            k: (f, f.type, bool(f.archived), f.type in ("select", "multiselect") and bool(f.retired_options))
            for k, f in self.all.items()}
        # The shareable fields that can give duplicate match keys: (key, type, identifier, field).
        self.keyed: list[tuple[str, str, bool, FieldDef]] = [
            (k, t, bool(f.identifier), f) for k, t, f in self.shareable
            if t in ("table", "phone", "email") or f.identifier]
        self.index_kinds: list[tuple[str, str]] = []
        for k, t, _f in self.shareable:
            ft = FIELD_TYPES.get(t)
            if ft is not None and ft.index in ("num", "multi", "txt"):
                self.index_kinds.append((k, ft.index))

    def spec(self, key: str) -> dict:
        """The value library's spec of a field, built once (read-only: the value library never changes a spec)."""
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = self.all[key].spec()
        return spec

