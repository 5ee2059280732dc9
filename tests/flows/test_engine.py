"""The flow engine, on a toy flow type whose three phases write rows to agent_memory: the
lifecycle and every user transition, checkpoints and resumption, progress, history, master
and child never disagreeing, and tenant isolation.  Everything runs as portal_app."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from portal.db import session_scope
from portal.errors import NotFound
from portal.flows import engine
from portal.flows.engine import FlowError
from tests.flows import toy

PHASES = ["a", "b", "c"]


def test_start_creates_master_and_child_sharing_one_flow_id(flows, tenant):
    flow_id = flows.start(tenant, label="x")
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status) == ("initialized", "active")
    assert child.flow_id == child.master_flow_id == master.flow_id == flow_id
    assert (master.current_phase, child.current_phase, master.progress_percentage) == \
        ("a", "a", 0)
    assert master.flow_config == {"label": "x"} and master.user_id == str(tenant.user_id)
    assert [(e["from"], e["to"], e["by"]) for e in master.phase_transitions] == \
        [(None, "initialized", str(tenant.user_id))]
    assert master.started_at is None and flows.mismatches() == 0


def test_a_flow_runs_one_phase_per_call_to_completion(flows, tenant):
    flow_id = flows.start(tenant)
    progress = []
    for expected in ("continue", "continue", "completed"):
        assert flows.step(tenant, flow_id) == expected
        master, child = flows.flow(tenant, flow_id)
        progress.append((master.progress_percentage, child.progress_percentage))
    assert progress == [(33, 33), (66, 66), (100, 100)]
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status) == ("completed", "completed")
    assert master.checkpoint_data == {
        "a": {"rows": 3, "phase": "a", "seen": []},
        "b": {"rows": 3, "phase": "b", "seen": ["a"]},
        "c": {"rows": 3, "phase": "c", "seen": ["a", "b"]}}
    assert (child.data_import_completed, child.field_mapping_completed,
            child.data_cleansing_completed, child.data_quality_metrics) == (True, True, True, {})
    assert master.started_at <= master.completed_at and master.error_details == {}
    assert [(e["kind"], e["from"], e["to"], e["by"]) for e in master.phase_transitions] == [
        ("status", None, "initialized", str(tenant.user_id)),
        ("status", "initialized", "running", "engine"), ("phase", "a", "b", "engine"),
        ("phase", "b", "c", "engine"), ("status", "running", "completed", "engine")]
    assert all(e["at"] for e in master.phase_transitions)
    assert set(master.performance_metrics["phase_seconds"]) == set(PHASES)
    assert master.execution_stats["runs"] == 3 and master.execution_stats["failures"] == 0
    assert master.execution_stats["phases"]["b"]["rows"] == 3
    assert [state for _, state in engine.phase_states(master)] == ["completed"] * 3
    history = flows.history(tenant, flow_id)
    assert [(h.agent_name, h.task_type, h.success_rate, h.error_details) for h in history] == \
        [(p, "flow_phase", 1.0, None) for p in PHASES]
    assert history[1].task_result == master.checkpoint_data["b"]
    assert all(h.duration_seconds is not None and h.completed_at for h in history)
    assert flows.rows(tenant, flow_id) == [f"{p}:{i}" for p in PHASES for i in range(3)]
    assert flows.step(tenant, flow_id) == "completed"  # idempotent: nothing runs again
    assert flows.calls(flow_id) == {"a": 1, "b": 1, "c": 1}


@pytest.mark.parametrize("failing", PHASES)
def test_a_failure_rolls_the_phase_back_and_retry_resumes_at_that_phase(flows, tenant,
                                                                        failing):
    flow_id = flows.start(tenant, fail_in=failing)
    outcomes = flows.run(tenant, flow_id)
    assert outcomes[-1] == "failed" and len(outcomes) == PHASES.index(failing) + 1
    earlier = PHASES[:PHASES.index(failing)]
    # No half-written data: the failed phase wrote rows, then raised; none of them stayed.
    assert flows.rows(tenant, flow_id) == [f"{p}:{i}" for p in earlier for i in range(3)]
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status, master.current_phase) == \
        ("failed", "failed", failing)
    error = master.error_details
    assert (error["phase"], error["phase_label"], error["exception_type"]) == \
        (failing, f"Toy step {failing.upper()}", "ZeroDivisionError")
    assert "unexpected error" in error["message"] and "/srv/secret" not in error["message"]
    assert "Traceback" not in str(error)
    states = {phase.name: state for phase, state in engine.phase_states(master)}
    assert states == {p: "completed" if p in earlier else "failed" if p == failing
                      else "pending" for p in PHASES}
    failed_runs = [h for h in flows.history(tenant, flow_id) if h.error_details]
    assert [(h.agent_name, h.success_rate, h.error_details["exception_type"])
            for h in failed_runs] == [(failing, 0.0, "ZeroDivisionError")]

    flows.act("retry", tenant, flow_id)
    assert flows.run(tenant, flow_id)[-1] == "completed"
    assert flows.calls(flow_id) == {p: 2 if p == failing else 1 for p in PHASES}
    assert flows.rows(tenant, flow_id) == [f"{p}:{i}" for p in PHASES for i in range(3)]
    master, _ = flows.flow(tenant, flow_id)
    assert master.error_details == {} and master.execution_stats["failures"] == 1
    assert master.execution_stats["phases"][failing] == {
        "runs": 2, "failures": 1, "rows": 3,
        "last_seconds": master.execution_stats["phases"][failing]["last_seconds"]}
    assert ("status", "failed", "running", str(tenant.user_id)) in [
        (e["kind"], e["from"], e["to"], e["by"]) for e in master.phase_transitions]


def test_a_domain_error_is_shown_to_the_user_as_written(flows, tenant):
    flow_id = flows.start(tenant, fail_in="a", domain_error=True)
    assert engine.run_flow(flows.sessions, tenant.account_id, flow_id) == "failed"
    master, _ = flows.flow(tenant, flow_id)
    assert master.error_details["message"] == "The inventory has no header row."
    assert master.error_details["exception_type"] == "DomainError"


def test_an_interrupted_phase_leaves_nothing_and_its_rerun_gives_the_same_state(flows,
                                                                                tenant):
    """A BaseException (what a dying process looks like to Python) escapes the engine: the
    phase's transaction is rolled back and the flow still says running at that phase."""
    flow_id = flows.start(tenant, interrupt_in="b")
    assert flows.step(tenant, flow_id) == "continue"
    with pytest.raises(toy.Interrupted):
        engine.run_next_phase(flows.sessions, tenant.account_id, flow_id)
    assert flows.rows(tenant, flow_id) == [f"a:{i}" for i in range(3)]
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status, master.current_phase) == \
        ("running", "active", "b")
    assert [h.agent_name for h in flows.history(tenant, flow_id)] == ["a"]
    assert flows.run(tenant, flow_id) == ["continue", "completed"]

    other = flows.tenant()
    uninterrupted = flows.start(other)
    flows.run(other, uninterrupted)
    assert flows.state(tenant, flow_id) == flows.state(other, uninterrupted)
    assert flows.calls(flow_id) == {"a": 1, "b": 2, "c": 1}


