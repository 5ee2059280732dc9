"""The flow engine: flow types declare ordered phases; each phase is a plain function (an
"agent") that reads its inputs and writes its outputs through the session it is given.

Lifecycle of a flow (master row in `master_flows`, child row in the type's own table):

    initialized -> running -> paused -> running ... -> completed
                   running -> failed -> running (retry, at the failed phase)
    initialized | running | paused -> cancelled;      completed and cancelled are final

The child says `active` where the master says `initialized` or `running`, and the same word
otherwise; both rows are always written in the same transaction.

`run_next_phase` runs ONE phase per call, in its own transaction, so a crash anywhere leaves
either the whole phase or nothing.  `checkpoint_data[phase]` holds each completed phase's
result: a rerun skips completed phases and resumes at the first one without a checkpoint.

Concurrency: a phase executes while holding a transaction-level advisory lock on its flow
(one phase at a time per flow, whoever calls).  A user who pauses or cancels while a phase
executes cannot take that lock: the request is recorded on the master
(`flow_persistence_data.requested_action`) and applied by the engine when the phase ends: a
pause keeps the phase's results, a cancel discards them.  Progress reports are written by
short separate transactions that skip rows someone holds, so they never wait.

`phase_transitions` entries: {"kind": "status"|"phase", "from", "to", "phase", "at", "by"}
(by = the user's id, or "engine").  `error_details`: {"message" (for the user), "phase",
"phase_label", "exception_type", "at"}; the stack trace goes to the log only.
"""
from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import psycopg
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from portal.db import TenantContext, session_scope, set_tenant
from portal.errors import DomainError, NotFound
from portal.models import AgentTaskHistory, Engagement, MasterFlow
from portal.summary import refresh_engagement_summary

log = logging.getLogger(__name__)

ENGINE = "engine"  # the `by` of transitions the engine makes itself
ACTIVE = ("initialized", "running")
FINAL = ("completed", "cancelled")
PROGRESS_INTERVAL = 1.0  # seconds between two progress writes of one phase (audit volume)
TASK_TYPE = "flow_phase"

# action: (statuses it applies to, status it leads to)
ACTIONS = {
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("initialized", "running", "paused"), "cancelled"),
    "retry": (("failed",), "running"),
}
DEFERRABLE = ("pause", "cancel")  # wait for an executing phase to end


class FlowError(DomainError):
    """An illegal transition, an unknown flow type...: the message is for the user."""


@dataclass(frozen=True)
class Phase:
    """One step of a flow: `run(ctx)` does the work and returns a JSON-able dict (kept as
    the phase's checkpoint); `pause_after(ctx, result)` → True pauses for review after it."""

    name: str
    run: Callable[[PhaseContext], dict]
    label: str
    pause_after: Callable[[PhaseContext, dict], bool] | None = None


def _no_flag(phase: str) -> str | None:
    return None


@dataclass(frozen=True)
class FlowType:
    """A kind of flow: its child model and ordered phases; `completed_flag(phase)` names a
    boolean child column to set when that phase completes."""

    name: str
    child_model: type
    phases: tuple[Phase, ...]
    completed_flag: Callable[[str], str | None] = _no_flag

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise FlowError(f"the {self.name} flow has no step {name!r}")


@dataclass
class PhaseContext:
    """What a phase gets: the session of its transaction (write everything through it), who
    and what it works for, the earlier phases' results and a progress callback."""

    session: Session
    account_id: uuid.UUID
    engagement_id: uuid.UUID
    flow_id: uuid.UUID
    master_flow_id: uuid.UUID
    user_id: str
    flow_type: FlowType
    phase: Phase
    child: Any
    config: dict[str, Any]
    checkpoints: dict[str, dict]
    report_progress: Callable[[float], None] = field(repr=False)


_FLOW_TYPES: dict[str, FlowType] = {}


def register_flow_type(flow_type_: FlowType) -> FlowType:
    """Make a flow type startable and runnable by name (once per name)."""
    known = _FLOW_TYPES.get(flow_type_.name)
    if known is not None and known is not flow_type_:
        raise ValueError(f"flow type {flow_type_.name!r} is already registered")
    _FLOW_TYPES[flow_type_.name] = flow_type_
    return flow_type_


def flow_type(name: str) -> FlowType:
    try:
        return _FLOW_TYPES[name]
    except KeyError:
        raise FlowError(f"unknown flow type {name!r}") from None


# --- starting and user actions (in the caller's transaction) ------------------------------

