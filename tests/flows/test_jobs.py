"""Durable jobs: flows driven through procrastinate's queue in PostgreSQL by real workers
(in this process, or a separate one that gets SIGKILLed mid-phase), connected as portal_app."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import text

from portal.config import PROJECT_ROOT
from portal.db import session_scope
from portal.flows import engine, jobs
from portal.server import worker_process
from tests.conftest import _conninfo

QUEUE_TABLES = {"procrastinate_events", "procrastinate_jobs", "procrastinate_periodic_defers",
                "procrastinate_workers"}


@pytest.fixture(scope="module")
def queue_db(admin_url):
    """Superuser connection, to look into the queue's tables and stage stalled jobs."""
    with psycopg.connect(_conninfo(admin_url), autocommit=True) as conn:
        yield conn


@pytest.fixture(autouse=True)
def empty_queue(queue_db):
    queue_db.execute("DELETE FROM procrastinate.procrastinate_jobs")
    queue_db.execute("DELETE FROM procrastinate.procrastinate_workers")


def jobs_of(queue_db, flow_id) -> list[tuple]:
    return queue_db.execute(
        "SELECT status::text, attempts, lock, queueing_lock, queue_name, task_name, args "
        "FROM procrastinate.procrastinate_jobs WHERE args->>'flow_id' = %s ORDER BY id",
        (str(flow_id),)).fetchall()


def start_and_enqueue(flows, tenant, **config) -> uuid.UUID:
    with session_scope(flows.sessions, tenant.context) as s:
        master = engine.start_flow(s, tenant.account_id, tenant.engagement_id, tenant.user_id,
                                   "toy", "Queued toy", config, {})
        assert jobs.enqueue_flow(s, tenant.account_id, master.flow_id) is not None
    return master.flow_id


def act_and_enqueue(flows, tenant, action: str, flow_id) -> None:
    with session_scope(flows.sessions, tenant.context) as s:
        getattr(engine, f"{action}_flow")(s, tenant.account_id, flow_id, tenant.user_id)
        jobs.enqueue_flow(s, tenant.account_id, flow_id)


def drain(app_url, sessions) -> None:
    """A real worker, in this process, until the queue has nothing to run now."""
    jobs.make_app(app_url, periodic=False).run_worker(**jobs.worker_options(sessions, 1) | {
        "wait": False, "install_signal_handlers": False, "listen_notify": False})


async def _requeue(app_url, sessions, stalled_after: float) -> int:
    app = jobs.make_app(app_url, periodic=False)
    async with app.open_async():
        return await jobs.requeue_stalled_jobs(app, sessions, stalled_after=stalled_after)


def requeue(app_url, sessions, stalled_after: float = 1.0) -> int:
    return asyncio.run(_requeue(app_url, sessions, stalled_after))


