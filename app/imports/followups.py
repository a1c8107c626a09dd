"""Importing follow-up history (维护记录): a sheet (a second sheet of the client list, or a file of its own) with the
client's name or number, date, method, what was discussed and who wrote it. Rows keep their original dates and
authors, are checked and written through the follow-ups domain (prepare_followup / write_followups, in batches),
run as a job with a progress bar, are reported row by row, and are removed again by the import's undo."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from app import jobs
from app.accounts.models import AuditRecord, User
from app.clients.access import NotAllowed, visible_clients
from app.clients.models import Client
from app.clients.services import ValidationFailed
from app.extensions import db
from app.followups import services as fs
from app.followups.models import FollowUp
from app.imports.models import ImportRun
from app.imports.reader import BadFile, Sheet, cell_text, clean_label, read_sheet
from app.imports.services import finish_run
from app.values import normalize_text

CHUNK = 500

# Columns of a follow-up sheet, with the names firms give them. "@client" / "@number" find the card,
# "@author" the colleague who wrote the record; the rest are the follow-up's own fields.
TARGETS = {
    "@client": ("客户名称", "客户", "名称", "公司名称", "公司", "企业名称", "单位名称", "客户全称", "client", "name",
                "clientname", "company", "customer"),
    "@number": ("客户编号", "编号", "number", "clientnumber"),
    "date": ("日期", "跟进日期", "拜访日期", "联系日期", "沟通日期", "维护日期", "时间", "跟进时间", "拜访时间",
             "联系时间", "date"),
    "method": ("方式", "跟进方式", "联系方式", "维护方式", "拜访方式", "沟通方式", "method"),
    "content": ("内容", "跟进内容", "沟通内容", "洽谈内容", "维护内容", "拜访内容", "联系内容", "记录", "跟进记录",
                "维护记录", "主要内容", "content", "notes"),
    "feedback": ("客户反馈", "反馈", "客户意见", "feedback"),
    "plan": ("下一步", "下一步计划", "后续计划", "跟进计划", "下步计划", "下一步工作", "nextsteps", "plan"),
    "next_date": ("下次联系日期", "下次跟进日期", "下次联系", "下次拜访日期", "下次跟进", "下次联系时间",
                  "nextcontact", "nextdate", "nextcontactdate"),
    "satisfaction": ("满意度", "客户满意度", "satisfaction"),
    "@author": ("跟进人", "记录人", "负责人", "业务员", "填写人", "维护人", "拜访人", "作者", "author", "by"),
}
REQUIRED_TARGETS = ("date", "method", "content")


def label(target: str) -> str:
    return {"@client": _("Client name"), "@number": _("Client number"), "date": _("Date"), "method": _("Method"),
            "content": _("What was discussed"), "feedback": _("Client feedback"), "plan": _("Next steps"),
            "next_date": _("Next contact date"), "satisfaction": _("Satisfaction (1–5)"),
            "@author": _("Author (name or email)")}[target]


def _fold(s) -> str:
    from app.imports.services import _fold as fold

    return fold(s)


def known_labels() -> set[str]:
    """Header texts of a follow-up sheet (cleaned like header cells), for finding its header row."""
    return {clean_label(n) for names in TARGETS.values() for n in names}


def choices() -> list[tuple[str, str]]:
    return [(t, label(t)) for t in TARGETS]


def auto_mapping(sheet: Sheet, remembered: dict | None = None) -> dict[str, str]:
    """Column index -> target by remembered choices, then by label and synonyms."""
    by_label = {}
    for target, names in TARGETS.items():
        for n in (*names, label(target)):
            by_label.setdefault(_fold(n), target)
    remembered = remembered or {}
    mapping, used = {}, set()
    for i, col in enumerate(sheet.columns):
        if not col:
            continue
        target = remembered.get(col)
        if target is None or (target and target not in TARGETS):
            target = by_label.get(_fold(col))
        if target and target not in used:
            mapping[str(i)] = target
            used.add(target)
    return mapping


def check_mapping(sheet: Sheet, mapping: dict) -> dict:
    """Errors of a mapping: the client's name or number, the date, method and content are needed."""
    errors, seen = {}, set()
    for col, target in mapping.items():
        if not target:
            continue
        if target not in TARGETS:
            errors[col] = _("Choose a field of the follow-up.")
        elif target in seen:
            errors[col] = _("Another column is already mapped to this field.")
        seen.add(target)
    if not seen & {"@client", "@number"}:
        errors["@client"] = _("Map one column to the client name or the client number.")
    for target in REQUIRED_TARGETS:
        if target not in seen:
            errors[f"@{target}"] = _("Map one column to %(field)s.", field=label(target))
    return errors


