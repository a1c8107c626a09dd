"""Benchmark of client-list import and export on a fresh database.

    .venv/bin/python bench/imports.py --rows 10000            # SQLite file bench/imports.sqlite
    .venv/bin/python bench/imports.py --rows 2000 --followups 5000
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/imports.py --rows 10000
    .venv/bin/python bench/imports.py --batch-api 5000        # POST /api/v1/clients/batch, 1,000 cards a request

Builds an .xlsx of `rows` rows x 40 columns (name, phones, emails, dates in mixed Chinese formats, 万 amounts,
options, text), then times: reading + mapping (the upload), the import job end to end (create_clients in chunks),
and exporting all the clients to .xlsx; with --followups N, then a follow-up sheet of N rows. With --batch-api N
(instead of the import), N cards of the same 40 values are posted to the batch API through the Flask test client,
1,000 a request with duplicate checks on, and the cards per second reported. Prints the figures and the process's peak memory (ru_maxrss).
The database is rebuilt (SQLite file deleted; PostgreSQL: the public schema dropped)."""
from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def workbook(rows: int, template_fields) -> bytes:
    from openpyxl import Workbook

    rnd = random.Random(7)
    text_fields = [fd for fd in template_fields if fd.type in ("text", "textarea") and not fd.sensitive][:28]
    headers = ["客户名称", "业务电话", "电子邮箱", "所属行业", "注册资本", "成立时间", "企业规模", "单位性质", "标签",
               "传真号码", "网址", "合作阶段"] + [fd.label for fd in text_fields]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("客户清单")
    ws.append(["客户清单（基准测试）"])
    ws.append(headers)
    industries = ["服装", "快消品", "贸易/进出口", "批发/零售", "家具/玩具"]
    for i in range(rows):
        date = rnd.choice([f"20{rnd.randint(10, 23)}年{rnd.randint(1, 12)}月{rnd.randint(1, 28)}日",
                           f"20{rnd.randint(10, 23)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"])
        ws.append([f"基准客户{i:06d}有限公司", f"021-{5000_0000 + i}", f"c{i}@example.cn", rnd.choice(industries),
                   f"{rnd.randint(1, 900)}万", date, "中小企业(50-500人)", "民营", "展会", f"021-{6000_0000 + i}",
                   f"https://c{i}.example.cn", "潜在"] + [f"值{i}-{n}" for n in range(len(text_fields))])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def followup_workbook(rows: int, clients: int) -> bytes:
    """Follow-up history of the benchmark's clients: name, date, method, content, feedback, author."""
    from openpyxl import Workbook

    rnd = random.Random(11)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("跟进记录")
    ws.append(["客户名称", "跟进日期", "跟进方式", "沟通内容", "客户反馈", "满意度", "跟进人"])
    for i in range(rows):
        ws.append([f"基准客户{rnd.randrange(clients):06d}有限公司", f"2024年{rnd.randint(1, 12)}月{rnd.randint(1, 28)}日",
                   rnd.choice(["电话", "拜访", "微信"]), f"第{i}次沟通：介绍新品与报价", "满意", rnd.randint(1, 5),
                   "bench@example.com"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--followups", type=int, default=0, help="then import this many follow-up rows (维护记录)")
    ap.add_argument("--batch-api", type=int, default=0, help="post this many cards to POST /api/v1/clients/batch")
    ap.add_argument("--export-clients", type=int, default=0,
                    help="before the export, copy the imported cards in SQL until the tenant has this many")
    ap.add_argument("--on-duplicate", default="create", choices=("create", "skip", "update"),
                    help="what a row matching an existing card does (skip, the form's default, checks every row)")
    args = ap.parse_args()
    if not os.environ.get("DATABASE_URL"):
        path = HERE / "imports.sqlite"
        path.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.config import Config
    from app.extensions import db
    from app.tenancy import tenant_context

    app = create_app(Config, JOBS_EAGER=True, REDIS_URL=None, SECRET_KEY="bench")
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        from app.accounts.services import create_tenant
        from app.card_templates.services import fields_by_key, load_template
        from app.imports import services as imports
        from app.imports.exports import export_list
        from app.imports.models import ImportRun
        from app.imports.reader import read_sheet
        from app.clients.listing import ListParams

        tenant, owner = create_tenant("基准公司", "老板", "bench@example.com", "bench-pass-2026-x", "zh_CN",
                                      "key_account_company")
        db.session.commit()
        tid, uid = tenant.id, owner.id
        if args.batch_api:
            return batch_api(app, tid, uid, args.batch_api)
        with tenant_context(tid):
            template = load_template()
            data = workbook(args.rows, list(fields_by_key(template, include_archived=False).values()))
            t0 = time.perf_counter()
            sheet = read_sheet("bench.xlsx", data, None, imports.known_labels(template), max_rows=10**6)
            imp = ImportRun(created_by_id=uid, filename="bench.xlsx", data=data, on_duplicate=args.on_duplicate)
            imp.mapping = imports.auto_mapping(template, sheet)
            db.session.add(imp)
            db.session.commit()
            t_read = time.perf_counter() - t0
            ncols = len(sheet.columns)
            del sheet  # the web process's part: the worker reads the upload again
            from app.accounts.models import User

            # The job runs in a fresh process, as in a worker, so its peak memory is the job's own.
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(1) as pool:
                t_import, c_import, rss_import = pool.apply(import_in_worker, (tid, uid, imp.id))
            db.session.expire_all()
            imp = db.session.get(ImportRun, imp.id)
            print(f"columns mapped: {len([v for v in imp.mapping.values() if v])} of {ncols}")
            print(f"created {imp.created}, problems {len(imp.problems)}, import {t_import:.1f} s, read {t_read:.1f} s", flush=True)
            exported = max(args.rows, args.export_clients)
            if args.export_clients > args.rows:
                copy_cards(tid, args.export_clients)
            t2 = time.perf_counter()
            out, _name, _mime = export_list(db.session.get(User, uid), ListParams(archived="all"), "xlsx", None,
                                            sensitive=False)
            db.session.commit()
            t_export = time.perf_counter() - t2
            if args.followups:
                t3 = time.perf_counter()
                fimp = ImportRun(created_by_id=uid, filename="followups.xlsx", kind="followups",
                                 data=followup_workbook(args.followups, args.rows))
                from app.imports import followups as fimports

                fsheet = read_sheet("followups.xlsx", fimp.data, None, fimports.known_labels(), max_rows=10**6)
                fimp.mapping = fimports.auto_mapping(fsheet)
                db.session.add(fimp)
                db.session.commit()
                imports.start_import(db.session.get(User, uid), fimp)
                t_fu = time.perf_counter() - t3
                fimp = db.session.get(ImportRun, fimp.id)
                print(f"| follow-ups | {args.followups} rows | {fimp.created} written, {len(fimp.problems)} reported "
                      f"| {t_fu:.1f} s ({args.followups / t_fu:.0f} rows/s) |", flush=True)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {db.engine.dialect.name} | {args.rows} rows, {args.on_duplicate} | upload check {t_read:.1f} s | import {t_import:.1f} s "
              f"({args.rows / t_import:.0f} rows/s; CPU {c_import:.1f} s) | export xlsx of {exported} clients "
              f"{t_export:.1f} s ({len(out) / 1024 / 1024:.0f} MB) | worker peak RSS {rss_import:.0f} MB | "
              f"this process {rss:.0f} MB |")


def import_in_worker(tid: int, uid: int, import_id: int) -> tuple[float, float, float]:
    """Run the import job as a worker process would: (wall s, CPU s, peak RSS MB of this process)."""
    from app import create_app
    from app.accounts.models import User
    from app.config import Config
    from app.extensions import db
    from app.imports import services as imports
    from app.imports.models import ImportRun
    from app.tenancy import tenant_context

    app = create_app(Config, JOBS_EAGER=True, REDIS_URL=None, SECRET_KEY="bench")
    with app.app_context(), tenant_context(tid):
        user, imp = db.session.get(User, uid), db.session.get(ImportRun, import_id)
        t1, c1 = time.perf_counter(), time.process_time()
        imports.start_import(user, imp)
        wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    return wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_cards(tid: int, total: int) -> None:
    """Copy the tenant's imported cards (values, search text, grade: every column the export reads) in SQL until it
    has `total`: the export's input at a scale the import would take minutes to build."""
    from sqlalchemy import func, select, text

    from app.clients.models import Client
    from app.extensions import db

    cols = "name, name_sort, stage, owner_id, tags, \"values\", search_text, completeness, grade, grade_source, " \
        "created_by_id, created_at, updated_at, version, archived_at"
    have = db.session.scalar(select(func.count()).select_from(Client).where(Client.tenant_id == tid))
    last = db.session.scalar(select(func.max(Client.id)).where(Client.tenant_id == tid))
    copy = 0
    while have < total:
        copy += 1
        db.session.execute(text(
            f"INSERT INTO client (tenant_id, number, {cols}) SELECT tenant_id, number || '/' || :copy, {cols} "
            f"FROM client WHERE tenant_id = :tid AND id <= :last ORDER BY id LIMIT :n"),
            {"tid": tid, "copy": copy, "n": total - have, "last": last})
        have = db.session.scalar(select(func.count()).select_from(Client).where(Client.tenant_id == tid))
    db.session.commit()


def batch_items(template, start: int, count: int) -> list[dict]:
    """`count` cards of the import's 40 columns, as the batch API takes them (values keyed by field key)."""
    from app.card_templates.services import fields_by_key

    fields = [fd for fd in fields_by_key(template, include_archived=False).values()]
    by_label = {fd.label: fd.key for fd in fields}
    text_keys = [fd.key for fd in fields if fd.type in ("text", "textarea") and not fd.sensitive][:28]
    rnd = random.Random(start)
    items = []
    for i in range(start, start + count):
        typed = {"业务电话": f"021-{5000_0000 + i}", "电子邮箱": f"c{i}@example.cn",
                 "所属行业": rnd.choice(["服装", "快消品", "贸易/进出口", "批发/零售", "家具/玩具"]),
                 "注册资本": f"{rnd.randint(1, 900)}万", "成立时间": f"20{rnd.randint(10, 23)}年{rnd.randint(1, 12)}月1日",
                 "企业规模": "中小企业(50-500人)", "单位性质": "民营", "传真号码": f"021-{6000_0000 + i}",
                 "网址": f"https://c{i}.example.cn"}
        values = {by_label[k]: v for k, v in typed.items() if k in by_label}
        values.update({k: f"值{i}-{n}" for n, k in enumerate(text_keys)})
        items.append({"name": f"基准客户{i:06d}有限公司", "stage": "潜在", "tags": ["展会"], "fields": values})
    return items


def batch_api(app, tid: int, uid: int, total: int) -> None:
    """POST /api/v1/clients/batch with 1,000 cards a request; prints the cards per second."""
    from app.accounts.models import User
    from app.accounts.services import create_api_token
    from app.card_templates.services import load_template
    from app.extensions import db
    from app.tenancy import tenant_context

    with tenant_context(tid):
        token = create_api_token(db.session.get(User, uid), "bench")
        db.session.commit()
        template = load_template()
        batches = [batch_items(template, start, min(1000, total - start)) for start in range(0, total, 1000)]
    client = app.test_client()
    elapsed = cpu = 0.0
    for items in batches:
        t0, c0 = time.perf_counter(), time.process_time()
        r = client.post("/api/v1/clients/batch", json={"items": items}, headers={"Authorization": f"Bearer {token}"})
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        assert r.status_code == 201, (r.status_code, r.get_data(as_text=True)[:500])
    from app.extensions import db as _db

    print(f"| {_db.engine.dialect.name} | batch API | {total} cards in {len(batches)} requests | {elapsed:.1f} s "
          f"({total / elapsed:.0f} cards/s; CPU {cpu:.1f} s) |")


if __name__ == "__main__":
    main()