def test_the_queue_has_its_own_schema_and_portal_app_only_what_it_needs(queue_db):
    tables = queue_db.execute(
        "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname LIKE 'procrastinate%%' AND c.relkind = 'r'").fetchall()
    assert {(schema, owner) for schema, _, owner in tables} == {("procrastinate", "portal_owner")}
    assert {name for _, name, _ in tables} == QUEUE_TABLES

    def may(table: str, privilege: str) -> bool:
        return queue_db.execute("SELECT has_table_privilege('portal_app', %s, %s)",
                                (f"procrastinate.{table}", privilege)).fetchone()[0]

    assert all(may("procrastinate_jobs", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE"))
    assert may("procrastinate_events", "INSERT") and not may("procrastinate_events", "UPDATE")
    assert not may("procrastinate_events", "DELETE") and not may("procrastinate_jobs", "TRUNCATE")
    assert queue_db.execute(
        "SELECT has_function_privilege('portal_app', "
        "'procrastinate.procrastinate_fetch_job_v2(character varying[], bigint)', 'EXECUTE')"
    ).fetchone()[0]
    public_functions = queue_db.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'procrastinate' AND (p.proacl IS NULL OR EXISTS ("
        "  SELECT 1 FROM unnest(p.proacl) item WHERE item::text LIKE '=%%'))").fetchall()
    assert public_functions == []


def test_enqueue_joins_the_callers_transaction(flows, tenant, queue_db):
    with flows.sessions(info={"tenant": tenant.context}) as s:
        master = engine.start_flow(s, tenant.account_id, tenant.engagement_id, tenant.user_id,
                                   "toy", "Rolled back", {}, {})
        assert jobs.enqueue_flow(s, tenant.account_id, master.flow_id) is not None
        assert len(jobs_of(queue_db, master.flow_id)) == 0  # not committed: invisible
        s.rollback()
    assert jobs_of(queue_db, master.flow_id) == []  # a rolled-back start leaves no job

    with session_scope(flows.sessions, tenant.context) as s:
        path = s.scalar(text("SHOW search_path"))
        master = engine.start_flow(s, tenant.account_id, tenant.engagement_id, tenant.user_id,
                                   "toy", "Committed", {}, {})
        assert isinstance(jobs.enqueue_flow(s, tenant.account_id, master.flow_id), int)
        # A second job for the same flow is refused without breaking the transaction.
        assert jobs.enqueue_flow(s, tenant.account_id, master.flow_id) is None
        assert s.scalar(text("SHOW search_path")) == path
        assert s.scalar(text("SELECT count(*) FROM master_flows")) >= 1
    key = f"flow:{master.flow_id}"
    assert jobs_of(queue_db, master.flow_id) == [
        ("todo", 0, key, key, "flows", jobs.RUN_FLOW_PHASE,
         {"account_id": str(tenant.account_id), "flow_id": str(master.flow_id)})]


def test_a_worker_drives_a_flow_to_completion_from_the_queue(flows, tenant, app_url,
                                                             queue_db):
    flow_id = start_and_enqueue(flows, tenant)
    drain(app_url, flows.sessions)
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status, master.progress_percentage) == \
        ("completed", "completed", 100)
    assert [h.agent_name for h in flows.history(tenant, flow_id)] == ["a", "b", "c"]
    assert jobs_of(queue_db, flow_id) == []  # three jobs ran and succeeded (then deleted)
    assert flows.calls(flow_id) == {"a": 1, "b": 1, "c": 1}
    assert flows.mismatches() == 0


def test_a_pause_for_review_ends_the_chain_and_resume_queues_it_again(flows, tenant,
                                                                      app_url, queue_db):
    flow_id = start_and_enqueue(flows, tenant, pause_after="a")
    drain(app_url, flows.sessions)
    assert flows.flow(tenant, flow_id)[0].flow_status == "paused"
    assert jobs_of(queue_db, flow_id) == []
    act_and_enqueue(flows, tenant, "resume", flow_id)
    drain(app_url, flows.sessions)
    assert flows.flow(tenant, flow_id)[0].flow_status == "completed"
    assert flows.calls(flow_id) == {"a": 1, "b": 1, "c": 1}


def test_a_failing_phase_fails_the_flow_not_the_job_and_retry_resumes(flows, tenant,
                                                                      app_url, queue_db):
    flow_id = start_and_enqueue(flows, tenant, fail_in="b")
    drain(app_url, flows.sessions)
    master, _ = flows.flow(tenant, flow_id)
    assert (master.flow_status, master.error_details["phase"]) == ("failed", "b")
    assert jobs_of(queue_db, flow_id) == []  # the job itself succeeded
    act_and_enqueue(flows, tenant, "retry", flow_id)
    drain(app_url, flows.sessions)
    assert flows.flow(tenant, flow_id)[0].flow_status == "completed"
    assert flows.calls(flow_id) == {"a": 1, "b": 2, "c": 1}


def test_a_transient_database_error_is_retried_by_the_queue(flows, tenant, app_url,
                                                            queue_db):
    flow_id = start_and_enqueue(flows, tenant, transient_in="b")
    drain(app_url, flows.sessions)
    master, _ = flows.flow(tenant, flow_id)
    assert (master.flow_status, master.current_phase) == ("running", "b")
    assert flows.rows(tenant, flow_id) == [f"a:{i}" for i in range(3)]  # b rolled back
    [(status, attempts, *_)] = jobs_of(queue_db, flow_id)
    assert (status, attempts) == ("todo", 1)
    scheduled = queue_db.execute(
        "SELECT scheduled_at FROM procrastinate.procrastinate_jobs").fetchone()[0]
    time.sleep(max(0.0, (scheduled - datetime.now(timezone.utc)).total_seconds()) + 0.1)
    drain(app_url, flows.sessions)
    assert flows.flow(tenant, flow_id)[0].flow_status == "completed"
    assert flows.calls(flow_id) == {"a": 1, "b": 2, "c": 1}


def test_a_worker_killed_mid_phase_is_requeued_and_ends_like_an_uninterrupted_run(
        flows, tenant, app_url, queue_db, tmp_path):
    """The real thing: a worker process is SIGKILLed while phase b's transaction is open
    (its rows written, not committed).  Then a stalled-job sweep requeues the job, another
    worker reruns phase b, and the database ends exactly as for an uninterrupted run."""
    marker = tmp_path / "b-wrote-rows"
    flow_id = start_and_enqueue(flows, tenant, hang_in="b", marker=str(marker))
    with open(tmp_path / "worker.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.flows.toy_worker", app_url],
                                   cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert process.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "worker.log").read_text()
            time.sleep(0.05)
        assert flows.rows(tenant, flow_id) == [f"a:{i}" for i in range(3)]  # b uncommitted
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert [row[:2] for row in jobs_of(queue_db, flow_id)] == [("doing", 0)]
    time.sleep(1.1)  # the dead worker's last heartbeat is now older than 1 s
    assert requeue(app_url, flows.sessions, stalled_after=1.0) == 1
    drain(app_url, flows.sessions)
    assert flows.flow(tenant, flow_id)[0].flow_status == "completed"

    other = flows.tenant()
    uninterrupted = start_and_enqueue(flows, other)
    drain(app_url, flows.sessions)
    assert flows.state(tenant, flow_id) == flows.state(other, uninterrupted)
    assert flows.mismatches() == 0


def _stall(queue_db, flow_id, attempts: int = 0) -> None:
    """Make the flow's waiting job look taken by a worker that has since vanished."""
    queue_db.execute("UPDATE procrastinate.procrastinate_jobs SET status = 'doing', "
                     "attempts = %s, worker_id = NULL WHERE args->>'flow_id' = %s",
                     (attempts, str(flow_id)))


def test_a_stalled_job_whose_successor_is_queued_is_closed_not_requeued(flows, tenant,
                                                                        app_url, queue_db):
    flow_id = start_and_enqueue(flows, tenant)
    _stall(queue_db, flow_id)
    with session_scope(flows.sessions, tenant.context) as s:
        assert jobs.enqueue_flow(s, tenant.account_id, flow_id) is not None
    assert requeue(app_url, flows.sessions) == 0
    assert [row[:2] for row in jobs_of(queue_db, flow_id)] == [("failed", 1), ("todo", 0)]
    drain(app_url, flows.sessions)
    assert flows.flow(tenant, flow_id)[0].flow_status == "completed"


def test_a_job_that_stalls_too_often_fails_its_flow(flows, tenant, app_url, queue_db):
    flow_id = start_and_enqueue(flows, tenant)
    assert engine.run_next_phase(flows.sessions, tenant.account_id, flow_id) == "continue"
    _stall(queue_db, flow_id, attempts=jobs.MAX_ATTEMPTS)
    assert requeue(app_url, flows.sessions) == 0
    assert [row[0] for row in jobs_of(queue_db, flow_id)] == ["failed"]
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status, master.error_details["phase"]) == \
        ("failed", "failed", "b")
    assert "worker running this step stopped" in master.error_details["message"]
    assert flows.mismatches() == 0