def pick_sheet(filename: str, data: bytes, min_score: int = 1) -> str | None:
    """The sheet of a workbook that looks most like follow-ups (a client list's second sheet): the most follow-up
    column names in a header row, at least `min_score`. None for a CSV, a one-sheet workbook or no such sheet."""
    from app.imports.reader import HEADER_SCAN_ROWS, _xlsx_grid, kind_of

    if kind_of(filename, data) != "xlsx":
        return None
    names, _name, _grid, _merged = _xlsx_grid(data, None, 0)
    if len(names) < 2:
        return None
    labels = known_labels()
    best, best_score = None, min_score - 1
    for name in names:
        _n, _s, grid, _m = _xlsx_grid(data, name, 0)
        score = max((sum(1 for v in row if clean_label(v) in labels) for row in grid[:HEADER_SCAN_ROWS]), default=0)
        if score > best_score:
            best, best_score = name, score
    return best


# ---------------------------------------------------------------- rows

@dataclass
class Row:
    row: int
    client: str = ""
    number: str = ""
    author: str = ""
    raw: dict = field(default_factory=dict)       # parse_followup input
    problems: list = field(default_factory=list)  # [(column label, message)]


def rows_of(sheet: Sheet, mapping: dict, rows=None) -> list[Row]:
    """Each data row as follow-up input plus the texts that find its card and author."""
    cols = [(int(c), t) for c, t in mapping.items() if t]
    out = []
    for rownum, values in (rows if rows is not None else sheet.rows):
        r = Row(rownum)
        for c, target in cols:
            text = cell_text(values[c]) if c < len(values) else None
            if text is None:
                continue
            if target == "@client":
                r.client = normalize_text(text)
            elif target == "@number":
                r.number = normalize_text(text)
            elif target == "@author":
                r.author = normalize_text(text)
            else:
                r.raw[target] = text
        out.append(r)
    return out


def column_of(sheet: Sheet, mapping: dict, target: str) -> str:
    for c, t in mapping.items():
        if t == target and int(c) < len(sheet.columns):
            return sheet.columns[int(c)]
    return label(target) if target in TARGETS else target


class Clients:
    """The tenant's cards by number and by name (width, case and punctuation folded), and which the user sees."""

    def __init__(self, user: User):
        self.by_number, self.by_name = {}, {}
        for cid, number, name in db.session.execute(select(Client.id, Client.number, Client.name)):
            self.by_number[number] = cid
            self.by_name.setdefault(_fold(name), []).append((cid, number))
        self.visible = set(db.session.scalars(visible_clients(user).with_only_columns(Client.id).order_by(None)))

    def find(self, r: Row) -> tuple[int | None, str | None]:
        """(client id, None) or (None, why the row's card cannot be used)."""
        if r.number:
            cid = self.by_number.get(r.number)
            if cid is None and not r.client:
                return None, _("No client has the number %(number)s.", number=r.number)
            if cid is not None:
                return (cid, None) if cid in self.visible else \
                    (None, _("The client %(number)s is a colleague's card you cannot see.", number=r.number))
        if not r.client:
            return None, _("Enter the client's name or number.")
        found = self.by_name.get(_fold(r.client), [])
        seen = [(cid, n) for cid, n in found if cid in self.visible]
        if not found:
            return None, _("No client is named %(name)s. Import the client list first.", name=r.client)
        if not seen:
            return None, _("%(name)s is a colleague's card you cannot see.", name=r.client)
        if len(seen) > 1:
            return None, _("Several clients are named %(name)s (%(numbers)s); add a client number column.",
                           name=r.client, numbers="、".join(n for _c, n in seen))
        return seen[0][0], None


