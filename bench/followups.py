"""Benchmark of grading, Today and the quarterly review on the benchmark data of bench/run.py.

    .venv/bin/python bench/followups.py                     # 100,000 clients, SQLite file bench/followups.sqlite
    .venv/bin/python bench/followups.py --clients 20000
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/followups.py

Seeds one tenant with bulk INSERTs (clients with an annual amount and its value-index row, graded by the default
rules), gives 5,000 of its clients to one member, writes two follow-ups per client, then measures: the preview and the re-grade of every client after a rule change (one
transaction), the Today page of the member with 5,000 clients (p50/p95 over --requests requests, through the Flask
test client), and the quarter's review of the whole tenant. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-pass-2026"
sys.path.insert(0, str(HERE.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--mine", type=int, default=5_000, help="clients owned by the member whose Today is measured")
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        path = HERE / "followups.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("SECRET_KEY", "bench-secret")

    from flask_migrate import upgrade
    from sqlalchemy import select, text, update

    from app import create_app
    from app.accounts.models import User
    from app.accounts.services import add_user
    from app.clients.models import Client
    from app.config import Config
    from app.accounts.services import create_tenant
    from app.clients.models import ClientFieldValue
    from app.db_types import utcnow
    from app.followups.grading import DEFAULT_RULES, grade_for
    from app.extensions import db
    from app.followups import review as rv
    from app.followups import services as fs
    from app.followups.contacts import rebuild_contacts
    from app.followups.models import FollowUp
    from app.tenancy import tenant_context

    app = create_app(Config, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    dialect = "postgresql" if url.startswith("postgres") else "sqlite"
    rows = []
    with app.app_context():
        if dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        tenant, owner = create_tenant("基准公司", "老板", "bench-owner@bench.local", PASSWORD, "zh_CN",
                                      "key_account_company")
        big = tenant.id
        db.session.commit()
        with tenant_context(big):
            member = add_user("bench-member@bench.local", PASSWORD, "member", "基准")
            db.session.flush()
            rng = random.Random(3)
            now = utcnow()
            for start in range(0, args.clients, 10000):
                seed, amounts = [], []
                for i in range(start, min(args.clients, start + 10000)):
                    amount = rng.choice([None, rng.randint(0, 2_000_000)])
                    values = {"annual_amount": amount} if amount is not None else {}
                    grade = grade_for(DEFAULT_RULES, values)
                    seed.append({"tenant_id": big, "number": f"B{i:07d}", "name": f"基准客户{i}", "stage": "成交",
                                 "grade": grade, "grade_source": "rule" if grade else None, "owner_id": owner.id,
                                 "tags": [], "values": values, "search_text": f"基准客户{i}", "completeness": 0.1,
                                 "version": 1, "created_by_id": owner.id,
                                 "created_at": now - timedelta(days=rng.randint(0, 700)), "updated_at": now})
                    amounts.append(amount)
                db.session.execute(Client.__table__.insert(), seed)
                numbers = [r["number"] for r in seed]
                id_of = {n: i for n, i in db.session.execute(select(Client.number, Client.id)
                                                             .where(Client.number.in_(numbers)))}
                db.session.execute(ClientFieldValue.__table__.insert(), [
                    {"tenant_id": big, "client_id": id_of[n], "key": "annual_amount", "num": float(a), "txt": None}
                    for n, a in zip(numbers, amounts) if a is not None])
            ids = db.session.scalars(select(Client.id).order_by(Client.id)).all()
            mine = ids[:args.mine]
            for start in range(0, len(mine), 1000):
                db.session.execute(update(Client).where(Client.id.in_(mine[start:start + 1000]))
                                   .values(owner_id=member.id), execution_options={"synchronize_session": False})
            today = fs.local_today()
            batch = []
            for cid in ids:
                for _ in range(2):
                    when = today - timedelta(days=rng.randint(0, 400))
                    batch.append({"tenant_id": big, "client_id": cid, "date": when, "method": "电话",
                                  "content": "回访", "feedback": "", "plan": "", "author_id": member.id,
                                  "next_date": when + timedelta(days=30) if rng.random() < 0.3 else None,
                                  "satisfaction": rng.randint(1, 5)})
                if len(batch) >= 20000:
                    db.session.execute(FollowUp.__table__.insert(), batch)
                    batch = []
            if batch:
                db.session.execute(FollowUp.__table__.insert(), batch)
            rebuild_contacts()  # the bulk INSERTs bypassed the services that keep the contact summary
            db.session.commit()
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
            owner = db.session.get(User, owner.id)
            new = {"field": "annual_amount", "grades": [{"name": "A", "min": 300000}, {"name": "B", "min": 80000},
                                                        {"name": "C", "min": None}],
                   "cadence_days": {"A": 30, "B": 90, "C": 180}}
            t0 = time.perf_counter()
            moves = fs.grade_moves(fs.validate_rules(new))
            preview = time.perf_counter() - t0
            t0 = time.perf_counter()
            _rules, n = fs.save_rules_and_regrade(owner, new)
            db.session.commit()
            regrade = time.perf_counter() - t0
            rows.append((f"Preview a rule change ({len(ids):,} clients, {len(moves):,} move)", f"{preview:.2f} s"))
            rows.append((f"Re-grade {len(ids):,} clients in one transaction ({n:,} changed, history written)",
                         f"{regrade:.2f} s"))
            quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
            t0 = time.perf_counter()
            rv.build_review(owner, quarter)
            review = time.perf_counter() - t0
            rows.append((f"Quarterly review of the whole tenant ({len(ids):,} clients)", f"{review:.2f} s"))
            email = member.email
        db.session.remove()
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    times = []
    for i in range(args.requests + 5):
        t0 = time.perf_counter()
        r = client.get("/home")
        assert r.status_code == 200
        if i >= 5:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50, p95 = times[len(times) // 2], times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    rows.append((f"Today page of a member with {args.mine:,} clients", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"))
    print(f"\n| {dialect} | |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
