"""The assessment flow: every asset in scope gets a 6R recommendation, and every application
a treatment for its assets as a group (no Flask in here).

Phases (each one job and one transaction on the flow engine, see portal.flows.engine):

- `scope`: resolve the scope (see portal.assessment.facts) and the criteria: the account's
  agent preferences, overridden by the engagement's saved criteria
  (`engagements.settings["assessment_criteria"]`), overridden by what this flow was started
  with; both land on the child row (`asset_scope`, `assessment_criteria`).
- `sixr_analysis`: the engine over every asset, in batches, with what consultants'
  overrides taught it; recommendations stored (portal.assessment.store); the flow's
  `assessment_results` (distribution, confidence, effort, cost) and `risk_assessment`; and,
  as the assets come application by application, each application's treatment for its
  assets as a group (the child's `recommendations["applications"]`; a quick assessment
  skips them).

Flow config: {"scope": {...}, "assessment_type": ..., "criteria": {...}}.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from sqlalchemy.orm import Session

from portal.assessment.criteria import ASSESSMENT_TYPES
from portal.assessment.criteria import Criteria
from portal.assessment.overrides import learned_choices, mark_used
from portal.assessment.preparation import PROCESS_FROM, Beside, Preparation, Tally
from portal.assessment.scope import (count_in_scope, engagement_graph, parse_scope,
                                     rows_in_scope)
from portal.assessment.store import PreparedBatch, overridden_assets, store_recommendations
from portal.errors import DomainError
from portal.inventory import refresh_inventory_statistics
from portal.flows.engine import FlowType, Phase, PhaseContext, register_flow_type
from portal.models import AssessmentFlow, ClientAccount, Engagement

APPLICATIONS_KEPT = 5_000       # application verdicts kept on the flow row
# The asset columns the analysis's statements filter, sort and join on.
PLANNED_ON = ("client_account_id", "engagement_id", "application", "asset_key", "id")


def criteria_for(session: Session, account_id, engagement_id,
                 overrides: Mapping[str, Any] | None = None,
                 assessment_type: str = "comprehensive") -> Criteria:
    """The account's preferences, then the engagement's saved criteria, then `overrides`;
    ValueError (for the user) when something is not a valid criterion."""
    account = session.get(ClientAccount, account_id)
    engagement = session.get(Engagement, engagement_id)
    saved = dict(((engagement.settings or {}) if engagement else {})
                 .get("assessment_criteria") or {})
    merged = saved | dict(overrides or {})
    if "weights" in saved and "weights" in (overrides or {}):
        merged["weights"] = dict(saved["weights"]) | dict(overrides["weights"])
    return Criteria.from_preferences((account.agent_preferences or {}) if account else {},
                                     merged, assessment_type=assessment_type)


def save_engagement_criteria(session: Session, engagement: Engagement,
                             criteria: Mapping[str, Any]) -> None:
    """Keep per-engagement criteria for the next assessments (validated by the caller)."""
    engagement.settings = dict(engagement.settings or {}) | {
        "assessment_criteria": dict(criteria)}


def _criteria(ctx: PhaseContext) -> Criteria:
    return Criteria.from_preferences(ctx.child.assessment_criteria or {},
                                     assessment_type=ctx.child.assessment_type
                                     or "comprehensive")


def scope(ctx: PhaseContext) -> dict:
    chosen = parse_scope(ctx.config.get("scope"))
    kind = ctx.config.get("assessment_type") or "comprehensive"
    if kind not in ASSESSMENT_TYPES:
        raise DomainError(f"unknown assessment type {kind!r}")
    try:
        criteria = criteria_for(ctx.session, ctx.account_id, ctx.engagement_id,
                                ctx.config.get("criteria"), kind)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    # The analysis reads and writes every asset in scope, by tenant, order and id.
    refresh_inventory_statistics(ctx.session, PLANNED_ON)
    count = count_in_scope(ctx.session, ctx.account_id, ctx.engagement_id, chosen)
    if not count:
        raise DomainError("there are no assets in this scope: run a discovery flow first, "
                          "or widen the scope")
    ctx.child.asset_scope = chosen | {"asset_count": count}
    ctx.child.assessment_type = kind
    ctx.child.assessment_criteria = criteria.as_dict()
    return {"assets": count, "kind": chosen["kind"], "assessment_type": kind}


def analyse(session: Session, account_id, engagement_id, asset_scope: Mapping[str, Any],
            criteria: Criteria, report_progress: Callable[[float], None] | None = None,
            group_applications: bool = True, in_process: bool | None = None) -> Tally:
    """Recommend and store a strategy for every asset in scope, in batches (one statement
    set per batch); returns the tally (with application verdicts when
    `group_applications`).  The session's tenant must be `account_id`.

    Batch k is prepared (see portal.assessment.preparation) while batch k-1 is written:
    the database works while Python thinks.  Reading and writing stay here, on the
    session's connection; scopes of `PROCESS_FROM` assets or more prepare in a worker
    process, smaller ones on a thread (`in_process` forces either)."""
    total = asset_scope.get("asset_count") or 1
    if in_process is None:
        in_process = total >= PROCESS_FROM
    with Beside(in_process) as helper:  # a worker process starts while we read
        helper.start(Preparation(
            engagement_graph(session, account_id, engagement_id), criteria,
            learned_choices(session, account_id), overridden_assets(session, account_id),
            group_applications))
        written = 0

        def write(batch: PreparedBatch) -> None:
            nonlocal written
            store_recommendations(session, account_id, engagement_id, batch)
            written += batch.count
            if report_progress:
                report_progress(written / total)

        pending: Future | None = None
        for rows in rows_in_scope(session, account_id, engagement_id, asset_scope):
            following = helper.submit("batch", rows)
            if pending is not None:
                write(pending.result())
            pending = following
        if pending is not None:
            write(pending.result())
        tally, used = helper.submit("outcome").result()
    mark_used(session, account_id, used)
    return tally


def sixr_analysis(ctx: PhaseContext) -> dict:
    quick = ctx.child.assessment_type == "quick"
    tally = analyse(ctx.session, ctx.account_id, ctx.engagement_id, ctx.child.asset_scope,
                    _criteria(ctx), ctx.report_progress, group_applications=not quick)
    results = tally.results()
    ctx.child.assessment_results = results
    ctx.child.risk_assessment = tally.risk_assessment()
    if quick:
        applications = {"skipped": "a quick assessment does not group applications"}
    else:
        verdicts = tally.application_verdicts()
        ctx.child.recommendations = {"applications": verdicts[:APPLICATIONS_KEPT],
                                     "count": len(verdicts)}
        applications = {"applications": len(verdicts),
                        "distribution": dict(Counter(v["primary"] for v in verdicts))}
    return {"rows": tally.assets, "distribution": results["distribution"],
            "mean_confidence": results["mean_confidence"], "applications": applications}


ASSESSMENT = register_flow_type(FlowType(
    name="assessment", child_model=AssessmentFlow,
    phases=(
        Phase("scope", scope, "Scope and criteria"),
        Phase("sixr_analysis", sixr_analysis, "6R analysis"),
    )))
