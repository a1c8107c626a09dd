"""Benchmark of the client list, active search and card page on a fresh database.

    .venv/bin/python bench/run.py                       # 100,000 clients + 1,000 small tenants, SQLite file
    .venv/bin/python bench/run.py --clients 20000 --tenants 200
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/run.py --clients 20000

The database is rebuilt from the migrations (SQLite: bench/bench.sqlite is deleted; PostgreSQL: the public schema
of DATABASE_URL is dropped — point it at a database of its own). Requests go through the Flask test client, signed
in as the big tenant's owner, so the figures are server time (routing, queries, templates), without network.
Prints a markdown table and writes it to bench/results/latest.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def measure(client, urls: list[str], headers=None, warmup: int = 10) -> tuple[list[float], int]:
    """Milliseconds per request over `urls` (after a warm-up); also the last status code."""
    status = 0
    for url in urls[:warmup]:
        client.get(url, headers=headers)
    times = []
    for url in urls:
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        status = r.status_code
        if status != 200:
            break
    return times, status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100_000)
    ap.add_argument("--tenants", type=int, default=1_000)
    ap.add_argument("--small-clients", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="reuse the existing database (no reseed)")
    args = ap.parse_args()

    url = os.environ.get("DATABASE_URL")
    sqlite_path = HERE / "bench.sqlite"
    if not url:
        url = f"sqlite:///{sqlite_path}"
        os.environ["DATABASE_URL"] = url
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(sqlite_path) + suffix).unlink(missing_ok=True)
    os.environ.setdefault("SECRET_KEY", "bench-secret")

    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from app import create_app
    from app.config import Config
    from app.extensions import db

    app = create_app(Config, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    dialect = "postgresql" if url.startswith("postgres") else "sqlite"
    with app.app_context():
        if not args.keep:
            if dialect == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            upgrade()
            from app.demo import seed_bench

            t0 = time.monotonic()
            big_id = seed_bench(args.tenants, args.clients, args.small_clients, echo=print)
            seed_seconds = time.monotonic() - t0
            if dialect == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            else:
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
        else:
            from app.accounts.models import Tenant

            big_id = db.session.execute(select(Tenant.id).order_by(Tenant.id)).scalars().first()
            seed_seconds = None
        from app.clients.models import Client
        from app.demo import BENCH_PASSWORD, TRADES, WORDS, bench_owner_email
        from app.tenancy import all_tenants, tenant_context

        email = bench_owner_email(big_id)
        with tenant_context(big_id):
            ids = db.session.scalars(select(Client.id).order_by(func.random()).limit(args.requests)).all()
            n_big = db.session.execute(select(func.count(Client.id))).scalar_one()
        n_all = db.session.execute(all_tenants(select(func.count(Client.id)))).scalar_one()
        db.session.remove()

    client = app.test_client()
    r = client.post("/login", data={"email": email, "password": BENCH_PASSWORD})
    assert r.status_code == 302, r.status_code
    rng = random.Random(1)
    industries = list(TRADES)
    n = args.requests
    cases = []
    list_urls = [f"/clients/?field=industry&option={rng.choice(industries)}&sort=annual_amount&dir=desc"
                 for _ in range(n)]
    cases.append(("List: filter on a select field (industry), sort by a money field, 50 rows", list_urls, None))
    list_urls2 = [f"/clients/?field=industry&option={rng.choice(industries)}&sort=name" for _ in range(n)]
    cases.append(("List: filter on a select field (industry), sort by name, 50 rows", list_urls2, None))
    list_urls3 = ["/clients/" for _ in range(n)]
    cases.append(("List: first page, default sort (updated), 50 rows", list_urls3, None))
    search_urls = [f"/clients/?q={rng.choice(WORDS)}{rng.choice(WORDS)}" for _ in range(n)]
    cases.append(("Active search on a name fragment (htmx partial)", search_urls, {"HX-Request": "true"}))
    from pypinyin import Style, lazy_pinyin

    def q(term):
        return "/clients/?q=" + quote(term)
    words = [rng.choice(WORDS) for _ in range(n)]
    cases.append(("Search: two Chinese characters (华光)", [q(w) for w in words], {"HX-Request": "true"}))
    cases.append(("Search: pinyin initials (hg)",
                  [q("".join(lazy_pinyin(w, style=Style.FIRST_LETTER))) for w in words], {"HX-Request": "true"}))
    cases.append(("Search: full pinyin (huaguang)", [q("".join(lazy_pinyin(w))) for w in words],
                  {"HX-Request": "true"}))
    cases.append(("Search: two words, both must match (华光 贸易)",
                  [q(f"{w} {rng.choice(list(TRADES.values()))[:2]}") for w in words], {"HX-Request": "true"}))
    cases.append(("List: sort by name in pinyin order, first page", ["/clients/?sort=name"] * n, None))
    count_urls = [f"/clients/count?field=industry&option={rng.choice(industries)}" for _ in range(n)]
    cases.append(("Lazy total for the filtered list (count, loaded after the rows)", count_urls, {"HX-Request": "true"}))
    card_urls = [f"/clients/{cid}" for cid in ids] or ["/clients/1"]
    cases.append(("Card page", card_urls, None))

    lines = [f"# Benchmark — {dialect}", "",
             f"- big tenant: {n_big:,} clients (~60 filled fields each); all tenants together: {n_all:,} clients "
             f"in {args.tenants + 1:,} tenants",
             f"- {n} requests per row (after 10 warm-up requests), Flask test client, one process; "
             f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs",
             f"- seeding took {seed_seconds:.0f} s" if seed_seconds is not None else "- reused an existing database",
             "", "| request | p50 ms | p95 ms | max ms | n |", "|---|---:|---:|---:|---:|"]
    notes = []
    for label, urls, headers in cases:
        times, status = measure(client, urls, headers)
        if status != 200:
            notes.append(f"- {label}: skipped, the server answered {status} (not available yet).")
            continue
        lines.append(f"| {label} | {statistics.median(times):.1f} | {percentile(times, 95):.1f} | "
                     f"{max(times):.1f} | {len(times)} |")
    lines += [""] + notes
    report = "\n".join(lines) + "\n"
    print(report)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.md").write_text(report, encoding="utf-8")
    (HERE / "results" / f"{dialect}-{args.clients}.md").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
