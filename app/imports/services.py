"""Importing client lists: map columns to card fields, preview, run as a job (through create_clients and
update_client), report every row not imported, undo a finished import within 24 hours."""
from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from app import jobs
from app.accounts.models import ADMIN_ROLES, AuditRecord, User
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import fields_by_key, load_template
from app.clients.access import NotAllowed, assignable_user_ids
from app.clients.duplicates import DuplicateFound, candidates_of, find_duplicates
from app.clients.models import Client, ClientChange
from app.clients.services import (BatchInvalid, ValidationFailed, VersionConflict, clean_tags, create_clients,
                                  delete_card_rows, gc_paused, missing_required, parse_fields, set_archived,
                                  update_client)
from app.db_types import utcnow
from app.extensions import db
from app.imports.models import ImportRun
from app.imports.reader import BadFile, Sheet, cell_text, clean_label, read_sheet
from app.tenancy import current_tenant
from app.values import InvalidValue, is_empty, normalize_text, parse_value

UNDO_HOURS = 24
CHUNK = 500
PREVIEW_ROWS = 10
DUPLICATE_CHOICES = ("skip", "update", "create")

# Card attributes that are not template fields, with the column names firms use for them.
META_TARGETS = {
    "@name": ("客户名称", "客户", "名称", "公司名称", "公司", "企业名称", "单位名称", "客户全称", "公司全称", "name",
              "client", "clientname", "company", "companyname", "customer"),
    "@stage": ("合作阶段", "阶段", "客户阶段", "stage"),
    "@tags": ("标签", "tags", "tag"),
    "@owner": ("负责人", "业务员", "销售", "跟进人", "客户经理", "所属销售", "owner"),
    "@number": ("客户编号", "编号", "number", "clientnumber"),
}


def meta_label(target: str) -> str:
    return {"@name": _("Client name"), "@stage": _("Stage"), "@tags": _("Tags"), "@owner": _("Owner"),
            "@number": _("Client number (to find existing cards)")}[target]


def _fold(s: str) -> str:
    """Width, case and punctuation folded, for comparing labels and options."""
    s = unicodedata.normalize("NFKC", str(s or "")).lower()
    return re.sub(r"[\s:*：＊_\-/()（）]+", "", s)


_UNIT = re.compile(r"[（(]\s*(万元|万|亿元|亿|元)\s*[)）]")


def _plain_header(label: str) -> str:
    return _UNIT.sub("", label)


def known_labels(template: CardTemplate) -> set[str]:
    """Header texts the detector recognises (cleaned like header cells)."""
    out = {clean_label(s) for names in META_TARGETS.values() for s in names}
    for fd in fields_by_key(template, include_archived=False).values():
        out.add(clean_label(fd.label))
        if fd.section is not None:
            out.add(clean_label(f"{fd.section.t()}·{fd.t()}"))
        en = (fd.i18n or {}).get("en", {}).get("label")
        if en:
            out.add(clean_label(en))
    return out


def target_choices(template: CardTemplate) -> list[tuple[str, str]]:
    """(value, label) for the mapping selects: card attributes, then every active field."""
    out = [(t, meta_label(t)) for t in META_TARGETS]
    for fd in fields_by_key(template, include_archived=False).values():
        out.append((fd.key, fd.t()))
    return out


