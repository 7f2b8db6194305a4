"""A live ``gunicorn radimmuno.wsgi`` for the benchmarks that measure the production stack (load.py, export.py)."""
import contextlib
import http.client
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def gunicorn(env, port, *options):
    """Start gunicorn on 127.0.0.1:``port`` with ``env`` and ``options``; yields the master process once it answers."""
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "radimmuno.wsgi", *options,
                               "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], env=env, cwd=ROOT)
    try:
        wait_for(port)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def get(port, url, headers):
    """``GET url`` on a fresh connection: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", url, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def wait_for(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/accounts/login/")
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")