def _flow_in(flows, tenant, status: str) -> uuid.UUID:
    """A flow brought to `status` by the real operations."""
    config = {"pause_after": "a"} if status == "paused" else \
        {"fail_in": "a"} if status == "failed" else {}
    flow_id = flows.start(tenant, **config)
    if status in ("running", "paused", "failed"):
        flows.step(tenant, flow_id)
    elif status == "completed":
        flows.run(tenant, flow_id)
    elif status == "cancelled":
        flows.act("cancel", tenant, flow_id)
    assert flows.flow(tenant, flow_id)[0].flow_status == status
    return flow_id


LEGAL = {("running", "pause"): "paused", ("paused", "resume"): "running",
         ("initialized", "cancel"): "cancelled", ("running", "cancel"): "cancelled",
         ("paused", "cancel"): "cancelled", ("failed", "retry"): "running"}
MATRIX = [(status, action) for status in ("initialized", "running", "paused", "completed",
                                          "failed", "cancelled")
          for action in ("pause", "resume", "cancel", "retry")]


@pytest.mark.parametrize("status,action", MATRIX)
def test_user_transition_matrix(flows, tenant, status, action):
    flow_id = _flow_in(flows, tenant, status)
    before, _ = flows.flow(tenant, flow_id)
    if (status, action) in LEGAL:
        master = flows.act(action, tenant, flow_id)
        stored, child = flows.flow(tenant, flow_id)
        assert master.flow_status == stored.flow_status == LEGAL[(status, action)]
        assert child.status == ("active" if stored.flow_status == "running"
                                else stored.flow_status)
        last = stored.phase_transitions[-1]
        assert (last["from"], last["to"], last["by"]) == \
            (status, LEGAL[(status, action)], str(tenant.user_id))
        assert (stored.completed_at is not None) == (stored.flow_status == "cancelled")
    else:
        with pytest.raises(FlowError, match=f"cannot {action} this flow: it is {status}"):
            flows.act(action, tenant, flow_id)
        after, _ = flows.flow(tenant, flow_id)
        assert (after.flow_status, after.phase_transitions) == \
            (before.flow_status, before.phase_transitions)
    assert flows.mismatches() == 0