def auto_mapping(template: CardTemplate, sheet: Sheet, remembered: dict | None = None) -> dict[str, str]:
    """Column index -> target, by remembered choices, labels, keys and synonyms, then by option values."""
    fields = fields_by_key(template, include_archived=False)
    by_label: dict[str, str] = {}
    for target, names in META_TARGETS.items():
        for n in names:
            by_label.setdefault(_fold(n), target)
    for fd in fields.values():
        qualified = f"{fd.section.t()}·{fd.t()}" if fd.section is not None else None
        for text in (qualified, fd.label, fd.key, (fd.i18n or {}).get("en", {}).get("label")):
            if text:
                by_label.setdefault(_fold(text), fd.key)
    remembered = remembered or {}
    mapping, used = {}, set()
    for i, label in enumerate(sheet.columns):
        if not label:
            continue
        target = remembered.get(label)
        if target is not None and (target == "" or target in META_TARGETS or target in fields):
            if target and target not in used:
                mapping[str(i)], _ = target, used.add(target)
            continue
        target = by_label.get(_fold(label)) or by_label.get(_fold(_plain_header(label)))
        if target and target not in used:
            mapping[str(i)] = target
            used.add(target)
    # Columns still unmapped: a select field whose options most of the values are.
    selects = [fd for fd in fields.values() if fd.type in ("select", "multiselect") and fd.key not in used]
    for i, label in enumerate(sheet.columns):
        if str(i) in mapping or not label or label in remembered:
            continue
        sample = [cell_text(r[i]) for _n, r in sheet.rows[:50] if i < len(r) and cell_text(r[i])]
        if len(sample) < 2:
            continue
        for fd in selects:
            ok = 0
            for v in sample:
                try:
                    parse_value(fd.type, v, fd.spec(allow_retired=True))
                    ok += 1
                except InvalidValue:
                    pass
            if ok >= 0.8 * len(sample) and fd.key not in used:
                mapping[str(i)] = fd.key
                used.add(fd.key)
                break
    return mapping


def check_mapping(template: CardTemplate, sheet: Sheet, mapping: dict) -> dict:
    """Errors of a mapping: the name column is needed, and no target may take two columns."""
    errors = {}
    fields = fields_by_key(template, include_archived=False)
    seen: dict[str, int] = {}
    for col, target in mapping.items():
        if not target:
            continue
        if target not in META_TARGETS and target not in fields:
            errors[col] = _("Choose a field of the card.")
        elif target in seen:
            errors[col] = _("Another column is already mapped to this field.")
        seen[target] = int(col)
    if "@name" not in seen:
        errors["@name"] = _("Map one column to the client name.")
    return errors


@dataclass
class RowItem:
    row: int
    name: str = ""
    item: dict = field(default_factory=dict)      # keyword arguments of create_client
    number: str | None = None
    problems: list = field(default_factory=list)  # [(column label, message)]


class People:
    """Colleagues by display name or email, for owner columns."""

    def __init__(self):
        ids = assignable_user_ids()
        users = db.session.scalars(select(User).where(User.id.in_(ids))).all() if ids else []
        self.by_key = {}
        for u in users:
            for k in (u.email, u.display_name, getattr(u, "name", None)):
                if k:
                    self.by_key.setdefault(_fold(k), u.id)

    def find(self, text: str) -> int | None:
        return self.by_key.get(_fold(text))


def row_items(template: CardTemplate, sheet: Sheet, mapping: dict, people: People | None = None,
              rows=None) -> list[RowItem]:
    """Each data row as create_client arguments, with problems found before the card services see it."""
    tenant = current_tenant()
    people = people or People()
    fields = fields_by_key(template, include_archived=False)
    stages = {_fold(s): s for s in tenant.stages}
    cols = [(int(c), t) for c, t in mapping.items() if t]
    out = []
    for rownum, row in (rows if rows is not None else sheet.rows):
        it = RowItem(rownum)
        values = {}
        for c, target in cols:
            raw = cell_text(row[c]) if c < len(row) else None
            label = sheet.columns[c] if c < len(sheet.columns) else str(c)
            if raw is None:
                continue
            if target == "@name":
                it.name = normalize_text(raw)
            elif target == "@stage":
                stage = stages.get(_fold(raw))
                if stage is None:
                    it.problems.append((label, _("Choose one of: %(choices)s.", choices="、".join(tenant.stages))))
                else:
                    it.item["stage"] = stage
            elif target == "@tags":
                it.item["tags"] = clean_tags(raw)
            elif target == "@owner":
                uid = people.find(raw)
                if uid is None:
                    it.problems.append((label, _("No active colleague named %(name)s.", name=raw)))
                else:
                    it.item["owner_id"] = uid
            elif target == "@number":
                it.number = raw
            else:
                fd = fields[target]
                if fd.type in ("money",) and _UNIT.search(label or "") and re.fullmatch(r"[\d.,]+", raw):
                    raw = raw + _UNIT.search(label).group(1)[0]  # 注册资本（万元）: 50 means 50万
                values[target] = raw
        if not it.name:
            it.problems.append((_label_of(sheet, mapping, "@name"), _("Enter the client's name.")))
        it.item["name"] = it.name
        it.item["fields"] = values
        out.append(it)
    return out