def test_a_job_for_a_flow_that_is_gone_finishes_quietly(flows, tenant, app_url, queue_db):
    missing = uuid.uuid4()
    with session_scope(flows.sessions, tenant.context) as s:
        jobs.enqueue_flow(s, tenant.account_id, missing)
    drain(app_url, flows.sessions)
    assert jobs_of(queue_db, missing) == []  # succeeded (and deleted), not failed


# The periodic sweep was deferred, and no job of it is left waiting, running or failed
# (succeeded jobs are deleted).
SWEPT = ("SELECT EXISTS (SELECT 1 FROM procrastinate.procrastinate_periodic_defers "
         f"WHERE task_name = '{jobs.RETRY_STALLED}') AND NOT EXISTS ("
         "SELECT 1 FROM procrastinate.procrastinate_jobs "
         f"WHERE task_name = '{jobs.RETRY_STALLED}' AND status <> 'succeeded')")


def test_portal_worker_runs_beside_serve_and_stops_cleanly(admin_url, queue_db, tmp_path,
                                                          monkeypatch):
    """`portal serve` starts `portal worker` through this helper: the worker registers
    itself in the queue as portal_app, and unregisters when it is stopped."""
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    registered = "SELECT count(*) FROM procrastinate.procrastinate_workers"
    listening = ("SELECT usename FROM pg_stat_activity WHERE datname = current_database() "
                 "AND query LIKE 'LISTEN %%procrastinate%%'")
    with worker_process(admin_url, concurrency=1) as process:
        deadline = time.monotonic() + 30
        while not (queue_db.execute(registered).fetchone()[0]
                   and queue_db.execute(listening).fetchall()):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert queue_db.execute(listening).fetchall() == [("portal_app",)]
        # Its periodic sweep for stalled jobs was queued at start, and ran without failing.
        while not queue_db.execute(SWEPT).fetchone()[0]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert process.returncode == 0
    assert queue_db.execute(registered).fetchone()[0] == 0


def test_an_hourly_job_forgets_login_attempts_older_than_a_day(app_url, flows, queue_db):
    app = jobs.make_app(app_url)
    [hourly] = [p for p in app.periodic_registry.periodic_tasks.values()
                if p.task.name == jobs.PRUNE_LOGINS]
    assert hourly.cron == jobs.PRUNE_LOGINS_CRON == "17 * * * *"
    marker = uuid.uuid4().hex[:12]
    queue_db.execute(
        "INSERT INTO login_attempts (email_hash, succeeded, attempted_at) VALUES "
        "(%s, false, now() - interval '25 hours'), (%s, false, now() - interval '23 hours')",
        (f"old-{marker}", f"new-{marker}"))
    with app.open():
        app.configure_task(jobs.PRUNE_LOGINS).defer(timestamp=0)
    drain(app_url, flows.sessions)
    left = queue_db.execute("SELECT email_hash FROM login_attempts WHERE email_hash LIKE %s",
                            (f"%-{marker}",)).fetchall()
    assert left == [(f"new-{marker}",)]
    assert queue_db.execute("SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE "
                            "task_name = %s AND status <> 'succeeded'",
                            (jobs.PRUNE_LOGINS,)).fetchone()[0] == 0
