"""Benchmark of card PDFs: render time (warm) and size of a typical card, and batch throughput of one worker.

    .venv/bin/python bench/pdf.py                 # 30 renders of a card with 60 filled fields
    .venv/bin/python bench/pdf.py --renders 100

A fresh SQLite file (bench/pdf.sqlite) with one tenant and one card of 60 filled, non-sensitive fields of the
built-in key-account template (long texts and two tables among them). Renders go through
app.sharing.services.card_pdf — the same path as the page, the API and the share link — one after the other in one
process, so cards per second is the throughput of one worker. Prints a markdown table.
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

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}", SECRET_KEY="bench")
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
            create_client(owner, name="上海华光科技有限公司", fields=fields, enforce_required=False)
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
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    load = os.getloadavg()[0]
    print("| request | wall p50 / p95 | CPU per render | PDF size | cards/s per worker (wall) | load average |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| card PDF, {filled} filled fields | {p50 * 1000:.0f} / {p95 * 1000:.0f} ms | "
          f"{statistics.median(cpu) * 1000:.0f} ms | {size / 1024:.0f} KB | {1 / statistics.mean(times):.1f} | "
          f"{load:.1f} |")
    db_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