def _label_of(sheet: Sheet, mapping: dict, target: str, template: CardTemplate | None = None) -> str:
    """The column mapped to a target, else the target's own label (a required field no column fills)."""
    for c, t in mapping.items():
        if t == target and int(c) < len(sheet.columns):
            return sheet.columns[int(c)]
    if target in META_TARGETS:
        return meta_label(target)
    fd = fields_by_key(template).get(target) if template is not None else None
    return fd.t() if fd is not None else target


def _column_for_key(sheet: Sheet, mapping: dict, key: str, template: CardTemplate | None = None) -> str:
    meta = {"name": "@name", "stage": "@stage", "owner": "@owner", "tags": "@tags"}.get(key)
    return _label_of(sheet, mapping, meta or key, template)


def preview(template: CardTemplate, sheet: Sheet, mapping: dict) -> list[dict]:
    """The first rows as they would become cards: per mapped column the shown value or its error."""
    from app.values import display_value

    fields = fields_by_key(template)
    out = []
    mapped = set(mapping.values())
    for it in row_items(template, sheet, mapping, rows=sheet.rows[:PREVIEW_ROWS]):
        values, errors = parse_fields(template, it.item["fields"])
        # A new card needs the template's required fields, as in the form and the batch API.
        missing = missing_required(template, {k: v for k, v in values.items() if not is_empty(v)})
        for key, msg in missing.items():
            errors.setdefault(key, msg)
        cells = {}
        for c, target in mapping.items():
            if not target:
                continue
            label = sheet.columns[int(c)]
            if target in fields:
                if target in errors:
                    cells[c] = {"error": str(errors[target])}
                elif target in values:
                    fd = fields[target]
                    cells[c] = {"value": display_value(fd.type, values[target], fd.spec())}
            else:
                raw = it.item.get({"@name": "name", "@stage": "stage", "@tags": "tags"}.get(target, ""), None)
                cells[c] = {"value": "、".join(raw) if isinstance(raw, list) else (raw or "")}
            for col_label, msg in it.problems:
                if col_label == label:
                    cells[c] = {"error": msg}
        out.append({"row": it.row, "cells": cells,
                    "errors": [m for lbl, m in it.problems if lbl not in sheet.columns]
                    + [str(m) for k, m in missing.items() if k not in mapped]})
    return out


# ---------------------------------------------------------------- the import job

def start_import(user: User, imp: ImportRun) -> jobs.Job:
    """Queue the import (the job's payload is the import's id only)."""
    imp.status = "started"
    db.session.flush()
    kind = {"followups": "import.followups", "restore": "import.restore"}.get(imp.kind, "import.clients")
    job = jobs.enqueue(kind, user, {"import_id": imp.id})
    imp = db.session.get(ImportRun, imp.id)
    if imp.job_id is None:
        imp.job_id = job.id
        db.session.commit()
    return job