def test_pause_after_a_phase_waits_for_review_then_resume_continues(flows, tenant):
    flow_id = flows.start(tenant, pause_after="a")
    assert flows.step(tenant, flow_id) == "paused"
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status, master.current_phase) == ("paused", "paused", "b")
    last = master.phase_transitions[-1]
    assert (last["to"], last["by"], last["reason"], last["after"]) == \
        ("paused", "engine", "review", "a")
    assert [s for _, s in engine.phase_states(master)] == ["completed", "paused", "pending"]
    assert flows.step(tenant, flow_id) == "paused"  # nothing runs while paused
    assert flows.calls(flow_id)["b"] == 0
    flows.act("resume", tenant, flow_id)
    assert flows.run(tenant, flow_id) == ["continue", "completed"]
    assert flows.calls(flow_id) == {"a": 1, "b": 1, "c": 1}


def test_cancel_between_phases_stops_the_flow(flows, tenant):
    flow_id = flows.start(tenant)
    assert flows.step(tenant, flow_id) == "continue"
    flows.act("cancel", tenant, flow_id)
    assert flows.step(tenant, flow_id) == "cancelled"
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status) == ("cancelled", "cancelled")
    assert flows.calls(flow_id) == {"a": 1, "b": 0, "c": 0}
    assert flows.rows(tenant, flow_id) == [f"a:{i}" for i in range(3)]


class HeldPhase:
    """Holds phase b of a flow open in another thread while the test acts."""

    def __init__(self, flows, tenant, flow_id, also=None):
        self.entered, self.release = threading.Event(), threading.Event()
        self.args = (flows.sessions, tenant.account_id, flow_id)
        self.also = also
        toy.HOOKS[(str(flow_id), "b")] = self._hold
        self.key = (str(flow_id), "b")

    def _hold(self, ctx) -> None:
        if self.also:
            self.also(ctx)
        self.entered.set()
        assert self.release.wait(10)

    def __enter__(self):
        self.pool = ThreadPoolExecutor(1)
        self.future = self.pool.submit(engine.run_next_phase, *self.args)
        assert self.entered.wait(10)
        return self

    def outcome(self) -> str:
        self.release.set()
        return self.future.result(10)

    def __exit__(self, *exc):
        self.release.set()
        self.pool.shutdown()
        toy.HOOKS.pop(self.key, None)


@pytest.mark.parametrize("action,outcome,rows_of_b", [("pause", "paused", 3),
                                                      ("cancel", "cancelled", 0)])
def test_pause_or_cancel_while_a_phase_runs_applies_when_it_ends(flows, tenant, action,
                                                                 outcome, rows_of_b):
    flow_id = flows.start(tenant)
    assert flows.step(tenant, flow_id) == "continue"
    with HeldPhase(flows, tenant, flow_id) as held:
        master = flows.act(action, tenant, flow_id)
        assert master.flow_status == "running" and engine.pending_action(master) == action
        with pytest.raises(FlowError, match="when its current step ends"):
            flows.act("pause", tenant, flow_id)
        assert held.outcome() == outcome
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status) == (outcome, outcome)
    assert engine.pending_action(master) is None
    assert len([r for r in flows.rows(tenant, flow_id) if r.startswith("b:")]) == rows_of_b
    assert ("b" in master.checkpoint_data) == (action == "pause")
    last = master.phase_transitions[-1]
    assert (last["to"], last["by"]) == (outcome, str(tenant.user_id)) and last["requested_at"]
    b_runs = [h for h in flows.history(tenant, flow_id) if h.agent_name == "b"]
    assert len(b_runs) == 1 and (b_runs[0].error_details is None) == (action == "pause")


