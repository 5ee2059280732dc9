"""Durable background jobs on PostgreSQL (procrastinate): each phase of a flow is one job.

`run_flow_phase(account_id, flow_id)` runs one phase (`engine.run_next_phase`, in its own
transaction, as the flow's tenant) and, when more phases follow, defers the next job inside
that same transaction: the phase's results and the job that continues the flow commit
together or not at all.  Jobs of one flow share a procrastinate `lock` (they never run at
the same time) and a `queueing_lock` (at most one waits in the queue).

Failures, and what happens to them:
- a phase raises: the engine rolls its transaction back and marks the flow failed; the job
  itself succeeds (the user retries the flow, not the queue);
- a transient database error (connection lost, deadlock, serialization): the job is retried
  with exponential backoff (RETRY), and after MAX_ATTEMPTS the flow is marked failed;
- the worker dies mid-phase (SIGKILL, OOM, power): PostgreSQL rolls the phase's transaction
  back, the job stays 'doing' and its worker stops beating its heart.  Every worker runs
  `retry_stalled_jobs` once a minute, which puts 'doing' jobs of workers silent for
  STALLED_AFTER seconds back in the queue (procrastinate's recipe for stalled jobs); the
  phase then runs again from the start.  A job that stalls MAX_ATTEMPTS times fails its flow.

Every worker also runs `prune_logins` hourly (login throttling counts older than a day).

The queue lives in the PostgreSQL schema `procrastinate` (created by the Alembic migration
`e4fa58d3eeae`); workers connect as portal_app with that schema on their search_path.
"""
from __future__ import annotations

import asyncio
import importlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate import jobs as queue_jobs
from procrastinate import manager, tasks
from procrastinate.sync_psycopg_connector import SyncPsycopgConnector
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from portal import crypto
from portal.config import Settings
from portal.auth import prune_login_attempts
from portal.db import app_role_url, make_engine, make_session_factory, session_scope
from portal.errors import NotFound
from portal.flows import engine

log = logging.getLogger(__name__)

SCHEMA = "procrastinate"
QUEUE = "flows"
RUN_FLOW_PHASE = "portal.run_flow_phase"
RETRY_STALLED = "portal.retry_stalled_jobs"
MAX_ATTEMPTS = 5  # retries of one phase's job before its flow is marked failed
RETRY = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=2)  # 2..32 s
HEARTBEAT_INTERVAL = 10.0  # seconds between a worker's heartbeats
STALLED_AFTER = 30.0  # seconds without a heartbeat before a worker's jobs are requeued
STALLED_CHECK_CRON = "* * * * *"  # every minute
PRUNE_LOGINS = "portal.prune_login_attempts"
PRUNE_LOGINS_CRON = "17 * * * *"  # hourly
# Modules that register flow types (engine.register_flow_type): workers import them.
FLOW_TYPE_MODULES: tuple[str, ...] = ("portal.discovery.flow", "portal.assessment.flow")


class TransientJobError(Exception):
    """A database hiccup during a phase: the job is retried (see RETRY)."""


# --- deferring -----------------------------------------------------------------------------

# Defers only on connections it is handed (never opens a pool of its own).
_EXTERNAL = manager.JobManager(SyncPsycopgConnector())


def enqueue_flow(session_or_conn: Session | Connection, account_id, flow_id) -> int | None:
    """Queue the flow's next phase IN THE CALLER'S TRANSACTION (procrastinate defers on an
    external connection): a rolled-back start leaves no job, and the job cannot run before
    the flow's rows are committed.  Returns the job id, or None when the flow already has a
    job waiting (that one will run the phase)."""
    key = f"flow:{flow_id}"
    try:
        # In a savepoint: a refused duplicate must not abort the caller's transaction.
        with session_or_conn.begin_nested(), _queue_on_search_path(session_or_conn):
            deferrer = tasks.configure_task(
                name=RUN_FLOW_PHASE, job_manager=_EXTERNAL, queue=QUEUE, lock=key,
                queueing_lock=key, connection=_driver_connection(session_or_conn))
            return deferrer.defer(account_id=str(account_id), flow_id=str(flow_id))
    except queue_errors.AlreadyEnqueued:
        return None


def _driver_connection(session_or_conn: Session | Connection):
    connection = session_or_conn.connection() if isinstance(session_or_conn, Session) \
        else session_or_conn
    return connection.connection.driver_connection


@contextmanager
def _queue_on_search_path(db: Session | Connection) -> Iterator[None]:
    """The queue's schema first on the search path for the defer (procrastinate's SQL names
    its objects without a schema), then the caller's path again."""
    previous = db.execute(text("SELECT current_setting('search_path')")).scalar()
    _set_search_path(db, f"{SCHEMA}, {previous}")
    yield
    _set_search_path(db, previous)  # on an error, the savepoint's rollback restores it


def _set_search_path(db: Session | Connection, path: str) -> None:
    db.execute(text("SELECT set_config('search_path', :path, true)"), {"path": path})


# --- the tasks -----------------------------------------------------------------------------