@jobs.handler("import.clients")
def run_import(job: jobs.Job, user: User) -> dict:
    """Import every row of the upload: new cards through create_clients in chunks, existing ones through
    update_client; rows that fail are reported, the rest is written in one transaction (a dry run rolls back)."""
    imp = db.session.get(ImportRun, job.params["import_id"])
    if imp is None or imp.data is None:
        raise jobs.JobFailed(_l("The uploaded file is no longer available; upload it again."))
    imp.job_id = job.id
    # A real write before the first savepoint: SQLite's driver would commit on releasing an outermost one.
    imp.status = "running"
    db.session.flush()
    if user is None or user.role not in ("owner", "admin", "member") or not user.active:
        raise jobs.JobFailed(_l("Your role cannot create client cards."))
    template = load_template()
    try:
        sheet = read_sheet(imp.filename, imp.data, imp.sheet or None, known_labels(template))
    except BadFile as e:
        raise jobs.JobFailed(e.message)
    mapping = imp.mapping
    items = row_items(template, sheet, mapping)
    # The grid is read once into the rows' arguments; from here on only its header and name are needed. Freeing
    # it (and each row's arguments once its card is written) keeps a 50,000-row import's memory bounded.
    sheet.rows = []
    total = len(items)
    jobs.progress(job, 0, total)
    problems: list[dict] = []

    def problem(it: RowItem, column: str, message, kind="error"):
        problems.append({"row": it.row, "field": column, "message": str(message), "kind": kind, "name": it.name})

    def explain(it: RowItem, exc: Exception):
        if isinstance(exc, ValidationFailed):
            for key, msg in exc.errors.items():
                problem(it, _column_for_key(sheet, mapping, key, template), msg)
        elif isinstance(exc, DuplicateFound):
            problem(it, "", _duplicate_message(exc.candidates), "skipped")
        elif isinstance(exc, NotAllowed):
            problem(it, "", exc.message or _("Not allowed."))
        else:
            problem(it, "", str(exc))

    created_ids, updated_ids, skipped = [], [], 0
    savepoint = db.session.begin_nested()
    to_create: list[RowItem] = []
    done = 0
    lookup = _Lookup(user, template) if imp.on_duplicate in ("skip", "update") else None
    for start in range(0, len(items), CHUNK) if lookup is not None else ():
        with gc_paused():
            lookup.prefetch([it for it in items[start:start + CHUNK] if not it.problems])
    for it in items:
        if it.problems:
            for column, msg in it.problems:
                problem(it, column, msg)
            continue
        existing = None
        if lookup is not None:
            existing = lookup.existing(it)
        if existing is None:
            to_create.append(it)
        elif isinstance(existing, Exception):
            if imp.on_duplicate == "skip" and isinstance(existing, DuplicateFound):
                skipped += 1
            explain(it, existing)
        elif imp.on_duplicate == "skip":
            skipped += 1
            problem(it, "", _("Skipped: the client exists already as %(number)s %(name)s.",
                              number=existing.number, name=existing.name), "skipped")
        else:
            try:
                with db.session.begin_nested():
                    kw = {k: v for k, v in it.item.items() if k in ("stage", "owner_id", "tags") and v}
                    update_client(user, existing, version=None, fields=it.item["fields"], action="import",
                                  note=f"import:{imp.id}", **kw)
                updated_ids.append(existing.id)
                lookup.updated(existing)
            except (ValidationFailed, NotAllowed, VersionConflict) as exc:
                explain(it, exc)
        done += 1
        if done % CHUNK == 0:
            jobs.progress(job, done, total)
    allow_duplicate = imp.on_duplicate == "create"
    for start in range(0, len(to_create), CHUNK):
        chunk = to_create[start:start + CHUNK]
        while chunk:
            try:
                with db.session.begin_nested():
                    made = create_clients(user, [_with_parsed(c, lookup) for c in chunk], template=template,
                                          allow_duplicate=allow_duplicate)
                created_ids.extend(c.id for c in made)
                for it in chunk:
                    it.item = {}
                    if lookup is not None:
                        lookup.parsed.pop(id(it), None)
                break
            except BatchInvalid as exc:
                for index, err in exc.errors.items():
                    if isinstance(err, DuplicateFound):
                        skipped += 1
                    explain(chunk[index], err)
                chunk = [c for i, c in enumerate(chunk) if i not in exc.errors]
        done += len(to_create[start:start + CHUNK])
        jobs.progress(job, min(done, total), total)
    problems.sort(key=lambda p: p["row"])
    imp = finish_run(job, savepoint, dry_run=imp.dry_run, problems=problems, skipped=skipped,
                     created_ids=created_ids, updated_ids=updated_ids)
    followups = None if imp.dry_run else _followups_draft(user, imp, sheet.name)
    imp.data = None  # the upload may hold sensitive values: keep it no longer than needed
    if not imp.dry_run:
        db.session.add(AuditRecord(actor_id=user.id, action="clients.import", subject=imp.filename[:200],
                                   detail={"import_id": imp.id, "created": imp.created, "updated": imp.updated}))
    from flask import url_for

    result = {"url": url_for("imports.show", import_id=imp.id), "link_text": str(_l("See the report")),
              "import_id": imp.id, "created": imp.created, "updated": imp.updated, "skipped": skipped,
              "errors": len(problems)}
    if followups is not None:
        result["followups_import_id"], result["followups_sheet"] = followups.id, followups.sheet
    return result


