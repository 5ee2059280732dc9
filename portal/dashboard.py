"""The figures of an engagement's dashboard, in one frozen value (no Flask in here).

Everything is aggregated in PostgreSQL so the page costs the same few queries whatever the
engagement's size: the asset breakdowns (type, environment, tech-debt status, current 6R
strategy) are one pass over the engagement's assets with GROUPING SETS, the applications
one index-only scan, the 6R effort and cost one pass over the engine's analyses.  Each query
names the tenant and the engagement (and row-level security enforces the tenant again).

The 6R figures follow the assessment engine's contract: it writes one `sixr_analysis` row
per assessed asset with `analyzed_by = 'engine'` (replaced on every run), carrying the
effort (`person_days`) and cost (`current_monthly`, `target_monthly`) estimates; consultant
overrides are extra rows by a person and change `assets.sixr_recommendation`, which is the
strategy the distribution counts, but not the estimates.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, case, cast, func, literal, select, tuple_
from sqlalchemy.orm import Session

from portal.assessment.store import ENGINE
from portal.discovery.cleansing import KEY_FIELD_WEIGHTS
from portal.discovery.tech_debt import STATUSES as TECH_DEBT_STATUSES
from portal.models import Asset, DiscoveryFlow, MasterFlow, SixrAnalysis
from portal.models.assessment import STRATEGIES
from portal.summary import EngagementSummary, engagement_summaries

# Statuses that mean work before or during the migration (the tech-debt phase's findings).
IN_DEBT = TECH_DEBT_STATUSES[:3]
FLOWS_LISTED = 20
# What an unset value is called on the page, per breakdown.
UNSET = {"type": "unspecified", "environment": "unspecified", "tech_debt": "not analysed",
         "strategy": "not assessed"}
# Breakdowns with a natural order keep it (and list every value, even at zero); the
# others go by count, largest first.
ORDERS: dict[str, tuple[str, ...]] = {"tech_debt": TECH_DEBT_STATUSES, "strategy": STRATEGIES}


@dataclass(frozen=True)
class Share:
    """One slice of a breakdown: a label and how many assets it holds."""

    label: str
    count: int


@dataclass(frozen=True)
class FlowProgress:
    """One flow of the engagement as its progress list shows it."""

    flow_id: uuid.UUID
    flow_type: str
    flow_name: str
    status: str | None
    current_phase: str | None
    progress: int


@dataclass(frozen=True)
class FlowTally:
    """How many flows of one type the engagement has, and how many of them completed."""

    flow_type: str
    total: int
    completed: int


@dataclass(frozen=True)
class DataQuality:
    """The data-quality metrics of the engagement's latest cleansed discovery flow."""

    flow_name: str
    score: float
    records_in: int
    duplicates_merged: int
    invalid_total: int
    key_field_completeness: tuple[Share, ...]  # percent (0..100) per key field


@dataclass(frozen=True)
class Estimates:
    """The 6R engine's effort and run-cost estimates, summed over its assessed assets."""

    assessed_assets: int
    mean_confidence: float | None
    person_days: float
    currency: str | None
    current_monthly: float
    target_monthly: float

    @property
    def monthly_saving(self) -> float:
        return self.current_monthly - self.target_monthly


@dataclass(frozen=True)
class EngagementDashboard:
    """Every figure the engagement dashboard shows."""

    assets: int
    applications: int
    by_type: tuple[Share, ...]
    by_environment: tuple[Share, ...]
    by_tech_debt: tuple[Share, ...]
    by_strategy: tuple[Share, ...]
    flows: tuple[FlowProgress, ...]  # the latest FLOWS_LISTED, newest first
    flow_tallies: tuple[FlowTally, ...]
    quality: DataQuality | None
    estimates: Estimates
    summary: EngagementSummary | None  # engagement_summary as of its last refresh

    @property
    def assets_in_tech_debt(self) -> int:
        return sum(share.count for share in self.by_tech_debt if share.label in IN_DEBT)

    @property
    def strategies_assigned(self) -> int:
        return sum(share.count for share in self.by_strategy
                   if share.label != UNSET["strategy"])

    def flows_of_type(self, flow_type: str) -> FlowTally:
        return next((tally for tally in self.flow_tallies if tally.flow_type == flow_type),
                    FlowTally(flow_type, 0, 0))


def engagement_dashboard(session: Session, account_id: uuid.UUID,
                         engagement_id: uuid.UUID) -> EngagementDashboard:
    """All dashboard figures of one engagement of one account."""
    breakdowns = _asset_breakdowns(session, account_id, engagement_id)
    return EngagementDashboard(
        assets=sum(share.count for share in breakdowns["type"]),
        applications=_application_count(session, account_id, engagement_id),
        by_type=breakdowns["type"], by_environment=breakdowns["environment"],
        by_tech_debt=breakdowns["tech_debt"], by_strategy=breakdowns["strategy"],
        flows=_latest_flows(session, account_id, engagement_id),
        flow_tallies=_flow_tallies(session, account_id, engagement_id),
        quality=_data_quality(session, account_id, engagement_id),
        estimates=_estimates(session, account_id, engagement_id),
        summary=next((row for row in engagement_summaries(session)
                      if row.engagement_id == engagement_id), None),
    )


def _of_engagement(model: Any, account_id: uuid.UUID, engagement_id: uuid.UUID) -> tuple:
    return (model.client_account_id == account_id, model.engagement_id == engagement_id)