def start_flow(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
               user_id: uuid.UUID | str, flow_type_name: str, flow_name: str,
               config: dict | None = None, child_fields: dict | None = None) -> MasterFlow:
    """Create the master (initialized) and child rows of a new flow, sharing one flow_id, in
    the caller's transaction.  The caller then enqueues it (portal.flows.jobs.enqueue_flow)."""
    type_ = flow_type(flow_type_name)
    name = (flow_name or "").strip()[:255]
    if not name:
        raise FlowError("a flow needs a name")
    if session.scalar(select(Engagement.id).where(
            Engagement.id == engagement_id, Engagement.client_account_id == account_id)) is None:
        raise NotFound("engagement not found")
    flow_id, first = uuid.uuid4(), type_.phases[0].name if type_.phases else None
    master = MasterFlow(
        client_account_id=account_id, engagement_id=engagement_id, flow_id=flow_id,
        user_id=str(user_id), flow_type=type_.name, flow_name=name, flow_status="initialized",
        current_phase=first, progress_percentage=0, flow_config=dict(config or {}),
        checkpoint_data={}, execution_stats={}, performance_metrics={}, error_details={},
        flow_persistence_data={}, phase_transitions=[_entry(
            "status", None, "initialized", first, str(user_id))])
    session.add(master)
    session.flush()  # the child's foreign key points at the master
    fields = {"current_phase": first} if _has(type_.child_model, "current_phase") else {}
    session.add(type_.child_model(
        client_account_id=account_id, engagement_id=engagement_id, flow_id=flow_id,
        master_flow_id=flow_id, user_id=str(user_id), flow_name=name, status="active",
        **(fields | dict(child_fields or {}))))
    session.flush()
    return master


def pause_flow(session: Session, account_id, flow_id, user_id) -> MasterFlow:
    """Pause a running flow: at once between phases, else when the executing phase ends
    (its results are kept).  Raises FlowError unless the flow is running."""
    return _user_action(session, account_id, flow_id, user_id, "pause")


def resume_flow(session: Session, account_id, flow_id, user_id) -> MasterFlow:
    """Resume a paused flow (or withdraw a pause still waiting for its phase to end); the
    caller then enqueues it."""
    return _user_action(session, account_id, flow_id, user_id, "resume")


def cancel_flow(session: Session, account_id, flow_id, user_id) -> MasterFlow:
    """Cancel a flow that has not ended; an executing phase's results are discarded."""
    return _user_action(session, account_id, flow_id, user_id, "cancel")


def retry_flow(session: Session, account_id, flow_id, user_id) -> MasterFlow:
    """Run a failed flow again from the phase that failed; the caller then enqueues it."""
    return _user_action(session, account_id, flow_id, user_id, "retry")


def pending_action(master: MasterFlow) -> str | None:
    """'pause' or 'cancel' when a user asked for it while a phase was executing."""
    request = (master.flow_persistence_data or {}).get("requested_action")
    return request["action"] if request else None


def phase_states(master: MasterFlow) -> list[tuple[Phase, str]]:
    """Each phase with its state for a stepper: completed, running, paused, failed,
    cancelled or pending."""
    done = master.checkpoint_data or {}
    at_current = {"initialized": "pending"}.get(master.flow_status, master.flow_status)
    return [(phase, "completed" if phase.name in done else
             at_current if phase.name == master.current_phase else "pending")
            for phase in flow_type(master.flow_type).phases]


def _user_action(session: Session, account_id, flow_id, user_id, action: str) -> MasterFlow:
    master, child, _ = _load(session, _as_uuid(account_id), _as_uuid(flow_id), lock=True)
    requested, by = pending_action(master), str(user_id)
    if action == "resume" and requested == "pause":
        _clear_request(master)  # withdrawn before the phase ended
    elif master.flow_status not in ACTIONS[action][0] or (
            requested and not (action == "cancel" and requested == "pause")):
        raise FlowError(_illegal(action, master.flow_status, requested))
    elif (action in DEFERRABLE and master.flow_status == "running"
          and not _try_lock_flow(session, master.flow_id)):
        _request(master, action, by)  # a phase is executing: it applies this when it ends
    else:
        if action == "retry":
            master.error_details = {}
        _set_status(master, child, ACTIONS[action][1], by)
    session.flush()
    return master


def _illegal(action: str, status: str, requested: str | None) -> str:
    if requested:
        return (f"cannot {action} this flow: it will be {ACTIONS[requested][1]} when its "
                "current step ends")
    return f"cannot {action} this flow: it is {status}"


