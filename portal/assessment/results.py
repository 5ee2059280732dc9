"""Reading 6R results for the pages and exports (no Flask in here).

A result is an assessed asset: its engine analysis (`sixr_analysis`, analyzed_by 'engine')
and its current decision (`assets.sixr_recommendation`, which an override may have changed).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from portal.assessment.overrides import engine_analysis, override_history
from portal.assessment.store import ENGINE, OVERRIDE_BY
from portal.errors import DomainError, NotFound
from portal.inventory import AssetFilter, asset_detail, filter_conditions
from portal.models import STRATEGIES, AssessmentFlow, Asset, MasterFlow, SixrAnalysis

PAGE_SIZE = 50


@dataclass(frozen=True)
class ResultFilter:
    strategy: str | None = None        # the current decision
    min_confidence: float | None = None
    max_confidence: float | None = None
    application: str | None = None
    overridden: bool | None = None

    def __post_init__(self) -> None:
        if self.strategy and self.strategy not in STRATEGIES:
            raise DomainError(f"unknown strategy {self.strategy!r}")
        for bound in (self.min_confidence, self.max_confidence):
            if bound is not None and not 0 <= bound <= 1:
                raise DomainError("confidence bounds are between 0 and 100 %")


_OVERRIDDEN = exists().where(SixrAnalysis.client_account_id == Asset.client_account_id,
                             SixrAnalysis.asset_id == Asset.id,
                             SixrAnalysis.analyzed_by.startswith(OVERRIDE_BY))
_ENGINE_ROW = aliased(SixrAnalysis, name="engine_row")
_PERSON_DAYS = _ENGINE_ROW.effort_estimation["person_days"].astext.cast(Float)
_CURRENT = _ENGINE_ROW.cost_estimation["current_monthly"].astext.cast(Float)
_TARGET = _ENGINE_ROW.cost_estimation["target_monthly"].astext.cast(Float)

# key: (label, column)
SORTS: dict[str, tuple[str, Any]] = {
    "name": ("Asset", Asset.asset_key),
    "application": ("Application", Asset.application),
    "strategy": ("Strategy", Asset.sixr_recommendation),
    "confidence": ("Confidence", _ENGINE_ROW.confidence_score),
    "effort": ("Effort", _PERSON_DAYS),
    "risk": ("Risk", Asset.risk_score),
}


@dataclass(frozen=True)
class ResultRow:
    asset_id: uuid.UUID
    name: str
    application: str | None
    environment: str | None
    asset_type: str | None
    strategy: str | None            # current decision
    engine_strategy: str
    confidence: float
    overridden: bool
    person_days: float | None
    current_monthly: float | None
    target_monthly: float | None
    risk_score: int | None


@dataclass(frozen=True)
class ResultPage:
    rows: list[ResultRow]
    total: int
    page: int
    pages: int


def _query(account_id: uuid.UUID, engagement_id: uuid.UUID, f: ResultFilter):
    conditions = [*filter_conditions(account_id, engagement_id, AssetFilter(
                      application=f.application, sixr=f.strategy)),
                  _ENGINE_ROW.client_account_id == account_id]
    if f.min_confidence is not None:
        conditions.append(_ENGINE_ROW.confidence_score >= f.min_confidence)
    if f.max_confidence is not None:
        conditions.append(_ENGINE_ROW.confidence_score <= f.max_confidence)
    if f.overridden is not None:
        conditions.append(_OVERRIDDEN if f.overridden else ~_OVERRIDDEN)
    return (select(Asset.id, Asset.asset_name, Asset.application, Asset.environment,
                   Asset.asset_type, Asset.sixr_recommendation,
                   _ENGINE_ROW.primary_recommendation, _ENGINE_ROW.confidence_score,
                   _OVERRIDDEN.label("overridden"), _PERSON_DAYS, _CURRENT, _TARGET,
                   Asset.risk_score)
            .join(_ENGINE_ROW, and_(_ENGINE_ROW.asset_id == Asset.id,
                                    _ENGINE_ROW.analyzed_by == ENGINE))
            .where(*conditions))


def _ordered(query, sort: str, descending: bool):
    if sort not in SORTS:
        raise DomainError(f"cannot sort by {sort!r}")
    column = SORTS[sort][1]
    key = column.desc().nulls_last() if descending else column.asc().nulls_last()
    return query.order_by(key, Asset.asset_key)


def result_page(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                f: ResultFilter, sort: str = "name", descending: bool = False,
                page: int = 1) -> ResultPage:
    query = _query(account_id, engagement_id, f)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(_ordered(query, sort, descending)
                           .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return ResultPage([ResultRow(*row) for row in rows], total, page, pages)


EXPORT_HEADER = ("asset", "application", "environment", "asset_type", "strategy",
                 "engine_strategy", "confidence", "overridden", "effort_person_days",
                 "current_monthly_usd", "target_monthly_usd", "risk_score", "rationale")


def export_rows(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                f: ResultFilter, sort: str = "name", descending: bool = False
                ) -> Iterator[tuple]:
    query = _ordered(_query(account_id, engagement_id, f).add_columns(_ENGINE_ROW.rationale),
                     sort, descending)
    for row in session.execute(query.execution_options(yield_per=2_000)):
        yield (row[1], *row[2:7], round(row[7], 3), "yes" if row[8] else "no", *row[9:])


@dataclass(frozen=True)
class Distribution:
    counts: dict[str, int]
    total: int
    overridden: int

    def bars(self) -> list[tuple[str, int, str]]:
        """(strategy, count, css class) for the charts macro."""
        return [(s, n, f"s-{s}") for s, n in self.counts.items()]


def distribution(session: Session, account_id: uuid.UUID,
                 engagement_id: uuid.UUID) -> Distribution:
    """Current decisions per strategy over the engagement's assessed assets."""
    conditions = filter_conditions(account_id, engagement_id, AssetFilter())
    counts = dict(session.execute(
        select(Asset.sixr_recommendation, func.count()).where(
            *conditions, Asset.sixr_recommendation.is_not(None))
        .group_by(Asset.sixr_recommendation)).all())
    overridden = session.scalar(select(func.count(func.distinct(SixrAnalysis.asset_id))).where(
        SixrAnalysis.client_account_id == account_id,
        SixrAnalysis.engagement_id == engagement_id,
        SixrAnalysis.analyzed_by.startswith(OVERRIDE_BY)))
    ordered = {s: counts.get(s, 0) for s in STRATEGIES}
    return Distribution(ordered, sum(ordered.values()), overridden or 0)