def _followups_draft(user: User, imp: ImportRun, client_sheet: str) -> ImportRun | None:
    """A workbook whose other sheet holds follow-ups (跟进记录): that sheet as a draft follow-up import, mapped and
    ready for the user to check and start from the report page. None when there is no such sheet."""
    from app.imports import followups as fimports

    try:
        name = fimports.pick_sheet(imp.filename, imp.data, min_score=3)
        if not name or name == client_sheet:
            return None
        sheet = read_sheet(imp.filename, imp.data, name, fimports.known_labels())
    except BadFile:
        return None
    draft = ImportRun(created_by_id=user.id, filename=imp.filename, data=imp.data, kind="followups", sheet=name,
                      mapping=fimports.auto_mapping(sheet, current_tenant().setting("import_mapping_followups")))
    db.session.add(draft)
    db.session.flush()
    return draft


def finish_run(job: jobs.Job, savepoint, *, dry_run: bool, problems: list, skipped: int, created_ids=(),
               updated_ids=(), created: int | None = None, updated: int | None = None) -> ImportRun:
    """End an import job's writes — rolled back for a dry run, kept otherwise — and record its outcome on the run
    (what the report and the undo read). `created`/`updated` default to the number of ids."""
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    imp = db.session.get(ImportRun, job.params["import_id"])
    imp.status = "started"
    imp.created = len(created_ids) if created is None else created
    imp.updated = len(updated_ids) if updated is None else updated
    imp.skipped = skipped
    imp.problems = problems
    imp.created_ids = [] if dry_run else list(created_ids)
    imp.updated_ids = [] if dry_run else list(updated_ids)
    imp.finished_at = utcnow()
    return imp


def _duplicate_message(candidates) -> str:
    c = candidates[0]
    if c.visible:
        return _("Skipped: the client exists already as %(number)s %(name)s.", number=c.number, name=c.name)
    return _("Skipped: a colleague (%(owner)s) already has this client.", owner=c.owner_name)


def _with_parsed(it: RowItem, lookup) -> dict:
    """The row's create_clients arguments, with its fields as the duplicate lookup parsed them (not parsed twice)."""
    parsed = lookup.parsed.get(id(it)) if lookup is not None else None
    return it.item if parsed is None else {**it.item, "parsed": parsed}