def run_flow_phase(context: procrastinate.JobContext, account_id: str, flow_id: str) -> str:
    """Job: run the flow's next phase; defer the following one in the same transaction."""
    sessions: sessionmaker[Session] = context.additional_context["sessions"]

    def defer_next(session: Session, outcome: str) -> None:
        if outcome == "continue":
            enqueue_flow(session, account_id, flow_id)

    try:
        return engine.run_next_phase(sessions, account_id, flow_id, before_commit=defer_next)
    except NotFound:
        log.warning("flow %s of account %s no longer exists: nothing to run", flow_id,
                    account_id)
        return "gone"
    except Exception as exc:
        if not engine.is_transient(exc):
            raise
        if context.job.attempts >= MAX_ATTEMPTS:
            _give_up(sessions, account_id, flow_id, exc, "The database could not complete "
                     "this step after several attempts. Retry the flow to run it again.")
            raise
        raise TransientJobError(f"{type(exc).__name__}: will retry") from exc


async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Periodic job: requeue the jobs of workers that stopped beating their heart."""
    return await requeue_stalled_jobs(context.app, context.additional_context["sessions"])


def prune_logins(context: procrastinate.JobContext, timestamp: int) -> int:
    """Periodic job: forget login attempts older than any throttling window (the table
    would otherwise keep every attempt ever made); returns how many."""
    with session_scope(context.additional_context["sessions"]) as session:
        return prune_login_attempts(session)


async def requeue_stalled_jobs(app: procrastinate.App, sessions: sessionmaker[Session], *,
                               stalled_after: float = STALLED_AFTER) -> int:
    """Put back in the queue every 'doing' job whose worker has been silent for
    `stalled_after` seconds (or was pruned); a flow job that stalled too often fails its
    flow instead.  Returns how many jobs were requeued."""
    requeued = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        if job.task_name == RUN_FLOW_PHASE and job.attempts >= MAX_ATTEMPTS:
            await _finish_failed(app, job)
            await asyncio.to_thread(
                _give_up, sessions, job.task_kwargs["account_id"], job.task_kwargs["flow_id"],
                RuntimeError("worker stopped"), "The worker running this step stopped "
                f"{job.attempts + 1} times (it may run out of memory on this data). Retry "
                "the flow to try again.")
            continue
        try:
            await app.job_manager.retry_job(job)
            requeued += 1
        except queue_errors.UniqueViolation:
            # The phase had committed and queued its successor before the worker died:
            # that job carries the flow on.
            await _finish_failed(app, job)
    return requeued


async def _finish_failed(app: procrastinate.App, job: queue_jobs.Job) -> None:
    await app.job_manager.finish_job_by_id_async(
        job_id=job.id, status=queue_jobs.Status.FAILED, delete_job=False)


def _give_up(sessions, account_id, flow_id, exc: BaseException, message: str) -> None:
    try:
        engine.fail_flow(sessions, account_id, flow_id, exc, message)
    except Exception:
        log.exception("could not mark flow %s failed", flow_id)


# --- the app and its workers -----------------------------------------------------------

def make_app(app_url: str, *, periodic: bool = True) -> procrastinate.App:
    """A procrastinate app on the application role's database URL (SQLAlchemy form), with
    the queue's schema on its connections' search path."""
    conninfo = make_url(app_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo, kwargs={"options": f"-c search_path={SCHEMA}"}))
    app.task(name=RUN_FLOW_PHASE, queue=QUEUE, pass_context=True, retry=RETRY)(run_flow_phase)
    stalled = app.task(name=RETRY_STALLED, queue=QUEUE, pass_context=True,
                       queueing_lock=RETRY_STALLED)(retry_stalled_jobs)
    prune = app.task(name=PRUNE_LOGINS, queue=QUEUE, pass_context=True,
                     queueing_lock=PRUNE_LOGINS)(prune_logins)
    if periodic:
        app.periodic(cron=STALLED_CHECK_CRON, periodic_id="stalled")(stalled)
        app.periodic(cron=PRUNE_LOGINS_CRON, periodic_id="logins")(prune)
    return app


def load_flow_types(modules: tuple[str, ...] = FLOW_TYPE_MODULES) -> None:
    """Import the modules that register flow types, so jobs can run their phases."""
    for module in modules:
        importlib.import_module(module)


def worker_sessions(app_url: str, concurrency: int) -> sessionmaker[Session]:
    """Sessions for the jobs: one connection per running phase and one for its progress."""
    return make_session_factory(make_engine(app_url, pool_size=concurrency + 1,
                                            max_overflow=concurrency + 1))


def run_worker(settings: Settings, concurrency: int = 2, **options) -> None:
    """Run a worker until SIGINT/SIGTERM (blocking).  `settings.database_url` is the admin
    URL; the worker connects as portal_app.  `options` go to procrastinate's worker
    (e.g. wait=False to stop once the queue is empty)."""
    crypto.configure(settings.encryption_key, settings.lookup_key)
    load_flow_types()
    app_url = app_role_url(settings.database_url, settings.app_db_password)
    sessions = worker_sessions(app_url, concurrency)
    try:
        make_app(app_url).run_worker(**worker_options(sessions, concurrency) | options)
    finally:
        sessions.kw["bind"].dispose()


def worker_options(sessions: sessionmaker[Session], concurrency: int) -> dict:
    return {"queues": [QUEUE], "concurrency": concurrency, "name": f"portal-{uuid.uuid4().hex[:6]}",
            "additional_context": {"sessions": sessions}, "delete_jobs": "successful",
            "update_heartbeat_interval": HEARTBEAT_INTERVAL,
            "stalled_worker_timeout": STALLED_AFTER, "shutdown_graceful_timeout": 30.0}
