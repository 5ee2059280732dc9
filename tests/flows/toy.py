"""A toy flow type for the engine and job tests: three phases, each writing rows to a real
tenant table (agent_memory), so "no half-written data" is checkable.

Behaviour is chosen per flow through its config (it must cross process boundaries for the
worker tests): {"fail_in": phase} raises once after writing rows, {"interrupt_in": phase}
raises a BaseException once (a killed process, as far as Python can tell), {"transient_in":
phase} raises a database OperationalError once, {"hang_in": phase, "marker": path} writes
the marker file after its rows and then sleeps (until SIGKILLed), {"pause_after": phase}
pauses for review after that phase.  In-process tests can also hook a phase (HOOKS).
"""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from portal.errors import DomainError
from portal.flows.engine import FlowType, Phase, PhaseContext, register_flow_type
from portal.models import AssessmentFlow, DiscoveryFlow

ROWS_PER_PHASE = 3
AGENT_TYPE = "toy_flow"
CALLS: Counter = Counter()  # (flow_id, phase) -> runs started in this process
HOOKS: dict[tuple[str, str], Callable[[PhaseContext], None]] = {}


class Interrupted(BaseException):
    """Stands for the process dying in the middle of a phase."""


_INSERT = text("""
    INSERT INTO agent_memory (client_account_id, engagement_id, agent_type, memory_type,
                              memory_content, confidence_score)
    VALUES (:client, :engagement, :agent_type, 'toy', CAST(:content AS jsonb), :score)""")


def _write_rows(ctx: PhaseContext) -> None:
    for i in range(ROWS_PER_PHASE):
        content = {"pattern": f"{ctx.flow_id}:{ctx.phase.name}:{i}", "phase": ctx.phase.name,
                   "i": i}
        ctx.session.execute(_INSERT, {
            "client": ctx.account_id, "engagement": ctx.engagement_id, "agent_type": AGENT_TYPE,
            "content": json.dumps(content), "score": i / 10})
    ctx.session.flush()


def _misbehave(ctx: PhaseContext) -> None:
    """Misbehave on the phase's first run only (a hang: until its marker file exists, which
    also holds across processes)."""
    config, name = ctx.config, ctx.phase.name
    first_run = CALLS[(str(ctx.flow_id), name)] == 1
    if config.get("hang_in") == name and not Path(config["marker"]).exists():
        Path(config["marker"]).write_text("rows written")
        time.sleep(120)
    if config.get("fail_in") == name and first_run:
        if config.get("domain_error"):
            raise DomainError("The inventory has no header row.")
        raise ZeroDivisionError("boom at /srv/secret/path.py line 3")
    if config.get("interrupt_in") == name and first_run:
        raise Interrupted
    if config.get("transient_in") == name and first_run:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def _phase(name: str) -> Callable[[PhaseContext], dict]:
    def run(ctx: PhaseContext) -> dict:
        CALLS[(str(ctx.flow_id), name)] += 1
        _write_rows(ctx)
        hook = HOOKS.get((str(ctx.flow_id), name))
        if hook:
            hook(ctx)
        _misbehave(ctx)
        return {"rows": ROWS_PER_PHASE, "phase": name, "seen": sorted(ctx.checkpoints)}
    return run


def _pause_after(ctx: PhaseContext, result: dict) -> bool:
    return ctx.config.get("pause_after") == ctx.phase.name


PHASES = tuple(Phase(name, _phase(name), f"Toy step {name.upper()}", _pause_after)
               for name in ("a", "b", "c"))
FLAGS = {"a": "data_import_completed", "b": "field_mapping_completed",
         "c": "data_cleansing_completed"}

TOY = register_flow_type(FlowType("toy", DiscoveryFlow, PHASES, FLAGS.get))
TOY_ASSESSMENT = register_flow_type(FlowType("toy_assessment", AssessmentFlow, PHASES))