class _Lookup:
    """The existing card each row matches (_existing), looked up for many rows at once: their client numbers in one
    query, their fields parsed with the template read once, their match keys in one query per key kind. A row whose
    keys meet a card this import updated meanwhile (its keys may have changed) is looked up again on its own."""

    def __init__(self, user: User, template: CardTemplate):
        from app.card_templates.services import FieldIndex
        from app.clients.services import active_user_ids

        self.user, self.template = user, template
        self.fx = FieldIndex(template)
        self.person_ids = active_user_ids() if any(fd.type == "person" for fd in self.fx.all.values()) else None
        self.by_number: dict[str, Client] = {}
        self.keys: dict[int, set | None] = {}  # id(row) -> its match keys (None: its fields do not parse)
        self.parsed: dict[int, tuple[dict, dict]] = {}  # id(row) -> parse_fields of its fields, for create_clients
        self.hits: dict[tuple, list[int]] = {}
        self.changed_ids: set[int] = set()
        self.changed_keys: set[tuple] = set()

    def prefetch(self, rows: list[RowItem]) -> None:
        from app.clients.derived import match_keys
        from app.clients.duplicates import existing_matches

        numbers = sorted({it.number for it in rows if it.number})
        if numbers:
            for c in db.session.scalars(select(Client).where(Client.number.in_(numbers)).order_by(Client.id)):
                self.by_number.setdefault(c.number, c)
        wanted = set()
        for it in rows:
            values, errors = parse_fields(self.template, it.item["fields"], fx=self.fx, person_ids=self.person_ids)
            self.parsed[id(it)] = (values, errors)
            keys = None if errors else match_keys(self.template, it.name, {k: v for k, v in values.items()
                                                                           if not is_empty(v)}, self.fx)
            self.keys[id(it)] = keys
            wanted |= keys or set()
        self.hits.update(existing_matches(wanted - set(self.hits)))
        for key in wanted:
            self.hits.setdefault(key, [])

    def existing(self, it: RowItem):
        """As _existing(user, template, it)."""
        if id(it) not in self.keys:
            return _existing(self.user, self.template, it)
        if it.number and it.number in self.by_number:
            return self.by_number[it.number]
        keys = self.keys[id(it)]
        if keys is None:
            return None  # create_clients reports the errors
        hits = [(cid, kind) for kind, value in keys for cid in self.hits.get((kind, value), ())]
        if keys & self.changed_keys or any(cid in self.changed_ids for cid, _kind in hits):
            return _existing(self.user, self.template, it)
        return _from_candidates(candidates_of(self.user, hits) if hits else [])

    def updated(self, client: Client) -> None:
        """The import updated this card: rows that meet its old or new keys are looked up again."""
        from app.clients.derived import match_keys

        self.changed_ids.add(client.id)
        self.changed_keys |= match_keys(self.template, client.name, client.values or {}, self.fx)


def _from_candidates(candidates):
    if not candidates:
        return None
    visible = [c for c in candidates if c.visible]
    if len(visible) == 1 and len(candidates) == 1:
        return db.session.get(Client, visible[0].client_id)
    if not visible:
        return DuplicateFound(candidates)
    return ValidationFailed({"name": _l("This row matches several cards: %(numbers)s.",
                                        numbers="、".join(c.number for c in visible))})


def _existing(user: User, template: CardTemplate, it: RowItem):
    """The one visible card this row duplicates, None, or an exception explaining why it cannot be used."""
    if it.number:
        found = db.session.scalars(select(Client).where(Client.number == it.number)).first()
        if found is not None:
            return found
    values, errors = parse_fields(template, it.item["fields"])
    if errors:
        return None  # create_clients reports the errors
    return _from_candidates(find_duplicates(user, template, it.name,
                                            {k: v for k, v in values.items() if not is_empty(v)}))


# ---------------------------------------------------------------- report and undo

