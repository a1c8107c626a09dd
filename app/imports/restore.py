"""Restoring a full export ("take all your data away", app/imports/exports.py full_export) into a company that has
no clients yet: the template, the settings that shape the cards (stages, grading, numbering, follow-up methods),
every card with its number, values, stage, owner and co-owners (by email, where that colleague exists here), tags,
archive state, manual grade with its reason, and its follow-ups with their original dates and authors.

Owners only. All cards or none: a card that does not validate fails the job and nothing is written. What cannot be
carried over is noted in the report (an owner or author who is not a colleague here becomes the restoring owner)."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import bindparam, func, select

from app import jobs
from app.accounts.models import AuditRecord, EDITOR_ROLES, User
from app.card_templates.services import fields_by_key, load_template
from app.clients.models import Client
from app.clients.numbers import advance_counters
from app.clients.services import BatchInvalid, ValidationFailed, create_clients, set_archived
from app.followups.contacts import refresh_contacts
from app.extensions import db
from app.imports.models import ImportRun
from app.imports.reader import MAX_RATIO, BadFile
from app.imports.services import finish_run
from app.tenancy import current_tenant

FORMAT = "clientcard-export-1"
PARTS = ("clients.json", "template.json", "settings.json", "colleagues.json", "followups.json", "history.json")
MAX_ENTRIES = 50
MAX_JSON_BYTES = 400 * 1024 * 1024
CHUNK = 500
# Settings that decide how the restored cards look and behave; the rest (billing, mappings) stays this company's.
RESTORED_SETTINGS = ("stages", "number_pattern", "members_see_all", "sensitive_reason", "grading",
                     "followup_methods", "churn_reasons")


def read_export(data: bytes) -> dict:
    """The JSON parts of a full-export ZIP (checked before reading: entry count, sizes, ratio, format).
    Raises BadFile."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = {i.filename: i for i in zf.infolist()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise BadFile(_l("This is not a full export of ClientCard (a .zip with clients.json)."))
    if len(infos) > MAX_ENTRIES or "clients.json" not in infos:
        raise BadFile(_l("This is not a full export of ClientCard (a .zip with clients.json)."))
    total = sum(infos[n].file_size for n in PARTS if n in infos)
    if total > MAX_JSON_BYTES or any(infos[n].file_size > 1024 * 1024
                                     and infos[n].file_size > MAX_RATIO * max(infos[n].compress_size, 1)
                                     for n in PARTS if n in infos):
        raise BadFile(_l("The file unpacks to far more data than it holds (a zip bomb); it was not read."))
    out = {}
    try:
        for name in PARTS:
            if name in infos:
                out[name] = json.loads(zf.read(name).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError):
        raise BadFile(_l("The export is damaged: %(name)s cannot be read.", name=name))
    clients = out["clients.json"]
    if not isinstance(clients, dict) or clients.get("format") != FORMAT or not isinstance(clients.get("clients"),
                                                                                          list):
        raise BadFile(_l("This is not a full export of ClientCard (a .zip with clients.json)."))
    return out


def restorable(user: User) -> str | None:
    """Why this user cannot restore an export into this company now, or None."""
    if user.role != "owner":
        return _("Only owners can restore a full export.")
    if db.session.scalar(select(func.count(Client.id))):
        return _("A full export can be restored only into a company with no clients yet.")
    return None


class _People:
    """The exporting company's colleagues (id -> email) matched by email to this company's users."""

    def __init__(self, colleagues: list, restorer: User):
        self.email_of = {c["id"]: (c.get("email") or "").lower() for c in colleagues or []
                         if isinstance(c, dict) and c.get("id") is not None}
        users = db.session.scalars(select(User)).all()
        self.by_email = {u.email.lower(): u for u in users}
        self.restorer = restorer

    def user(self, email: str | None, *, editor=False) -> User | None:
        u = self.by_email.get((email or "").lower())
        if u is None or (editor and (not u.active or u.role not in EDITOR_ROLES)):
            return None
        return u

    def by_old_id(self, old_id, *, editor=False) -> User | None:
        return self.user(self.email_of.get(old_id), editor=editor)