# --- running one phase ---------------------------------------------------------------------

@dataclass
class _Run:
    """One call of run_next_phase: what it runs, and as whom."""

    account_id: uuid.UUID
    flow_id: uuid.UUID
    tenant: TenantContext
    phase: str = ""
    started: datetime | None = None
    seconds: float = 0.0


class _CancelRequested(Exception):
    """A user cancelled while the phase executed: discard its work."""


def run_next_phase(session_factory: sessionmaker[Session], account_id, flow_id, *,
                   before_commit: Callable[[Session, str], None] | None = None) -> str:
    """Run the flow's next phase in its own transaction, as the flow's tenant, and record
    the outcome: "continue" (more phases to run), "paused", "completed", "failed" or
    "cancelled".  Idempotent: completed phases are skipped, an ended flow is left alone.

    A phase that raises rolls back; a new transaction then marks the flow failed.  Transient
    database errors (connection lost, deadlock, serialization) are re-raised instead, for the
    job to retry the phase.  `before_commit(session, outcome)` runs inside the transaction
    that records the outcome (the job queue defers the next phase there)."""
    run = _Run(_as_uuid(account_id), _as_uuid(flow_id),
               TenantContext(client_id=_as_uuid(account_id)))
    outcome = _begin(session_factory, run, before_commit)
    if outcome is None:
        try:
            with session_scope(session_factory, run.tenant) as session:
                outcome = _execute(session_factory, session, run, before_commit)
        except _CancelRequested:
            outcome = _record_cancel(session_factory, run, before_commit)
        except Exception as exc:
            if is_transient(exc):
                raise
            outcome = _record_failure(session_factory, run, exc, before_commit)
    if outcome == "completed":
        _refresh_summary(session_factory, run.tenant)
    return outcome


def run_flow(session_factory: sessionmaker[Session], account_id, flow_id) -> str:
    """Run phases here and now until the flow pauses or ends (the command line, tests);
    returns the last outcome."""
    outcome = "continue"
    while outcome == "continue":
        outcome = run_next_phase(session_factory, account_id, flow_id)
    return outcome


def fail_flow(session_factory: sessionmaker[Session], account_id, flow_id,
              exc: BaseException, message: str | None = None) -> str:
    """Mark a running flow failed at its current phase from outside the phase (e.g. the
    job gave up retrying it).  Returns the flow's outcome."""
    run = _Run(_as_uuid(account_id), _as_uuid(flow_id),
               TenantContext(client_id=_as_uuid(account_id)))
    return _record_failure(session_factory, run, exc, None, message)