class Authors:
    """Colleagues by email or name, former ones included (history keeps who wrote it)."""

    def __init__(self):
        self.by_key = {}
        for u in db.session.scalars(select(User).order_by(User.active.desc(), User.id)):
            for k in (u.email, u.name):
                if k:
                    self.by_key.setdefault(_fold(k), u.id)

    def find(self, text: str) -> int | None:
        return self.by_key.get(_fold(text)) if text else None


def method_of(text: str, allowed: list[str]) -> str:
    """The tenant's method a cell means: the same (width and case folded), or the one it contains or is part of
    ("拜访" → 上门拜访, "电话沟通" → 电话); else the text unchanged (parse_followup then names the choices)."""
    folded = _fold(text)
    for m in allowed:
        if _fold(m) == folded:
            return m
    near = [m for m in allowed if folded and (_fold(m) in folded or folded in _fold(m))]
    return near[0] if len(near) == 1 else text


def _normalize(raw: dict, allowed: list[str]) -> dict:
    raw = dict(raw)
    if raw.get("method"):
        raw["method"] = method_of(raw["method"], allowed)
    return raw


def preview(sheet: Sheet, mapping: dict, user: User, rows=None) -> list[dict]:
    """The first rows as they would be stored: per mapped column the value or its error."""
    clients, authors, allowed = Clients(user), Authors(), fs.methods()
    out = []
    for r in rows_of(sheet, mapping, rows if rows is not None else sheet.rows[:10]):
        values, errors = fs.parse_followup(_normalize(r.raw, allowed))
        cid, why = clients.find(r)
        cells, row_errors = {}, []
        for c, target in mapping.items():
            if not target:
                continue
            if target in ("@client", "@number"):
                cells[c] = {"error": why} if why else {"value": r.client or r.number}
            elif target == "@author":
                cells[c] = {"value": r.author if authors.find(r.author) or not r.author
                            else _("%(name)s (unknown: you)", name=r.author)}
            elif target in errors:
                cells[c] = {"error": str(errors[target])}
            else:
                v = values.get(target)
                cells[c] = {"value": v.isoformat() if hasattr(v, "isoformat") else ("" if v is None else v)}
        for key, msg in errors.items():
            if key not in mapping.values():
                row_errors.append(str(msg))
        out.append({"row": r.row, "cells": cells, "errors": row_errors})
    return out


# ---------------------------------------------------------------- the job

