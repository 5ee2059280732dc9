"""Serving with gunicorn (threaded workers), configured from Python, and the background job
worker that `portal serve` runs beside it."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gunicorn.app.base import BaseApplication

from portal.config import Settings


class PortalServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from portal import create_app

        return create_app(settings=self.settings)


def run_gunicorn(settings: Settings, host: str, port: int, workers: int) -> None:
    PortalServer(settings, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "accesslog": "-",
        "timeout": 120,
        "graceful_timeout": 10,
        "control_socket_disable": True,  # no control socket in the home directory
    }).run()


WORKER_STOP_SECONDS = 15  # then SIGKILL: safe, an interrupted phase rolls back and reruns


@contextmanager
def worker_process(database_url: str, concurrency: int) -> Iterator[subprocess.Popen]:
    """`portal worker` as a child process for the duration of the block, on the same
    database (DATABASE_URL, so it never starts or stops an embedded server itself).
    Stopped by this process only: a gunicorn worker, forked inside the block, leaves it
    through this same code when it exits."""
    process = subprocess.Popen(
        [sys.executable, "-m", "portal", "worker", "--concurrency", str(concurrency)],
        env={**os.environ, "DATABASE_URL": database_url})
    parent = os.getpid()
    try:
        yield process
    finally:
        if os.getpid() == parent:
            stop_process(process)


def stop_process(process: subprocess.Popen, timeout: float = WORKER_STOP_SECONDS) -> None:
    """SIGTERM (the worker finishes its running phases), then SIGKILL after `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