def applications_of(session: Session, account_id: uuid.UUID,
                    engagement_id: uuid.UUID) -> list[str]:
    """The engagement's application names (for filters), sorted."""
    return list(session.scalars(select(Asset.application).distinct().where(
        *filter_conditions(account_id, engagement_id, AssetFilter()),
        Asset.application.is_not(None)).order_by(Asset.application).limit(1_000)))


@dataclass(frozen=True)
class Explanation:
    asset: Asset
    analysis: SixrAnalysis
    overrides: list[SixrAnalysis]
    contributions: list[dict]


def explanation(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                asset_id: uuid.UUID) -> Explanation:
    """An assessed asset with its engine analysis and its overrides; NotFound otherwise."""
    asset = asset_detail(session, account_id, engagement_id, asset_id)
    analysis = engine_analysis(session, account_id, asset.id)
    if analysis is None:
        raise NotFound("this asset has not been assessed yet")
    criteria = analysis.analysis_criteria or {}
    primary = analysis.primary_recommendation
    mine = [{"factor": c.get("factor"), "detail": c.get("detail"),
             "points": float(c["points"][primary])}
            for c in criteria.get("contributions") or []
            if isinstance(c.get("points"), dict) and primary in c["points"]]
    return Explanation(asset, analysis, override_history(session, account_id, asset.id),
                       sorted(mine, key=lambda c: -abs(c["points"])))


def latest_assessment(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID
                      ) -> tuple[MasterFlow, AssessmentFlow] | None:
    """The engagement's newest assessment flow (master, child), whatever its status."""
    row = session.execute(
        select(MasterFlow, AssessmentFlow).join(AssessmentFlow, and_(
            AssessmentFlow.client_account_id == MasterFlow.client_account_id,
            AssessmentFlow.flow_id == MasterFlow.flow_id))
        .where(MasterFlow.client_account_id == account_id,
               MasterFlow.engagement_id == engagement_id,
               MasterFlow.flow_type == "assessment")
        .order_by(MasterFlow.created_at.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def latest_applications(session: Session, account_id: uuid.UUID,
                        engagement_id: uuid.UUID) -> list[dict]:
    """Application verdicts of the newest completed assessment that grouped applications."""
    child = session.scalars(
        select(AssessmentFlow).where(
            AssessmentFlow.client_account_id == account_id,
            AssessmentFlow.engagement_id == engagement_id,
            AssessmentFlow.status == "completed",
            AssessmentFlow.recommendations["applications"].is_not(None))
        .order_by(AssessmentFlow.completed_at.desc()).limit(1)).first()
    return list((child.recommendations or {}).get("applications") or []) if child else []