def is_transient(exc: BaseException) -> bool:
    """A database hiccup worth retrying the same phase for, rather than failing the flow."""
    return isinstance(exc, OperationalError | psycopg.OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _begin(factory, run: _Run, hook) -> str | None:
    """Transaction 1: mark the flow running at its next phase (visible to everyone while the
    phase executes), or return the outcome when there is nothing to run."""
    with session_scope(factory, run.tenant) as session:
        _lock_flow(session, run.flow_id)
        master, child, type_ = _flow_as_tenant(session, run, lock=True)
        if pending_action(master) and master.flow_status == "running":
            _apply_request(master, child)
        if master.flow_status not in ACTIVE:
            return _conclude(session, hook, _outcome_of(master.flow_status))
        phase = _next_phase(type_, master)
        if phase is None:
            _set_progress(master, child, 100)
            _set_status(master, child, "completed", ENGINE)
            return _conclude(session, hook, "completed")
        if master.flow_status == "initialized":
            _set_status(master, child, "running", ENGINE)
        _set_phase(master, child, phase.name)
        run.phase = phase.name
    return None


def _execute(factory, session: Session, run: _Run, hook) -> str:
    """Transaction 2: run the phase and record its result with the flow's new state."""
    _lock_flow(session, run.flow_id)
    master, child, type_ = _flow_as_tenant(session, run)
    if (master.flow_status != "running" or master.current_phase != run.phase
            or run.phase in (master.checkpoint_data or {})):
        # Paused, cancelled or run by someone else between the two transactions.
        outcome = "continue" if master.flow_status == "running" else \
            _outcome_of(master.flow_status)
        return _conclude(session, hook, outcome)
    phase = type_.phase(run.phase)
    ctx = _context(factory, session, run, master, child, type_, phase)
    run.started, clock = _now(), time.perf_counter()
    result = _json_safe(phase.name, phase.run(ctx))
    session.flush()
    run.seconds = time.perf_counter() - clock
    master, child, _ = _load(session, run.account_id, run.flow_id, lock=True)  # requests
    if pending_action(master) == "cancel":
        raise _CancelRequested
    return _conclude(session, hook, _record_success(ctx, master, child, result, run))


def _record_success(ctx: PhaseContext, master: MasterFlow, child, result: dict,
                    run: _Run) -> str:
    phase, type_ = ctx.phase, ctx.flow_type
    master.checkpoint_data = {**(master.checkpoint_data or {}), phase.name: result}
    flag = type_.completed_flag(phase.name)
    if flag:
        setattr(child, flag, True)
    master.error_details = {}
    _count_run(master, phase.name, run.seconds, failed=False, rows=result.get("rows"))
    _add_history(ctx.session, master, type_, run, result=result, error=None)
    following = _next_phase(type_, master)
    if following is None:
        _set_progress(master, child, 100)
        _set_status(master, child, "completed", ENGINE)
        return "completed"
    _set_phase(master, child, following.name)
    _set_progress(master, child, _percent(type_, master, 0.0))
    if pending_action(master) == "pause":
        _apply_request(master, child)
        return "paused"
    if phase.pause_after is not None and phase.pause_after(ctx, result):
        _set_status(master, child, "paused", ENGINE, reason="review", after=phase.name)
        return "paused"
    return "continue"


def _record_failure(factory, run: _Run, exc: BaseException, hook,
                    message: str | None = None) -> str:
    """In a new transaction (the phase's was rolled back): the error, the history row, and
    the flow failed (or cancelled, when a cancel was waiting)."""
    log.error("flow %s failed in phase %s", run.flow_id, run.phase or "?", exc_info=exc)
    with session_scope(factory, run.tenant) as session:
        _lock_flow(session, run.flow_id)
        master, child, type_ = _flow_as_tenant(session, run, lock=True)
        run.phase = run.phase or master.current_phase or ""
        error = _error_details(type_, run.phase, exc, message)
        _add_history(session, master, type_, run, result=None, error=error)
        if master.flow_status == "running":
            _count_run(master, run.phase, run.seconds, failed=True)
            master.error_details = error
            if pending_action(master) == "cancel":
                _apply_request(master, child)
            else:
                _set_status(master, child, "failed", ENGINE)
        return _conclude(session, hook, _outcome_of(master.flow_status))


def _record_cancel(factory, run: _Run, hook) -> str:
    with session_scope(factory, run.tenant) as session:
        _lock_flow(session, run.flow_id)
        master, child, type_ = _flow_as_tenant(session, run, lock=True)
        _add_history(session, master, type_, run, result={"discarded": True}, error={
            "message": "The flow was cancelled while this step ran: its results were "
                       "discarded.", "phase": run.phase, "exception_type": None})
        _apply_request(master, child)
        return _conclude(session, hook, _outcome_of(master.flow_status))


def _conclude(session: Session, hook, outcome: str) -> str:
    if hook is not None:
        hook(session, outcome)
    return outcome


def _outcome_of(status: str) -> str:
    return "continue" if status in ACTIVE else status


# --- the phase's context and progress --------------------------------------------------

def _context(factory, session, run: _Run, master, child, type_: FlowType,
             phase: Phase) -> PhaseContext:
    names = {p.name for p in type_.phases}
    checkpoints = {k: v for k, v in (master.checkpoint_data or {}).items() if k in names}
    return PhaseContext(
        session=session, account_id=run.account_id, engagement_id=master.engagement_id,
        flow_id=master.flow_id, master_flow_id=master.flow_id, user_id=master.user_id,
        flow_type=type_, phase=phase, child=child, config=dict(master.flow_config or {}),
        checkpoints=checkpoints,
        report_progress=_progress_reporter(factory, run, type_, master))


def _progress_reporter(factory, run: _Run, type_: FlowType, master) -> Callable[[float], None]:
    """`report_progress(fraction)` of the executing phase: written at most once a second,
    in its own short transaction (the phase's own is not committed yet)."""
    done = sum(p.name in (master.checkpoint_data or {}) for p in type_.phases)
    last = {"percent": _percent(type_, master, 0.0), "at": 0.0}

    def report(fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        percent = min(99, math.floor(100 * (done + fraction) / max(len(type_.phases), 1)))
        if percent <= last["percent"] or time.monotonic() - last["at"] < PROGRESS_INTERVAL:
            return
        last.update(percent=percent, at=time.monotonic())
        try:
            _write_progress(factory, run, type_, percent)
        except Exception:  # progress is cosmetic: never fail the phase over it
            log.warning("could not record progress of flow %s", run.flow_id, exc_info=True)
    return report


def _write_progress(factory, run: _Run, type_: FlowType, percent: int) -> None:
    targets = [(MasterFlow, MasterFlow.flow_id, MasterFlow.flow_status == "running")]
    if _has(type_.child_model, "progress_percentage"):
        model = type_.child_model
        targets.append((model, model.master_flow_id, model.status == "active"))
    with session_scope(factory, run.tenant) as session:
        for model, key, executing in targets:
            unlocked = select(model.id).where(
                model.client_account_id == run.account_id, key == run.flow_id, executing,
            ).with_for_update(skip_locked=True).scalar_subquery()
            session.execute(update(model).where(model.id.in_(unlocked))
                            .values(progress_percentage=percent))


def _percent(type_: FlowType, master: MasterFlow, fraction: float) -> int:
    if not type_.phases:
        return 100
    done = sum(p.name in (master.checkpoint_data or {}) for p in type_.phases)
    return min(100, math.floor(100 * (done + fraction) / len(type_.phases)))


# --- rows, status and bookkeeping ---------------------------------------------------------

def _load(session: Session, account_id: uuid.UUID, flow_id: uuid.UUID, *,
          lock: bool = False) -> tuple[MasterFlow, Any, FlowType]:
    """The flow's master and child rows (fresh from the database), named by tenant and id:
    another tenant's flow is not found, exactly like a missing one."""
    query = select(MasterFlow).where(MasterFlow.client_account_id == account_id,
                                     MasterFlow.flow_id == flow_id)
    master = session.scalars(_fresh(query, lock)).one_or_none()
    if master is None:
        raise NotFound("flow not found")
    type_ = flow_type(master.flow_type)
    model = type_.child_model
    child = session.scalars(_fresh(select(model).where(
        model.client_account_id == account_id, model.master_flow_id == flow_id), lock)
    ).one_or_none()
    if child is None:
        raise FlowError(f"the flow has no {type_.name} record")
    return master, child, type_


def _fresh(query, lock: bool):
    query = query.with_for_update() if lock else query
    return query.execution_options(populate_existing=True)


def _flow_as_tenant(session: Session, run: _Run, *, lock: bool = False):
    """Load the flow, then act as its engagement and user from now on (the audit log
    records who started the flow for every change a job makes)."""
    master, child, type_ = _load(session, run.account_id, run.flow_id, lock=lock)
    run.tenant = run.tenant.with_(engagement_id=master.engagement_id,
                                  user_id=_uuid_or_none(master.user_id))
    set_tenant(session, run.tenant)
    return master, child, type_


def _lock_flow(session: Session, flow_id: uuid.UUID) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"portal.flow:{flow_id}"})


