"""Fixtures of the flow tests.  Flows run in transactions of their own (that is the point of
the engine), so these tests commit: each creates its own accounts (unique slugs) on an
application-role engine, and row-level security is in force."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from portal.accounts import create_account, create_engagement
from portal.db import (TenantContext, app_role_url, make_engine, make_session_factory,
                       session_scope, set_tenant)
from portal.flows import engine
from portal.models import AgentMemory, AgentTaskHistory, MasterFlow
from tests.flows import toy

OPERATOR = TenantContext(platform_admin=True)


@dataclass(frozen=True)
class Tenant:
    account_id: uuid.UUID
    engagement_id: uuid.UUID
    user_id: uuid.UUID

    @property
    def context(self) -> TenantContext:
        return TenantContext(client_id=self.account_id, engagement_id=self.engagement_id,
                             user_id=self.user_id)


class Flows:
    """Starts toy flows, runs them and reads back what they left, always as portal_app."""

    def __init__(self, sessions):
        self.sessions = sessions

    def tenant(self) -> Tenant:
        with session_scope(self.sessions, OPERATOR) as s:
            account = create_account(s, "Flow tests", f"flows-{uuid.uuid4().hex[:12]}")
            set_tenant(s, OPERATOR.with_(client_id=account.id))
            engagement = create_engagement(s, account, "Flow engagement", "flows")
        return Tenant(account.id, engagement.id, uuid.uuid4())

    def start(self, tenant: Tenant, type_name: str = "toy", **config) -> uuid.UUID:
        with session_scope(self.sessions, tenant.context) as s:
            master = engine.start_flow(s, tenant.account_id, tenant.engagement_id,
                                       tenant.user_id, type_name, "Toy flow", config, {})
        return master.flow_id

    def step(self, tenant: Tenant, flow_id) -> str:
        """One phase, then the readiness consistency query must still say zero."""
        outcome = engine.run_next_phase(self.sessions, tenant.account_id, flow_id)
        assert self.mismatches() == 0
        return outcome

    def run(self, tenant: Tenant, flow_id) -> list[str]:
        outcomes = [self.step(tenant, flow_id)]
        while outcomes[-1] == "continue":
            outcomes.append(self.step(tenant, flow_id))
        return outcomes

    def act(self, action: str, tenant: Tenant, flow_id) -> MasterFlow:
        with session_scope(self.sessions, tenant.context) as s:
            master = getattr(engine, f"{action}_flow")(s, tenant.account_id, flow_id,
                                                       tenant.user_id)
        assert self.mismatches() == 0
        return master

    def mismatches(self) -> int:
        with session_scope(self.sessions) as s:
            return s.scalar(text("SELECT flow_status_mismatches()"))

    def flow(self, tenant: Tenant, flow_id):
        """(master, child) as stored."""
        with session_scope(self.sessions, tenant.context) as s:
            master, child, _ = engine._load(s, tenant.account_id, flow_id)
            return master, child

    def rows(self, tenant: Tenant, flow_id) -> list[str]:
        """The rows the toy phases wrote, as 'phase:i'."""
        with session_scope(self.sessions, tenant.context) as s:
            contents = s.scalars(select(AgentMemory.memory_content).where(
                AgentMemory.client_account_id == tenant.account_id,
                AgentMemory.agent_type == toy.AGENT_TYPE,
                AgentMemory.memory_content["pattern"].astext.startswith(f"{flow_id}:")))
            return sorted(f"{c['phase']}:{c['i']}" for c in contents)

    def history(self, tenant: Tenant, flow_id) -> list[AgentTaskHistory]:
        with session_scope(self.sessions, tenant.context) as s:
            return list(s.scalars(select(AgentTaskHistory).where(
                AgentTaskHistory.client_account_id == tenant.account_id,
                AgentTaskHistory.flow_id == flow_id).order_by(AgentTaskHistory.created_at,
                                                              AgentTaskHistory.started_at)))

    def calls(self, flow_id) -> dict[str, int]:
        return {phase.name: toy.CALLS[(str(flow_id), phase.name)] for phase in toy.PHASES}

    def state(self, tenant: Tenant, flow_id) -> dict:
        """Everything a flow leaves in the database, without ids and times: two runs of the
        same flow in different accounts must give equal states."""
        master, child = self.flow(tenant, flow_id)
        return {
            "rows": self.rows(tenant, flow_id),
            "master": (master.flow_status, master.current_phase, master.progress_percentage,
                       master.checkpoint_data, master.error_details,
                       {k: v for k, v in master.execution_stats.items()
                        if k != "phases"} | {"per_phase": {
                            p: {k: v for k, v in s.items() if k != "last_seconds"}
                            for p, s in master.execution_stats["phases"].items()}},
                       [(e["kind"], e["from"], e["to"], e["phase"])
                        for e in master.phase_transitions],
                       sorted(master.performance_metrics["phase_seconds"])),
            "child": (child.status, child.current_phase, child.progress_percentage,
                      child.data_import_completed, child.field_mapping_completed,
                      child.data_cleansing_completed),
            "history": [(h.agent_name, h.success_rate, h.task_result, h.error_details)
                        for h in self.history(tenant, flow_id)],
        }


@pytest.fixture(scope="session")
def app_url(admin_url) -> str:
    return app_role_url(admin_url, None)


@pytest.fixture(scope="session")
def sessions(app_url):
    bind = make_engine(app_url, pool_size=4, max_overflow=8)
    yield make_session_factory(bind)
    bind.dispose()


@pytest.fixture
def flows(sessions) -> Flows:
    return Flows(sessions)


@pytest.fixture
def tenant(flows) -> Tenant:
    return flows.tenant()
