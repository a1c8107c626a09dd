"""Run ClientCard the way users and operators do: `flask --app wsgi ...` and `gunicorn wsgi:app` in real
processes, from the repository root, configured only through the environment."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(**settings: str) -> dict:
    """The test runner's environment with these settings; no inherited REDIS_URL unless given."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_APP")}
    env.update({"SECRET_KEY": "process-test-secret", "PYTHONUNBUFFERED": "1"}, **settings)
    return env


def flask_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS` in a subprocess; stdout and stderr are captured as text."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@contextmanager
def gunicorn(env: dict, log_path: Path, startup_seconds: float = 30):
    """A `gunicorn wsgi:app` on a free port: yields its base URL once /healthz answers; always stopped."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN_DIR / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
                                 "--graceful-timeout", "2", "wsgi:app"],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(base_url + "/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # still booting (slowly, on a busy machine)
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not answer /healthz:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