def _when(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


@jobs.handler("import.restore")
def run_restore(job: jobs.Job, user: User) -> dict:
    """Restore a full export into this (empty) company; see the module docstring."""
    from flask import url_for

    from app.card_templates.transfer import TemplateError, import_template
    from app.followups import services as fs
    from app.followups.services import set_grade_override

    imp = db.session.get(ImportRun, job.params["import_id"])
    if imp is None or imp.data is None:
        raise jobs.JobFailed(_l("The uploaded file is no longer available; upload it again."))
    imp.job_id, imp.status = job.id, "running"
    db.session.flush()
    why = restorable(user) if user is not None else _("Only owners can restore a full export.")
    if why:
        raise jobs.JobFailed(why)
    try:
        parts = read_export(imp.data)
    except BadFile as e:
        raise jobs.JobFailed(e.message)
    tenant = current_tenant()
    notes: list[dict] = []

    def note(name: str, message: str, kind="note"):
        notes.append({"row": 0, "field": "", "name": name, "message": str(message), "kind": kind})

    # 1. The template and the settings the cards depend on.
    if isinstance(parts.get("template.json"), dict):
        try:
            import_template(user, parts["template.json"])
        except TemplateError as e:
            raise jobs.JobFailed(_l("The export's card template cannot be applied: %(errors)s",
                                    errors="; ".join(str(v) for v in list(e.errors.values())[:5])))
        db.session.flush()
    settings = (parts.get("settings.json") or {}).get("settings") or {}
    tenant.update_settings(**{k: settings[k] for k in RESTORED_SETTINGS if k in settings})
    if (parts.get("settings.json") or {}).get("timezone"):
        tenant.timezone = parts["settings.json"]["timezone"]
    db.session.flush()
    db.session.expire_all()
    template = load_template()
    fields = fields_by_key(template)
    people = _People(parts.get("colleagues.json") or [], user)

    # 2. The cards, through the bulk write path, keeping their numbers.
    exported = [c for c in parts["clients.json"]["clients"] if isinstance(c, dict)]
    total = len(exported)
    jobs.progress(job, 0, total)
    unknown_owners: dict[str, int] = {}
    items = []
    for c in exported:
        values = {}
        for key, v in (c.get("fields") or {}).items():
            fd = fields.get(key)
            if fd is not None and fd.type == "person":
                u = people.by_old_id(v)
                if u is None:
                    note(c.get("name", ""), _("%(field)s: the colleague is not in this company; left empty.",
                                              field=fd.t()))
                    continue
                v = u.id
            values[key] = v
        owner = people.user(c.get("owner"), editor=True)
        if owner is None and c.get("owner"):
            unknown_owners[c["owner"]] = unknown_owners.get(c["owner"], 0) + 1
        co = []
        for e in c.get("co_owners") or []:
            u = people.user(e, editor=True)
            if u is None and e:
                unknown_owners[e] = unknown_owners.get(e, 0) + 1
            co.append(u.id if u is not None else user.id)
        items.append({"name": c.get("name") or "", "stage": c.get("stage"), "tags": c.get("tags") or [],
                      "owner_id": owner.id if owner else user.id, "co_owner_ids": co, "fields": values})
    by_old_id: dict = {}
    savepoint = db.session.begin_nested()
    for start in range(0, total, CHUNK):
        chunk = exported[start:start + CHUNK]
        try:
            numbers = [str(c["number"]) for c in chunk] if all(c.get("number") for c in chunk) else None
            made = create_clients(user, items[start:start + CHUNK], template=template, allow_duplicate=True,
                                  enforce_required=False, numbers=numbers)
        except BatchInvalid as e:
            lines = []
            for i, exc in list(e.errors.items())[:5]:
                detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items()) \
                    if isinstance(exc, ValidationFailed) else str(exc)
                lines.append(f"{chunk[i].get('number', '')} {chunk[i].get('name', '')}: {detail}")
            raise jobs.JobFailed(_l("Nothing was restored: %(n)d cards do not validate. %(lines)s",
                                    n=len(e.errors), lines=" | ".join(lines)))
        for old, new in zip(chunk, made):
            by_old_id[old.get("id")] = (old, new)
        jobs.progress(job, min(start + CHUNK, total), total)
    advance_counters(tenant, [c.get("number") for c in exported if c.get("number")])
    # Their original dates (the first-visit rule counts from creation).
    stamps = [{"b_id": new.id, "b_created": _when(old.get("created_at")) or new.created_at,
               "b_updated": _when(old.get("updated_at")) or new.updated_at} for old, new in by_old_id.values()]
    if stamps:
        table = Client.__table__
        db.session.execute(table.update().where(table.c.id == bindparam("b_id"))
                           .values(created_at=bindparam("b_created"), updated_at=bindparam("b_updated")), stamps)
    for email, n in unknown_owners.items():
        note(email, _("%(email)s is not a colleague in this company: you take their place as owner or co-owner "
                      "of %(n)d cards.", email=email, n=n))

    # 3. Manual grades (with the reason from the history) and archive state.
    reasons = {}
    for h in parts.get("history.json") or []:
        if isinstance(h, dict) and h.get("action") == "grade" and h.get("note"):
            reasons[h.get("client_id")] = h["note"]
    for old, new in by_old_id.values():
        if old.get("grade_source") == "manual" and old.get("grade"):
            try:
                set_grade_override(user, new, old["grade"], reasons.get(old.get("id")) or _("Restored from the full "
                                                                                              "export."))
            except ValidationFailed as e:
                note(new.name, "; ".join(str(v) for v in e.errors.values()))
        if old.get("archived"):
            set_archived(user, new, True)

    # 4. Follow-ups through the follow-ups domain, with their authors where they are colleagues here.
    rows, skipped = [], 0
    for f in parts.get("followups.json") or []:
        pair = by_old_id.get(f.get("client_id")) if isinstance(f, dict) else None
        if pair is None:
            continue
        client = pair[1]
        author = people.by_old_id(f.get("author_id"))
        raw = {k: f.get(k) for k in fs.FOLLOWUP_FIELDS}
        try:
            row = fs.prepare_followup(user, client, raw, author_id=author.id if author else None)
        except ValidationFailed as e:
            skipped += 1
            note(client.name, _("A follow-up of %(date)s was not restored: %(errors)s", date=f.get("date"),
                                errors="; ".join(str(v) for v in e.errors.values())), "error")
            continue
        assignee = people.by_old_id(f.get("assignee_id"), editor=True)
        row["assignee_id"] = assignee.id if assignee else (client.owner_id or user.id)
        rows.append(row)
    followups = 0
    for start in range(0, len(rows), CHUNK):
        followups += len(fs.write_followups(rows[start:start + CHUNK]))
    # The original creation dates and archive states changed after the cards were written: due dates follow them.
    refresh_contacts(new.id for _old, new in by_old_id.values())
    # For a restore, "updated" counts the follow-ups written and "skipped" the follow-ups that were not; no ids are
    # kept, as a restore is not undone card by card (start a new company instead).
    imp = finish_run(job, savepoint, dry_run=imp.dry_run, problems=notes, skipped=skipped, created=len(by_old_id),
                     updated=followups)
    imp.data = None
    if not imp.dry_run:
        db.session.add(AuditRecord(actor_id=user.id, action="tenant.restore", subject=imp.filename[:200],
                                   detail={"import_id": imp.id, "clients": imp.created, "followups": followups}))
    return {"url": url_for("imports.show", import_id=imp.id), "link_text": str(_l("See the report")),
            "import_id": imp.id, "created": imp.created, "followups": followups}