def _try_lock_flow(session: Session, flow_id: uuid.UUID) -> bool:
    """False while a phase of this flow executes (its transaction holds the lock)."""
    return bool(session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"portal.flow:{flow_id}"}))


def _next_phase(type_: FlowType, master: MasterFlow) -> Phase | None:
    done = master.checkpoint_data or {}
    return next((phase for phase in type_.phases if phase.name not in done), None)


def _entry(kind: str, from_: str | None, to: str | None, phase: str | None, by: str,
           **extra) -> dict:
    return {"kind": kind, "from": from_, "to": to, "phase": phase, "at": _now().isoformat(),
            "by": by, **extra}


def _append_transition(master: MasterFlow, entry: dict) -> None:
    master.phase_transitions = [*(master.phase_transitions or []), entry]


def _set_status(master: MasterFlow, child, status: str, by: str, **extra) -> None:
    """The one place statuses change: master and child together, with the history entry."""
    _append_transition(master, _entry("status", master.flow_status, status,
                                      master.current_phase, by, **extra))
    now = _now()
    master.flow_status = status
    child.status = "active" if status in ACTIVE else status
    if status == "running" and master.started_at is None:
        master.started_at = now
    if status in FINAL:
        master.completed_at = now
        _set_if(child, "completed_at", now)
    if status not in ACTIVE:
        _clear_request(master)
    _set_if(child, "last_phase_update", now)


def _set_phase(master: MasterFlow, child, phase: str) -> None:
    if master.current_phase != phase:
        _append_transition(master, _entry("phase", master.current_phase, phase, phase, ENGINE))
    master.current_phase = phase
    _set_if(child, "current_phase", phase)
    _set_if(child, "last_phase_update", _now())