def test_resume_withdraws_a_pause_that_waits_for_its_phase(flows, tenant):
    flow_id = flows.start(tenant)
    flows.step(tenant, flow_id)
    with HeldPhase(flows, tenant, flow_id) as held:
        flows.act("pause", tenant, flow_id)
        master = flows.act("resume", tenant, flow_id)
        assert master.flow_status == "running" and engine.pending_action(master) is None
        assert held.outcome() == "continue"


def test_progress_is_visible_while_a_phase_runs_and_never_blocks_it(flows, tenant,
                                                                    monkeypatch):
    flow_id = flows.start(tenant)
    flows.step(tenant, flow_id)
    monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 0)
    seen = {}

    def report(ctx):
        ctx.report_progress(0.5)  # phase b of 3, half done
        seen["half"] = _progress(flows, tenant, flow_id)
        ctx.child.crewai_state_data = {"locked": True}  # the phase now holds the child row
        ctx.session.flush()
        ctx.report_progress(0.9)  # must not wait for the phase's own lock: skips the child
        seen["locked"] = _progress(flows, tenant, flow_id)
        monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 60)
        ctx.report_progress(0.99)  # too soon after the last write: not written
        seen["throttled"] = _progress(flows, tenant, flow_id)

    with HeldPhase(flows, tenant, flow_id, also=report) as held:
        started = time.monotonic()
        assert held.outcome() == "continue"
        assert time.monotonic() - started < 5
    assert seen == {"half": (50, 50), "locked": (63, 50), "throttled": (63, 50)}
    assert _progress(flows, tenant, flow_id) == (66, 66)


def _progress(flows, tenant, flow_id) -> tuple[int, int]:
    master, child = flows.flow(tenant, flow_id)
    return master.progress_percentage, child.progress_percentage


def test_another_account_cannot_see_or_drive_the_flow(flows, tenant):
    flow_id = flows.start(tenant)
    intruder = flows.tenant()
    with pytest.raises(NotFound):
        engine.run_next_phase(flows.sessions, intruder.account_id, flow_id)
    for action in ("pause", "cancel", "resume", "retry"):
        with pytest.raises(NotFound):
            flows.act(action, intruder, flow_id)
    # Its own tenant context, naming the victim's account: row-level security hides it too.
    with session_scope(flows.sessions, intruder.context) as s, pytest.raises(NotFound):
        engine.cancel_flow(s, tenant.account_id, flow_id, intruder.user_id)
    with session_scope(flows.sessions, intruder.context) as s, pytest.raises(NotFound):
        engine.start_flow(s, intruder.account_id, tenant.engagement_id, intruder.user_id,
                          "toy", "Theirs", {}, {})
    master, _ = flows.flow(tenant, flow_id)
    assert (master.flow_status, len(master.phase_transitions)) == ("initialized", 1)
    assert flows.calls(flow_id) == {"a": 0, "b": 0, "c": 0}


def test_a_child_without_phase_columns_is_kept_in_step(flows, tenant):
    """Assessment flows have no current_phase or progress of their own."""
    flow_id = flows.start(tenant, "toy_assessment", fail_in="b")
    assert flows.run(tenant, flow_id) == ["continue", "failed"]
    assert flows.flow(tenant, flow_id)[1].status == "failed"
    flows.act("retry", tenant, flow_id)
    assert flows.run(tenant, flow_id) == ["continue", "completed"]
    master, child = flows.flow(tenant, flow_id)
    assert (master.flow_status, child.status, master.progress_percentage) == \
        ("completed", "completed", 100)
    assert child.completed_at is not None


def test_bad_starts_are_refused_with_a_clear_message(flows, tenant):
    with session_scope(flows.sessions, tenant.context) as s:
        with pytest.raises(FlowError, match="unknown flow type 'nope'"):
            engine.start_flow(s, tenant.account_id, tenant.engagement_id, tenant.user_id,
                              "nope", "F", {}, {})
        with pytest.raises(FlowError, match="needs a name"):
            engine.start_flow(s, tenant.account_id, tenant.engagement_id, tenant.user_id,
                              "toy", "  ", {}, {})
    with pytest.raises(NotFound):
        engine.run_next_phase(flows.sessions, tenant.account_id, uuid.uuid4())
    with pytest.raises(NotFound):
        engine.run_next_phase(flows.sessions, tenant.account_id, "not-a-uuid")
