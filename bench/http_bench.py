"""HTTP benchmark: gunicorn (2 workers) on a fresh database, N concurrent API clients per operation.

    .venv/bin/python bench/http_bench.py --clients 100000                 # SQLite file bench/http.sqlite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/http_bench.py --clients 100000

The database is rebuilt (SQLite: the file is deleted; PostgreSQL: the public schema of DATABASE_URL is dropped — point
it at a database of its own), loaded with `flask seed-bench` (one big tenant of --clients clients × the default
template's ~40 filled fields, plus small tenants), then gunicorn serves it with --workers processes and --concurrency
threads drive each operation for --seconds: first page of 50 sorted by a money field; a stage filter with the same
sort; a two-character name search; create one client; update three fields of one client. Reported per operation:
requests/s, p50/p95/p99 ms, server CPU ms per request (user+system time of the gunicorn workers over the run, from
/proc), and the workers' RSS after the run. Writes a markdown table to bench/results/http-<db>.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def flask(env, *args) -> str:
    out = subprocess.run([PY, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Api:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        self.conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                          headers=self.headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data


def drive(port, token, op, seconds, concurrency, ids, stats):
    """Run `op` from `concurrency` threads for `seconds`; record latencies and errors."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    lat, errors = [], []

    def worker(n):
        api = Api(port, token)
        rng = random.Random(n)
        while time.monotonic() < stop:
            method, path, body = op(rng, ids)
            t0 = time.perf_counter()
            status, data = api.call(method, path, body)
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                if status >= 400:
                    errors.append((status, data[:200]))
                else:
                    lat.append(ms)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats.update(lat=lat, errors=errors, elapsed=time.monotonic() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100_000, help="clients in the big tenant")
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="reuse the database (no reseed)")
    args = ap.parse_args()

    env = dict(os.environ)
    url = env.get("DATABASE_URL")
    kind = "postgresql" if url and url.startswith("postgres") else "sqlite"
    if not url:
        path = HERE / "http.sqlite"
        env["DATABASE_URL"] = url = f"sqlite:///{path}"
        if not args.keep:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    elif not args.keep:
        subprocess.run(["psql", url, "-qc", "DROP SCHEMA public CASCADE; CREATE SCHEMA public"], check=True)
    env.setdefault("SECRET_KEY", "bench-secret")
    env["API_LIMIT"] = "1000000 per minute"

    t0 = time.monotonic()
    if not args.keep:
        flask(env, "db", "upgrade")
        out = flask(env, "seed-bench", "--tenants", str(args.tenants), "--clients", str(args.clients))
        print(out.strip().splitlines()[-1], f"(seeded in {time.monotonic() - t0:.0f}s)", flush=True)
    code = ("from app import create_app; from app.demo import bench_owner_email; from app.accounts.models import "
            "Tenant; from app.extensions import db; from sqlalchemy import select, func\n"
            "from app.clients.models import Client\nfrom app.tenancy import all_tenants\n"
            "app = create_app()\nwith app.app_context():\n"
            "    tid = db.session.execute(all_tenants(select(Client.tenant_id, func.count()).group_by(Client.tenant_id)"
            ".order_by(func.count().desc()).limit(1))).first()[0]\n"
            "    print(bench_owner_email(tid))\n")
    email = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    token = flask(env, "token", "create", "--email", email).strip().splitlines()[-1]

    port = free_port()
    server = subprocess.Popen([GUNICORN, "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        for _ in range(300):
            try:
                status, _body = Api(port, token).call("GET", "/template")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        api = Api(port, token)
        status, body = api.call("GET", "/template")
        fields = [f for s in json.loads(body)["sections"] for f in s["fields"] if not f["archived"]]
        money = next(f["key"] for f in fields if f["type"] == "money" and not f["sensitive"])
        texts = [f["key"] for f in fields if f["type"] == "text" and not f["sensitive"] and not f["required"]][:3]
        status, body = api.call("GET", "/clients?limit=200")
        page = json.loads(body)["items"]
        ids = [c["id"] for c in page]
        stage = page[0]["stage"]
        brands = sorted({c["name"][2:4] for c in page if len(c["name"]) > 4})  # the brand after the city: 2 chars
        required = {f["key"]: ("021-55881234" if f["type"] == "phone" else f["options"][0] if f["options"] else "x")
                    for f in fields if f["required"]}

        ops = {
            "first page of 50 sorted by a money field":
                lambda rng, ids: ("GET", f"/clients?sort=-{money}&limit=50", None),
            "stage filter + same sort":
                lambda rng, ids: ("GET", f"/clients?stage={quote(stage)}&sort=-{money}&limit=50", None),
            "two-character name search":
                lambda rng, ids: ("GET", f"/clients?q={quote(rng.choice(brands))}&limit=50", None),
            "create one client":
                lambda rng, ids: ("POST", "/clients", {"name": f"基准新建{rng.randrange(10**9)}有限公司",
                                                       "fields": required, "allow_duplicate": True}),
        }

        # An update needs the card's version: read it on each request (counted separately, not in the figures).
        def update_op(rng, ids, _api={}):
            key = threading.get_ident()
            conn = _api.setdefault(key, Api(port, token))
            cid = rng.choice(ids)
            status, body = conn.call("GET", f"/clients/{cid}")
            version = json.loads(body)["version"]
            return "PATCH", f"/clients/{cid}", {"version": version,
                                                  "fields": {k: f"值{rng.randrange(10**6)}" for k in texts}}
        ops["update three fields"] = update_op  # noqa: E731

        rows = []
        workers = children(server.pid)
        for name, op in ops.items():
            drive(port, token, op, min(3.0, args.seconds), args.concurrency, ids, {})  # warm-up
            before = cpu_seconds(workers)
            stats: dict = {}
            drive(port, token, op, args.seconds, args.concurrency, ids, stats)
            cpu = cpu_seconds(workers) - before
            lat, n = stats["lat"], len(stats["lat"])
            extra = n if name == "update three fields" else 0  # the GET of the version, served too
            rows.append({"op": name, "n": n, "errors": len(stats["errors"]), "rps": n / stats["elapsed"],
                         "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                         "cpu_ms": cpu * 1000 / max(1, n + extra), "first_error": stats["errors"][:1]})
            print(f"{name}: {rows[-1]['rps']:.1f} req/s, p50 {rows[-1]['p50']:.1f} ms, p95 {rows[-1]['p95']:.1f} ms, "
                  f"errors {len(stats['errors'])} {stats['errors'][:1]}", flush=True)
        rss = [rss_mb(pid) for pid in workers]
        # One client alone: the latency floor of the read operations.
        single = {}
        for name in list(ops)[:3]:
            stats = {}
            drive(port, token, ops[name], min(5.0, args.seconds), 1, ids, stats)
            single[name] = percentile(stats["lat"], 95)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    cpu_name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.processor())
    lines = [f"### HTTP benchmark, {kind}, {args.clients:,} clients, {args.concurrency} concurrent clients, "
             f"gunicorn {args.workers} workers",
             "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs ({cpu_name}) · "
             f"{platform.system()} {platform.release()} · Python {platform.python_version()} · "
             f"{args.seconds:.0f} s per operation",
             "",
             "| operation | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req | p95 ms, 1 client | errors |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['op']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
                     f"{r['cpu_ms']:.1f} | {single.get(r['op'], float('nan')):.1f} | {r['errors']} |")
    lines += ["", f"Worker RSS after the run: {', '.join(f'{m:.0f} MB' for m in rss)}."]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"http-{kind}.md").write_text(text)
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
