"""Serving with gunicorn (threaded workers), configured from Python."""
from __future__ import annotations

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
