"""Exports: the client list as .xlsx / .csv (as the user sees it; sensitive values only when a permitted user asks,
logged), and the full tenant export ("take all your data away") as a ZIP of JSON and xlsx, built as a job.

Every text cell that a spreadsheet could run as a formula (= + - @ tab CR at the start) is written as text:
typed as a string in .xlsx, prefixed with an apostrophe in .csv (the import strips that prefix again)."""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import zipfile
from datetime import datetime

from flask import Response
from flask_babel import gettext as _
from sqlalchemy import select

from app import jobs
from app.accounts.models import AuditRecord, User
from app.bulk import insert_rows
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import fields_by_key, load_template
from app.clients.access import can, is_admin
from app.clients.listing import ListParams, filtered_query
from app.clients.models import Client, ClientChange, ClientView
from app.db_types import utcnow
from app.extensions import db
from app.tenancy import current_tenant
from app.values import display_value, displays_as_stored

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SYNC_MAX = 5000  # larger list exports run as a job
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(data: bytes, filename: str, mimetype: str = XLSX) -> Response:
    from app.jobs import _attachment

    return Response(data, mimetype=mimetype, headers={"Content-Disposition": _attachment(filename),
                                                      "Cache-Control": "no-store"})


def csv_safe(v) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s.startswith(FORMULA_START) else s


# ---------------------------------------------------------------- the list

def export_columns(template: CardTemplate, keys: list[str] | None, *, sensitive: bool) -> list[FieldDef]:
    """The fields to export: the chosen keys (or every active field), sensitive ones only when asked for."""
    fields = [fd for fd in fields_by_key(template, include_archived=False).values()
              if keys is None or fd.key in keys]
    return [fd for fd in fields if not fd.sensitive or sensitive]


def column_labels(template: CardTemplate, columns: list[FieldDef]) -> list[str]:
    """Header texts; a label used by two fields is qualified by its section (the import reads both forms)."""
    counts: dict[str, int] = {}
    for fd in fields_by_key(template, include_archived=False).values():
        counts[fd.t()] = counts.get(fd.t(), 0) + 1
    return [f"{fd.section.t()}·{fd.t()}" if counts[fd.t()] > 1 and fd.section is not None else fd.t()
            for fd in columns]


def list_rows(user: User, params: ListParams, template: CardTemplate, columns: list[FieldDef], *,
              sensitive: bool, reason: str = ""):
    """Header, then one row per visible client of the filtered list; each exported card is logged in its view log
    (kind "sensitive" when its sensitive values were included)."""
    people = {u.id: u.display_name for u in db.session.scalars(select(User))}
    yield unique_labels([_("Client number"), _("Client name"), _("Stage"), _("Grade"), _("Owner"), _("Tags")]
                        + column_labels(template, columns))
    stmt = filtered_query(user, params).order_by(Client.id)
    views = []
    # Each column's type and options read once, not per cell, and each card's own values walked (a card fills
    # 40 of 170 columns; a 100,000-row export has millions of cells).
    fixed = 6
    plan = {fd.key: (fixed + i, fd.type, fd.spec(), fd.sensitive, displays_as_stored(fd.type))
            for i, fd in enumerate(columns)}
    width = fixed + len(columns)
    any_secret = sensitive and any(secret for _i, _t, _s, secret, _p in plan.values())
    why, at = (reason or _("Export"))[:500], utcnow()
    if not any_secret:  # plain rows, not cards: what the export reads (the cards' objects cost a third of it)
        stmt = stmt.with_only_columns(Client.id, Client.tenant_id, Client.number, Client.name, Client.stage,
                                      Client.grade, Client.owner_id, Client.tags, Client.values)
    result = db.session.execute(stmt.execution_options(yield_per=1000))
    for client in (result.scalars() if any_secret else result):
        shows_secret = False
        row = [None] * width
        row[:fixed] = [client.number, client.name, client.stage, client.grade, people.get(client.owner_id),
                       "、".join(client.tags or []) or None]
        may_read_secret = any_secret and can(user, "clients.read_sensitive", client)
        for key, v in (client.values or {}).items():
            column = plan.get(key)
            if column is None or v is None:
                continue
            index, ftype, spec, secret, as_stored = column
            if secret and not may_read_secret:
                continue
            shows_secret = shows_secret or secret
            row[index] = (v.strip() and v if as_stored and type(v) is str else display_value(ftype, v, spec)) or None
        views.append({"tenant_id": client.tenant_id, "client_id": client.id, "user_id": user.id,
                      "kind": "sensitive" if shows_secret else "export",
                      "reason": why, "at": at})
        if len(views) >= 1000:
            insert_rows(ClientView.__table__, views)
            views = []
        yield row
    insert_rows(ClientView.__table__, views)


