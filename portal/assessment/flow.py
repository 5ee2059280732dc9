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
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from portal.assessment.criteria import ASSESSMENT_TYPES
from portal.assessment.scope import (count_in_scope, engagement_graph, facts_of, parse_scope,
                                     rows_in_scope)
from portal.assessment.overrides import learned_choices, mark_used
from portal.assessment.criteria import Criteria
from portal.assessment.facts import AssetFacts, similarity_key
from portal.assessment.sixr import Recommendation, recommend, recommend_application
from portal.assessment.store import (PreparedBatch, Preparer, overridden_assets,
                                     store_recommendations)
from portal.errors import DomainError
from portal.inventory import refresh_inventory_statistics
from portal.flows.engine import FlowType, Phase, PhaseContext, register_flow_type
from portal.models import STRATEGIES, AssessmentFlow, ClientAccount, Engagement

APPLICATIONS_KEPT = 5_000       # application verdicts kept on the flow row
TOP_RISKS = 10


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
    refresh_inventory_statistics(ctx.session)  # the analysis writes to every asset in scope
    count = count_in_scope(ctx.session, ctx.account_id, ctx.engagement_id, chosen)
    if not count:
        raise DomainError("there are no assets in this scope: run a discovery flow first, "
                          "or widen the scope")
    ctx.child.asset_scope = chosen | {"asset_count": count}
    ctx.child.assessment_type = kind
    ctx.child.assessment_criteria = criteria.as_dict()
    return {"assets": count, "kind": chosen["kind"], "assessment_type": kind}


class Tally:
    """What the flow row says of a run: distribution, confidence, effort, cost, risks and,
    with `group_applications`, each application's verdict (the assets must then come
    application by application)."""

    def __init__(self, group_applications: bool = False) -> None:
        self.group_applications = group_applications
        self.applications: list[dict] = []
        self.application: str | None = None
        self.members: list[tuple[AssetFacts, Recommendation]] = []
        self.assets = 0
        self.distribution: Counter = Counter()
        self.confidence = 0.0
        self.low_confidence = 0
        self.person_days = 0.0
        self.current = 0.0
        self.target = 0.0
        self.missing: Counter = Counter()
        self.risks: Counter = Counter()
        self.severities: Counter = Counter()
        self.learned = 0
        self.riskiest: list[tuple[int, str, str]] = []

    def add(self, facts: AssetFacts, rec: Recommendation) -> None:
        self.assets += 1
        self.distribution[rec.primary] += 1
        self.confidence += rec.confidence
        self.low_confidence += rec.confidence < 0.5
        self.person_days += float(rec.effort.get("person_days") or 0)
        self.current += float(rec.cost.get("current_monthly") or 0)
        self.target += float(rec.cost.get("target_monthly") or 0)
        self.missing.update(rec.missing_inputs)
        for risk in rec.risk_factors:
            self.risks[risk.get("factor")] += 1
            self.severities[risk.get("severity")] += 1
        self.learned += rec.learned is not None
        self.riskiest.append((rec.risk_score, facts.name, facts.asset_id))
        if len(self.riskiest) > 4 * TOP_RISKS:  # keep the list short on the way
            self.riskiest = self._top_risks()
        if self.group_applications and facts.application is not None:
            if facts.application != self.application:
                self._close_application()
                self.application = facts.application
            self.members.append((facts, rec))

    def _close_application(self) -> None:
        if self.members:
            self.applications.append(_application_verdict(self.application, self.members))
            self.members = []

    def application_verdicts(self) -> list[dict]:
        """Every application's verdict, in name order (once every asset is added)."""
        self._close_application()
        return self.applications

    def results(self) -> dict:
        return {"assets_assessed": self.assets,
                "distribution": {s: self.distribution[s] for s in STRATEGIES
                                 if self.distribution[s]},
                "mean_confidence": round(self.confidence / self.assets, 3) if self.assets
                else None,
                "low_confidence": self.low_confidence, "learned_from_overrides": self.learned,
                "effort_person_days": round(self.person_days, 1),
                "cost": {"currency": "USD", "current_monthly": round(self.current, 2),
                         "target_monthly": round(self.target, 2)},
                "missing_inputs": dict(self.missing.most_common())}

    def risk_assessment(self) -> dict:
        return {"by_severity": dict(sorted(self.severities.items())),
                "factors": dict(self.risks.most_common()),
                "riskiest_assets": [{"asset_id": i, "name": n, "risk_score": s}
                                    for s, n, i in self._top_risks()]}

    def _top_risks(self) -> list[tuple[int, str, str]]:
        """The TOP_RISKS riskiest (score, name, id), highest first, ties by name."""
        return sorted(self.riskiest, key=lambda r: (-r[0], r[1]))[:TOP_RISKS]


def analyse(session: Session, account_id, engagement_id, asset_scope: Mapping[str, Any],
            criteria: Criteria, report_progress: Callable[[float], None] | None = None,
            group_applications: bool = True) -> Tally:
    """Recommend and store a strategy for every asset in scope, in batches (one statement
    set per batch); returns the tally (with application verdicts when
    `group_applications`).  The session's tenant must be `account_id`.

    Turning rows into facts, the engine and the serialisation of batch k run on a helper
    thread while batch k-1 is written (the database works while Python thinks); reading
    and writing stay on this thread, the session's."""
    total = asset_scope.get("asset_count") or 1
    tally, used = Tally(group_applications), set()
    learned = learned_choices(session, account_id)
    preparer = Preparer(overridden_assets(session, account_id))
    graph = engagement_graph(session, account_id, engagement_id)

    def prepare(rows: list) -> PreparedBatch:
        recommendations = []
        for row in rows:
            facts = facts_of(row, graph)
            rec = recommend(facts, criteria, learned)
            tally.add(facts, rec)
            if rec.learned is not None:
                used.add(similarity_key(facts))
            recommendations.append(rec)
        return preparer.prepared(recommendations)

    def write(prepared_batch: PreparedBatch) -> None:
        store_recommendations(session, account_id, engagement_id, prepared_batch)
        if report_progress:
            report_progress(tally.assets / total)

    with ThreadPoolExecutor(max_workers=1) as helper:
        pending = None
        for rows in rows_in_scope(session, account_id, engagement_id, asset_scope):
            following = helper.submit(prepare, rows)
            if pending is not None:
                write(pending.result())
            pending = following
        if pending is not None:
            write(pending.result())
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


def _application_verdict(name: str, members: list[tuple[AssetFacts, Recommendation]]) -> dict:
    verdict = recommend_application(name, members)
    return {"application": verdict.application, "primary": verdict.primary,
            "confidence": verdict.confidence, "asset_count": verdict.asset_count,
            "strategy_counts": dict(verdict.strategy_counts),
            "scores": dict(verdict.scores),
            "effort_person_days": verdict.effort_person_days,
            "current_monthly": verdict.current_monthly,
            "target_monthly": verdict.target_monthly, "rationale": verdict.rationale}


ASSESSMENT = register_flow_type(FlowType(
    name="assessment", child_model=AssessmentFlow,
    phases=(
        Phase("scope", scope, "Scope and criteria"),
        Phase("sixr_analysis", sixr_analysis, "6R analysis"),
    )))