def _set_progress(master: MasterFlow, child, percent: int) -> None:
    master.progress_percentage = percent
    _set_if(child, "progress_percentage", percent)


def _request(master: MasterFlow, action: str, by: str) -> None:
    master.flow_persistence_data = {**(master.flow_persistence_data or {}), "requested_action": {
        "action": action, "by": by, "at": _now().isoformat()}}


def _clear_request(master: MasterFlow) -> None:
    data = dict(master.flow_persistence_data or {})
    if data.pop("requested_action", None) is not None:
        master.flow_persistence_data = data


def _apply_request(master: MasterFlow, child) -> None:
    request = master.flow_persistence_data["requested_action"]
    _set_status(master, child, ACTIONS[request["action"]][1], request["by"],
                requested_at=request["at"])


def _count_run(master: MasterFlow, phase: str, seconds: float, *, failed: bool,
               rows: Any = None) -> None:
    """execution_stats: runs and failures per phase and in all; performance_metrics: the
    duration (and rows per second) of each phase's successful run."""
    stats = dict(master.execution_stats or {})
    phases = dict(stats.get("phases") or {})
    entry = dict(phases.get(phase) or {})
    entry["runs"] = entry.get("runs", 0) + 1
    entry["failures"] = entry.get("failures", 0) + int(failed)
    entry["last_seconds"] = round(seconds, 3)
    if isinstance(rows, int | float) and not isinstance(rows, bool):
        entry["rows"] = rows
    phases[phase] = entry
    stats.update(phases=phases, runs=stats.get("runs", 0) + 1,
                 failures=stats.get("failures", 0) + int(failed))
    master.execution_stats = stats
    if not failed:
        metrics = dict(master.performance_metrics or {})
        durations = {**(metrics.get("phase_seconds") or {}), phase: round(seconds, 3)}
        metrics.update(phase_seconds=durations, total_seconds=round(sum(durations.values()), 3))
        if "rows" in entry and seconds > 0:
            metrics["rows_per_second"] = {**(metrics.get("rows_per_second") or {}),
                                          phase: round(entry["rows"] / seconds, 1)}
        master.performance_metrics = metrics


def _add_history(session: Session, master: MasterFlow, type_: FlowType, run: _Run, *,
                 result: dict | None, error: dict | None) -> None:
    """One agent_task_history row per phase run."""
    label = _label(type_, run.phase)
    session.add(AgentTaskHistory(
        client_account_id=master.client_account_id, engagement_id=master.engagement_id,
        flow_id=master.flow_id, agent_name=run.phase or "?", task_type=TASK_TYPE,
        task_description=f"{type_.name} flow {master.flow_name[:200]}: {label}",
        started_at=run.started or _now(), completed_at=_now(),
        duration_seconds=round(run.seconds), success_rate=0.0 if error else 1.0,
        task_result=result, error_details=error))


def _error_details(type_: FlowType, phase: str, exc: BaseException,
                   message: str | None = None) -> dict:
    label = _label(type_, phase)
    if message is None:
        message = str(exc) if isinstance(exc, DomainError) else (
            f"The step '{label}' stopped on an unexpected error ({type(exc).__name__}). "
            "The details are in the server log; retry the flow to run the step again.")
    return {"message": message, "phase": phase, "phase_label": label,
            "exception_type": type(exc).__name__, "at": _now().isoformat()}


def _label(type_: FlowType, phase: str) -> str:
    return next((p.label for p in type_.phases if p.name == phase), phase)


def _refresh_summary(factory, tenant: TenantContext) -> None:
    """engagement_summary counts completed flows: refresh it, after the commit and without
    failing the flow if it cannot be done now."""
    try:
        with session_scope(factory, tenant) as session:
            refresh_engagement_summary(session)
    except Exception:
        log.warning("could not refresh engagement_summary", exc_info=True)


# --- small helpers -------------------------------------------------------------------------

def _json_safe(phase: str, result: Any) -> dict:
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise FlowError(f"step {phase!r} returned {type(result).__name__}, not a dict")
    return json.loads(json.dumps(result, default=str))


def _has(model: type, attribute: str) -> bool:
    return hasattr(model, attribute)


def _set_if(row, attribute: str, value: Any) -> None:
    if _has(type(row), attribute):
        setattr(row, attribute, value)


def _as_uuid(value) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("flow not found") from None


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _now() -> datetime:
    return datetime.now(timezone.utc)