def _asset_breakdowns(session: Session, account_id: uuid.UUID,
                      engagement_id: uuid.UUID) -> dict[str, tuple[Share, ...]]:
    """Asset counts per type, environment, tech-debt status and current strategy, in one
    scan: each grouping set leaves the other columns NULL, so COALESCE picks its value."""
    columns = {"type": Asset.asset_type, "environment": Asset.environment,
               "tech_debt": Asset.tech_debt_status, "strategy": Asset.sixr_recommendation}
    dimension = case(*((func.grouping(column) == 0, literal(name))
                       for name, column in columns.items()))
    rows = session.execute(
        select(dimension, func.coalesce(*columns.values()), func.count())
        .where(*_of_engagement(Asset, account_id, engagement_id))
        .group_by(func.grouping_sets(*(tuple_(column) for column in columns.values()))))
    counts: dict[str, dict[str, int]] = {name: {} for name in columns}
    for name, value, count in rows:
        label = value if value is not None else UNSET[name]
        counts[name][label] = counts[name].get(label, 0) + count
    return {name: _ordered(counts[name], ORDERS.get(name), UNSET[name]) for name in columns}


def _ordered(counts: dict[str, int], order: Iterable[str] | None,
             unset: str) -> tuple[Share, ...]:
    """Shares in the breakdown's order (every known value, unknown ones after), or by count;
    the unset slice always last.  An empty breakdown stays empty."""
    if not counts:
        return ()
    known = list(order or ())
    labels = known + sorted((label for label in counts if label not in known and label != unset),
                            key=lambda label: (-counts[label], label))
    if unset in counts:
        labels.append(unset)
    return tuple(Share(label, counts.get(label, 0)) for label in labels)


def _application_count(session: Session, account_id: uuid.UUID,
                       engagement_id: uuid.UUID) -> int:
    """Distinct applications the assets serve (an index-only scan of the application sort
    index)."""
    return session.scalar(select(func.count(Asset.application.distinct())).where(
        *_of_engagement(Asset, account_id, engagement_id))) or 0


def _latest_flows(session: Session, account_id: uuid.UUID,
                  engagement_id: uuid.UUID) -> tuple[FlowProgress, ...]:
    rows = session.execute(
        select(MasterFlow.flow_id, MasterFlow.flow_type, MasterFlow.flow_name,
               MasterFlow.flow_status, MasterFlow.current_phase, MasterFlow.progress_percentage)
        .where(*_of_engagement(MasterFlow, account_id, engagement_id))
        .order_by(MasterFlow.created_at.desc(), MasterFlow.flow_id).limit(FLOWS_LISTED))
    return tuple(FlowProgress(flow_id, flow_type, name, status, phase, progress or 0)
                 for flow_id, flow_type, name, status, phase, progress in rows)


def _flow_tallies(session: Session, account_id: uuid.UUID,
                  engagement_id: uuid.UUID) -> tuple[FlowTally, ...]:
    rows = session.execute(
        select(MasterFlow.flow_type, func.count(),
               func.count().filter(MasterFlow.flow_status == "completed"))
        .where(*_of_engagement(MasterFlow, account_id, engagement_id))
        .group_by(MasterFlow.flow_type).order_by(MasterFlow.flow_type))
    return tuple(FlowTally(*row) for row in rows)


def _data_quality(session: Session, account_id: uuid.UUID,
                  engagement_id: uuid.UUID) -> DataQuality | None:
    """The metrics the cleansing phase wrote last (a later import says more about the
    inventory the engagement has now than an older one)."""
    row = session.execute(
        select(DiscoveryFlow.flow_name, DiscoveryFlow.data_quality_metrics)
        .where(*_of_engagement(DiscoveryFlow, account_id, engagement_id),
               DiscoveryFlow.data_quality_metrics["score"].is_not(None))
        .order_by(DiscoveryFlow.updated_at.desc(), DiscoveryFlow.id).limit(1)).first()
    if row is None or not isinstance(row.data_quality_metrics.get("score"), int | float):
        return None
    metrics = row.data_quality_metrics
    completeness = metrics.get("completeness") or {}
    return DataQuality(
        flow_name=row.flow_name, score=float(metrics["score"]),
        records_in=int(metrics.get("records_in") or 0),
        duplicates_merged=int(metrics.get("duplicates_merged") or 0),
        invalid_total=int(metrics.get("invalid_total") or 0),
        key_field_completeness=tuple(
            Share(name, round(100 * float(completeness.get(name) or 0)))
            for name in KEY_FIELD_WEIGHTS))


def _json_number(document: Any, key: str) -> Any:
    """A JSON number of a JSONB column as double precision, NULL for anything else (one
    odd row must not break the page)."""
    return case((func.jsonb_typeof(document[key]) == "number",
                 cast(document[key].astext, Float)))


def _estimates(session: Session, account_id: uuid.UUID,
               engagement_id: uuid.UUID) -> Estimates:
    cost = SixrAnalysis.cost_estimation
    row = session.execute(
        select(func.count(), func.avg(SixrAnalysis.confidence_score),
               func.coalesce(func.sum(_json_number(SixrAnalysis.effort_estimation,
                                                   "person_days")), 0),
               func.min(cost["currency"].astext),
               func.coalesce(func.sum(_json_number(cost, "current_monthly")), 0),
               func.coalesce(func.sum(_json_number(cost, "target_monthly")), 0))
        .where(*_of_engagement(SixrAnalysis, account_id, engagement_id),
               SixrAnalysis.analyzed_by == ENGINE)).one()
    assessed, confidence, person_days, currency, current, target = row
    return Estimates(assessed, float(confidence) if confidence is not None else None,
                     float(person_days), currency, float(current), float(target))