@jobs.handler("import.followups")
def run_import(job: jobs.Job, user: User) -> dict:
    """Import every row of a follow-up sheet: find the card (visible to the user), check the row through the
    follow-ups domain, keep its date and author, write valid rows in batches; report the rest. A row equal to a
    follow-up the card has (date, method, content) is skipped, unless duplicates are to be created anyway."""
    from flask import url_for

    imp = db.session.get(ImportRun, job.params["import_id"])
    if imp is None or imp.data is None:
        raise jobs.JobFailed(_l("The uploaded file is no longer available; upload it again."))
    imp.job_id = job.id
    imp.status = "running"
    db.session.flush()  # a real write before the first savepoint (SQLite's driver)
    if user is None or user.role not in ("owner", "admin", "member") or not user.active:
        raise jobs.JobFailed(_l("Your role cannot log follow-ups."))
    try:
        sheet = read_sheet(imp.filename, imp.data, imp.sheet or None, known_labels())
    except BadFile as e:
        raise jobs.JobFailed(e.message)
    mapping = imp.mapping
    rows = rows_of(sheet, mapping)
    total = len(rows)
    jobs.progress(job, 0, total)
    clients, authors, allowed = Clients(user), Authors(), fs.methods()
    cards = {}
    problems: list[dict] = []

    def problem(r: Row, column: str, message, kind="error"):
        problems.append({"row": r.row, "field": column, "message": str(message), "kind": kind,
                         "name": r.client or r.number})

    found = []
    for r in rows:
        cid, why = clients.find(r)
        if cid is None:
            problem(r, column_of(sheet, mapping, "@number" if r.number and not r.client else "@client"), why)
        else:
            found.append((r, cid))
    ids = sorted({cid for _r, cid in found})
    for start in range(0, len(ids), 1000):
        cards.update((c.id, c) for c in db.session.scalars(select(Client).where(Client.id.in_(ids[start:start + 1000]))))
    prepared: list[tuple[Row, dict]] = []
    unknown_authors: dict[str, list[int]] = {}
    for r, cid in found:
        author_id = authors.find(r.author)
        try:
            values = fs.prepare_followup(user, cards[cid], _normalize(r.raw, allowed), author_id=author_id)
        except ValidationFailed as e:
            for key, msg in e.errors.items():
                problem(r, column_of(sheet, mapping, key), msg)
            continue
        except NotAllowed as e:
            problem(r, "", e.message or _("Not allowed."))
            continue
        if r.author and author_id is None:
            unknown_authors.setdefault(r.author, []).append(r.row)
        prepared.append((r, values))
    # Equal to a follow-up already on the card (or earlier in the file): a list imported twice adds nothing.
    existing = set()
    if imp.on_duplicate != "create":
        ids = sorted({v["client_id"] for _r, v in prepared})
        for start in range(0, len(ids), 1000):
            existing.update(db.session.execute(
                select(FollowUp.client_id, FollowUp.date, FollowUp.method, FollowUp.content)
                .where(FollowUp.client_id.in_(ids[start:start + 1000]))).tuples())
    to_write, skipped = [], 0
    for r, v in prepared:
        key = (v["client_id"], v["date"], v["method"], v["content"])
        if key in existing:
            skipped += 1
            problem(r, "", _("Skipped: this follow-up is already on the card."), "skipped")
            continue
        if imp.on_duplicate != "create":
            existing.add(key)
        to_write.append(v)
    for name, at in unknown_authors.items():
        problems.append({"row": at[0], "field": column_of(sheet, mapping, "@author"), "kind": "note", "name": "",
                         "message": _("No colleague is named %(name)s: rows %(rows)s were recorded as written by "
                                      "you.", name=name, rows="、".join(str(n) for n in at[:20])
                                      + ("…" if len(at) > 20 else ""))})
    savepoint = db.session.begin_nested()
    created_ids: list[int] = []
    done = total - len(to_write)
    jobs.progress(job, done, total)
    for start in range(0, len(to_write), CHUNK):
        created_ids.extend(fs.write_followups(to_write[start:start + CHUNK]))
        done += len(to_write[start:start + CHUNK])
        jobs.progress(job, done, total)
    problems.sort(key=lambda p: p["row"])
    imp = finish_run(job, savepoint, dry_run=imp.dry_run, problems=problems, skipped=skipped,
                     created_ids=created_ids)
    imp.data = None
    if not imp.dry_run:
        db.session.add(AuditRecord(actor_id=user.id, action="followups.import", subject=imp.filename[:200],
                                   detail={"import_id": imp.id, "created": imp.created}))
    return {"url": url_for("imports.show", import_id=imp.id), "link_text": str(_l("See the report")),
            "import_id": imp.id, "created": imp.created, "updated": 0, "skipped": skipped,
            "errors": sum(1 for p in problems if p["kind"] == "error")}