def unique_labels(labels: list[str]) -> list[str]:
    """Header texts made unique ("标签", "标签 (2)"): a sheet's columns are told apart by their headers."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def to_xlsx(rows, title: str = "clients") -> bytes:
    """One sheet of `rows` (the first is the header, its texts unique; None is an empty cell), streamed by
    rust_xlsxwriter in constant memory (~15x openpyxl's write-only mode). Every string is written as an inline
    text cell, never as a formula, so a value like =HYPERLINK(...) opens as the text it is."""
    from rustpy_xlsxwriter import FastExcel

    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        return b""
    records = (dict(zip(header, row)) for row in rows)
    buf = io.BytesIO()
    first = next(records, None)
    if first is None:  # a header-only sheet: the library takes its header from the first record
        first = dict.fromkeys(header)
    FastExcel(buf).sheet(title[:31], itertools.chain([first], records)).save()
    return buf.getvalue()


def to_csv(rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")  # Excel opens UTF-8 with a BOM as Chinese text


def export_list(user: User, params: ListParams, fmt: str, keys: list[str] | None, *, sensitive: bool,
                reason: str = "") -> tuple[bytes, str, str]:
    """(data, filename, mimetype) of the filtered list; sensitive values only where the user may read them."""
    template = load_template()
    sensitive = sensitive and (is_admin(user) or user.role == "member")
    columns = export_columns(template, keys, sensitive=sensitive)
    rows = list_rows(user, params, template, columns, sensitive=sensitive, reason=reason)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    if sensitive:
        db.session.add(AuditRecord(actor_id=user.id, action="clients.export_sensitive", subject=f"{fmt} {stamp}",
                                   detail={"reason": reason[:200]}))
    if fmt == "csv":
        return to_csv(rows), f"clients-{stamp}.csv", "text/csv; charset=utf-8"
    return to_xlsx(rows), f"clients-{stamp}.xlsx", XLSX


@jobs.handler("export.clients")
def export_list_job(job: jobs.Job, user: User) -> dict:
    """A large list export: the same rows, built in the background; the file is offered by the progress bar."""
    from werkzeug.datastructures import MultiDict

    from app.clients.listing import parse_list_params

    p = job.params
    params = parse_list_params(MultiDict(p.get("query") or []), strict=False)
    data, filename, mimetype = export_list(user, params, p.get("format", "xlsx"), p.get("fields"),
                                           sensitive=bool(p.get("sensitive")), reason=p.get("reason", ""))
    return {**jobs.save_file(job, filename, mimetype, data), "link_text": _("Download")}


# ---------------------------------------------------------------- everything

def _json_default(v):
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


@jobs.handler("export.tenant")
def full_export(job: jobs.Job, user: User) -> dict:
    """Owners: every client (with values), history, view log, template, settings and colleagues as a ZIP of JSON
    plus clients.xlsx. Sensitive values only when the owner asked for them (logged); else left out everywhere."""
    from app.card_templates.transfer import export_template

    if user is None or user.role != "owner":
        raise jobs.JobFailed(_("Only owners can export all of the company's data."))
    sensitive = bool(job.params.get("sensitive"))
    template = load_template()
    fields = fields_by_key(template)
    hidden = set() if sensitive else {k for k, fd in fields.items() if fd.sensitive}
    tenant = current_tenant()
    users = db.session.scalars(select(User).order_by(User.id)).all()
    email = {u.id: u.email for u in users}
    clients_out = []
    clients = db.session.scalars(select(Client).order_by(Client.id)).all()
    total = len(clients)
    for i, c in enumerate(clients):
        clients_out.append({
            "id": c.id, "number": c.number, "name": c.name, "stage": c.stage, "grade": c.grade,
            "grade_source": c.grade_source, "owner": email.get(c.owner_id),
            "co_owners": [email.get(u) for u in c.co_owner_ids], "tags": list(c.tags or []),
            "fields": {k: v for k, v in (c.values or {}).items() if k not in hidden},
            "archived": c.archived, "created_at": c.created_at, "updated_at": c.updated_at})
        if i % 500 == 0:
            jobs.progress(job, i, total)
    history = []
    for ch in db.session.scalars(select(ClientChange).order_by(ClientChange.id)).yield_per(2000):
        history.append({"client_id": ch.client_id, "version": ch.version, "actor": email.get(ch.actor_id),
                        "at": ch.at, "action": ch.action, "note": ch.note,
                        "changes": {k: v for k, v in (ch.changes or {}).items() if k not in hidden}})
    views = [{"client_id": v.client_id, "user": email.get(v.user_id), "at": v.at, "kind": v.kind,
              "reason": v.reason} for v in db.session.scalars(select(ClientView).order_by(ClientView.id))]
    followups = _followups(email)
    columns = export_columns(template, None, sensitive=sensitive)
    xlsx = to_xlsx(list_rows(user, ListParams(archived="all"), template, columns, sensitive=sensitive,
                             reason=_("Full export")))
    buf = io.BytesIO()
    dump = lambda obj: json.dumps(obj, ensure_ascii=False, indent=1, default=_json_default)  # noqa: E731
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("clients.json", dump({"format": "clientcard-export-1", "company": tenant.name,
                                          "exported_at": utcnow(), "sensitive_included": sensitive,
                                          "clients": clients_out}))
        zf.writestr("template.json", dump(export_template(template)))
        zf.writestr("history.json", dump(history))
        zf.writestr("view_log.json", dump(views))
        zf.writestr("settings.json", dump({"company": tenant.name, "timezone": tenant.timezone,
                                           "settings": tenant.settings or {}}))
        # "id" lets a restore map person fields and follow-up authors (stored as ids) to its own colleagues.
        zf.writestr("colleagues.json", dump([{"id": u.id, "email": u.email, "name": u.display_name, "role": u.role,
                                              "active": u.active} for u in users]))
        if followups is not None:
            zf.writestr("followups.json", dump(followups))
        zf.writestr("clients.xlsx", xlsx)
    db.session.add(AuditRecord(actor_id=user.id, action="tenant.export", subject=tenant.name[:200],
                               detail={"sensitive": sensitive, "clients": total}))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return {**jobs.save_file(job, f"clientcard-export-{stamp}.zip", "application/zip", buf.getvalue()),
            "link_text": _("Download")}


def _followups(email: dict) -> list | None:
    """Follow-ups, when that feature is installed."""
    try:
        from app.followups.models import FollowUp  # noqa: F401
    except ImportError:
        return None
    out = []
    for f in db.session.scalars(select(FollowUp).order_by(FollowUp.id)):
        row = {c.name: getattr(f, c.name) for c in FollowUp.__table__.columns if c.name != "tenant_id"}
        out.append(row)
    return out
