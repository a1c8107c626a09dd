"""Benchmark of card PDFs: render time (warm) and size of a typical card, the size of a one-page card, and the
throughput of a batch export (merged PDF and ZIP) in one worker.

    .venv/bin/python bench/pdf.py                 # 30 renders of a card with 60 filled fields, batches of 50 cards
    .venv/bin/python bench/pdf.py --renders 100 --batch 200
    .venv/bin/python bench/pdf.py --processes 2              # batches with two render children at once

A fresh SQLite file (bench/pdf.sqlite) with one tenant and one card of 60 filled, non-sensitive fields of the
built-in key-account template (long texts and two tables among them) and 5 follow-ups (--followups). Renders go through
app.sharing.services.card_pdf — the same path as the page, the API and the share link — one after the other in one
process, so cards per second is the throughput of one worker. The batches run the batch-export job
(app.sharing.batch, eagerly, in this process: one worker) over --batch copies of that card. Prints markdown tables.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SAMPLE = {
    "text": "上海市浦东新区张江高科技园区碧波路690号", "textarea": "主营服装设计、生产与出口，面向华东地区的连锁零售；"
    "近三年营业额稳定增长，计划明年在苏州新建一条针织生产线，需要稳定的面料供应与准时交付。",
    "number": 128, "money": "500万", "date": "2019年6月30日", "phone": "021-5588 1234", "email": "wang@example.com",
    "url": "https://www.example.com", "boolean": "是",
}


def value_for(fd, owner_id):
    if fd.type in ("select",):
        return fd.options[0] if fd.options else None
    if fd.type == "multiselect":
        return fd.options[:2] or None
    if fd.type == "person":
        return owner_id
    if fd.type == "table":
        row = {}
        for col in fd.columns:
            kind = col.get("type") or "text"
            row[col["key"]] = (col.get("options") or [None])[0] if kind == "select" else \
                "2020-01-01" if kind == "date" else "13900001111" if kind == "phone" else "张丽"
        return [row, dict(row)]
    return SAMPLE.get(fd.type)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--fields", type=int, default=60)
    parser.add_argument("--batch", type=int, default=50, help="cards in each batch export (0: no batch)")
    parser.add_argument("--followups", type=int, default=5, help="follow-ups on each card (a PDF shows the last 5)")
    parser.add_argument("--processes", type=int, default=0,
                        help="render children a batch runs at once (PDF_BATCH_PROCESSES; 0: the configured default)")
    args = parser.parse_args()

    db_path = HERE / "pdf.sqlite"
    db_path.unlink(missing_ok=True)
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from app.accounts.models import User
    from app.accounts.services import create_tenant
    from app.card_templates.services import load_template
    from app.clients.models import Client
    from app.clients.services import create_client
    from app.config import Config
    from app.extensions import db
    from app.sharing.services import PdfOptions, card_pdf
    from app.tenancy import tenant_context

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}", SECRET_KEY="bench", JOBS_EAGER=True,
                     PDF_BATCH_MAX=max(1000, args.batch),
                     **({"PDF_BATCH_PROCESSES": args.processes} if args.processes > 0 else {}))
    processes = app.config.get("PDF_BATCH_PROCESSES", 1)
    with app.app_context():
        upgrade()
        tenant, owner = create_tenant("上海示例贸易有限公司", "王经理", "bench@example.com", "bench-pass-2026-x",
                                      "zh_CN", "key_account_company")
        db.session.commit()
        tid, uid = tenant.id, owner.id
        with tenant_context(tid):
            owner = db.session.get(User, uid)
            fields = {}
            for fd in (f for s in load_template().sections for f in s.active_fields if not f.sensitive):
                value = value_for(fd, uid)
                if value not in (None, []) and len(fields) < args.fields:
                    fields[fd.key] = value
            add_followups(owner, create_client(owner, name="上海华光科技有限公司", fields=fields,
                                               enforce_required=False), args.followups)
            db.session.commit()
            client = db.session.scalars(select(Client)).one()
            filled = len(client.values)
            with app.test_request_context():
                card_pdf(owner, client, PdfOptions())  # first render of the process: loads the CJK font
                times, cpu, size = [], [], 0
                for _ in range(args.renders):
                    started, before = time.perf_counter(), os.times()
                    size = len(card_pdf(owner, client, PdfOptions()))
                    after = os.times()
                    times.append(time.perf_counter() - started)
                    # CPU of this process and of the render child: the time on an otherwise idle core
                    cpu.append(sum(after[i] - before[i] for i in range(4)))
                db.session.rollback()
                one_page = one_page_card(owner, fields)
                batches = [batch_run(owner, args.batch, fields, fmt, args.followups)
                           for fmt in ("pdf", "zip")] if args.batch else []
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    load = os.getloadavg()[0]
    print("| request | wall p50 / p95 | CPU per render | PDF size | cards/s per worker (wall) | load average |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| card PDF, {filled} filled fields, {args.followups} follow-ups | {p50 * 1000:.0f} / {p95 * 1000:.0f} ms | "
          f"{statistics.median(cpu) * 1000:.0f} ms | {size / 1024:.0f} KB | {1 / statistics.mean(times):.1f} | "
          f"{load:.1f} |")
    print(f"| one-page card ({one_page[0]} filled fields, {one_page[1]} page) | | | {one_page[2] / 1024:.0f} KB | | |")
    if batches:
        print()
        print(f"| batch export (one worker, {processes} render process{'es' if processes > 1 else ''}) | cards | wall | CPU | cards/s per worker (wall) | file | per card | "
              "load average |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for fmt, n, wall, cpu_s, size in batches:
            label = "one merged PDF" if fmt == "pdf" else "ZIP of PDFs"
            print(f"| {label} | {n} | {wall:.1f} s | {cpu_s:.1f} s | {n / wall:.1f} | {size / 1024 / 1024:.1f} MB | "
                  f"{size / n / 1024:.0f} KB | {os.getloadavg()[0]:.1f} |")
    db_path.unlink(missing_ok=True)


def add_followups(owner, client, n: int):
    """n follow-ups on the card, one a week back from today, with text in every column the PDF shows."""
    from datetime import date, timedelta

    from app.followups.services import add_followup, methods

    for i in range(n):
        day = date.today() - timedelta(days=7 * (n - i))
        add_followup(owner, client, {
            "date": day.isoformat(), "method": methods()[i % len(methods())],
            "content": "电话沟通了明年面料采购计划，对方关心交期与价格，希望我们提供三种针织面料的样品和报价单。",
            "feedback": "价格可以接受，交期需要确认", "plan": "寄送样品，下周三前发报价单",
            "next_date": (day + timedelta(days=7)).isoformat()})
    return client


def one_page_card(owner, fields: dict) -> tuple[int, int, int]:
    """(filled fields, pages, bytes) of a card with the first short fields only: what fits on one A4 page."""
    import io

    from pypdf import PdfReader

    from app.clients.services import create_client
    from app.extensions import db
    from app.sharing.services import PdfOptions, card_pdf

    short = {k: v for k, v in fields.items() if not isinstance(v, list) and len(str(v)) < 30}
    chosen = dict(list(short.items())[:20])
    client = create_client(owner, name="苏州远景电子有限公司", fields=chosen, enforce_required=False,
                           allow_duplicate=True)
    db.session.flush()
    data = card_pdf(owner, client, PdfOptions())
    db.session.rollback()
    return len(chosen), len(PdfReader(io.BytesIO(data)).pages), len(data)


def batch_run(owner, n: int, fields: dict, fmt: str, followups: int = 0) -> tuple[str, int, float, float, int]:
    """Make n cards, export them as one batch job in this process; (format, cards, wall s, CPU s, file bytes)."""
    from sqlalchemy import select

    from app import jobs
    from app.clients.services import create_client
    from app.extensions import db
    from app.sharing import batch

    ids = [add_followups(owner, create_client(owner, name=f"上海华光科技有限公司{i:04d}", fields=fields,
                                              enforce_required=False, allow_duplicate=True), followups).id
           for i in range(n)]
    db.session.commit()
    started, before = time.perf_counter(), os.times()
    job = batch.start_batch(owner, ids, fmt=fmt)
    after = os.times()
    wall = time.perf_counter() - started
    assert job.status == "done", job.error
    size = len(db.session.scalars(select(jobs.JobFile).where(jobs.JobFile.job_id == job.id)).one().data)
    return fmt, n, wall, sum(after[i] - before[i] for i in range(4)), size


if __name__ == "__main__":
    main()
