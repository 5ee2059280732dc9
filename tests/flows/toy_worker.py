"""A queue worker that knows the toy flow types, run as its own process by the job tests
(so they can SIGKILL it):  python -m tests.flows.toy_worker APP_ROLE_URL"""
from __future__ import annotations

import sys

from portal.flows import jobs
from tests.flows import toy  # noqa: F401  (registers the toy flow types)


def main(app_url: str) -> None:
    sessions = jobs.worker_sessions(app_url, 1)
    jobs.make_app(app_url, periodic=False).run_worker(**jobs.worker_options(sessions, 1))


if __name__ == "__main__":
    main(sys.argv[1])