def report_xlsx(imp: ImportRun) -> bytes:
    """Every row not imported and why, as a workbook."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Not imported"))
    ws.append([_("Row"), _("Client name"), _("Column"), _("Reason")])
    for p in imp.problems or []:
        ws.append([p["row"], safe_cell(p.get("name") or ""), safe_cell(p.get("field") or ""),
                   safe_cell(p["message"])])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def safe_cell(v):
    """A value for a spreadsheet cell that can never run as a formula (CSV/Excel formula injection)."""
    if isinstance(v, str) and v and v[0] in "=+-@\t\r":
        return "'" + v
    return v


def can_undo(imp: ImportRun) -> bool:
    return (imp.status == "started" and imp.finished_at is not None and not imp.dry_run and imp.undone_at is None
            and utcnow() - imp.finished_at < timedelta(hours=UNDO_HOURS) and bool(imp.created_ids or imp.updated_ids))


class UndoRefused(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def undo_import(user: User, imp: ImportRun) -> dict:
    """Remove the cards an import created and give the cards it updated their previous values back (recorded in
    their history). A created card edited since is archived instead of removed, so no later work is lost."""
    if imp.created_by_id != user.id and user.role not in ADMIN_ROLES:
        raise NotAllowed(_l("Only the colleague who imported the list, or an admin, can undo it."))
    if not can_undo(imp):
        raise UndoRefused(_l("This import can no longer be undone (undo is possible for %(n)d hours).",
                             n=UNDO_HOURS))
    if imp.kind == "followups":
        from app.followups.services import remove_followups

        removed, kept = remove_followups(imp.created_ids or [])
        imp.undone_at = utcnow()
        imp.status = "undone"
        db.session.add(AuditRecord(actor_id=user.id, action="followups.import_undo", subject=imp.filename[:200],
                                   detail={"import_id": imp.id, "removed": removed, "kept": kept}))
        return {"removed": removed, "archived": 0, "restored": 0, "kept": kept}
    removed, archived, restored = 0, 0, 0
    created = db.session.scalars(select(Client).where(Client.id.in_(imp.created_ids or []))).all()
    for client in created:
        if client.version > 1:  # edited since the import: keep the work, take the card out of the list
            if not client.archived:
                set_archived(user, client, True)
            archived += 1
            continue
        delete_card_rows(client)  # created by the import and untouched since: its only history is the import
        removed += 1
    changes = db.session.scalars(select(ClientChange).where(ClientChange.client_id.in_(imp.updated_ids or []),
                                                            ClientChange.action == "import",
                                                            ClientChange.note == f"import:{imp.id}")).all()
    for change in changes:
        client = db.session.get(Client, change.client_id)
        if client is None:
            continue
        fields, kw = {}, {}
        current = client.values or {}
        for key, diff in change.changes.items():
            if key.startswith("@"):
                attr = {"@stage": ("stage", client.stage), "@owner": ("owner_id", client.owner_id),
                        "@tags": ("tags", client.tags), "@name": ("name", client.name)}.get(key)
                if attr and attr[1] == diff["to"] and diff["from"] is not None:
                    kw[attr[0]] = diff["from"]
            elif current.get(key) == diff["to"]:  # a later edit of the same field is kept
                fields[key] = diff["from"]
        if fields or kw:
            update_client(user, client, version=None, fields=fields, action="undo",
                          note=f"undo import:{imp.id}", access_checked=True, **kw)
            restored += 1
    imp.undone_at = utcnow()
    imp.status = "undone"
    db.session.add(AuditRecord(actor_id=user.id, action="clients.import_undo", subject=imp.filename[:200],
                               detail={"import_id": imp.id, "removed": removed, "archived": archived,
                                       "restored": restored}))
    return {"removed": removed, "archived": archived, "restored": restored}


def recent_imports(user: User, limit: int = 20) -> list[ImportRun]:
    stmt = select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)
    if user.role not in ADMIN_ROLES:
        stmt = stmt.where(ImportRun.created_by_id == user.id)
    return list(db.session.scalars(stmt))


def visible_import(user: User, import_id: int) -> ImportRun | None:
    imp = db.session.get(ImportRun, import_id)
    if imp is None or (imp.created_by_id != user.id and user.role not in ADMIN_ROLES):
        return None
    return imp


def remember_mapping(sheet: Sheet, mapping: dict, kind: str = "clients") -> None:
    """Keep the user's column choices for the tenant's next import of this kind (header text -> target; no
    values)."""
    tenant = current_tenant()
    setting = "import_mapping_followups" if kind == "followups" else "import_mapping"
    known = dict(tenant.setting(setting) or {})
    for i, label in enumerate(sheet.columns):
        if label:
            known[label] = mapping.get(str(i), "")
    tenant.update_settings(**{setting: dict(list(known.items())[-300:])})


def field_def(template: CardTemplate, key: str) -> FieldDef | None:
    return fields_by_key(template).get(key)
