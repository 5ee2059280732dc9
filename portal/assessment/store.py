"""Storing 6R recommendations (no Flask in here).

`sixr_analysis` holds ONE engine row per assessed asset (`analyzed_by = 'engine'`, a unique
partial index says so), rewritten by each assessment that covers the asset, plus one row per
consultant override (`analyzed_by = 'user:<id>'`, `analysis_criteria["override"]` set; see
`portal.assessment.overrides`), which are never replaced: the engine's view and every human
decision stay visible side by side.  The asset's `sixr_recommendation` is the current
decision: the latest override when there is one, else the engine's; its `last_analyzed` is
when an assessment last covered it, while the engine row's `analyzed_at` is when the engine
last came to a different conclusion (a re-assessment that changes nothing rewrites no
analysis).

Writes are set-based: COPY into temporary tables, then one statement per table.  Assets that
meet the same decision (see `Recommendation.basis`) share its primary strategy, scores,
contributions, rationale and risks, so each decision is sent and parsed once per batch as a
document and each asset sends only what is its own (sizes, estimates, scores): a batch of
ten thousand assets typically carries a few hundred documents.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.assessment.sixr import Recommendation
from portal.bulk import copy_text, csv_text, dumps, raw_cursor, time_ordered_ids
from portal.models import SixrAnalysis

ENGINE = "engine"  # sixr_analysis.analyzed_by of the engine's rows
OVERRIDE_BY = "user:"  # prefix of analyzed_by on a consultant's override

# Per decision, and per asset, as stored in sixr_analysis.
_DECISION_JSON = ("alternative_options", "analysis_criteria", "risk_factors")
_DECISION_COLUMNS = ("primary_recommendation", "confidence_score", "rationale",
                     *_DECISION_JSON)
_ASSET_JSON = ("cost_estimation", "effort_estimation", "business_impact",
               "technical_considerations")
_ANALYSIS_COLUMNS = (*_DECISION_COLUMNS, *_ASSET_JSON)

# Decisions live as long as the transaction (an assessment's analysis phase is one), so
# each is sent once however many batches meet it; the assets' table holds one batch.
_INCOMING = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming_decisions (decision int PRIMARY KEY,"
    " primary_recommendation text, confidence_score double precision, rationale text, "
    + ", ".join(f"{c} jsonb" for c in _DECISION_JSON) + ") ON COMMIT DROP;"
    " CREATE TEMP TABLE IF NOT EXISTS incoming_sixr (new_id uuid, asset_id uuid, decision int,"
    " primary_recommendation text, complexity_score int, risk_score int,"
    " overridden boolean, "
    + ", ".join(f"{c} jsonb" for c in _ASSET_JSON) + ") ON COMMIT DROP;"
    " TRUNCATE incoming_sixr")


def _from_incoming(column: str) -> str:
    return f"d.{column}" if column in _DECISION_COLUMNS else f"i.{column}"


# One engine row per asset (a unique partial index): new assets get one (with a
# time-ordered id, see bulk.time_ordered_ids), the others are rewritten in place when the
# analysis differs.
_UPSERT = f"""
    INSERT INTO sixr_analysis AS s (id, client_account_id, engagement_id, asset_id,
        {", ".join(_ANALYSIS_COLUMNS)}, analyzed_by, analyzed_at)
    SELECT i.new_id, %(account)s, %(engagement)s, i.asset_id,
        {", ".join(map(_from_incoming, _ANALYSIS_COLUMNS))}, 'engine', now()
    FROM incoming_sixr i JOIN incoming_decisions d USING (decision)
    ON CONFLICT (client_account_id, asset_id) WHERE analyzed_by = 'engine' DO UPDATE SET
        engagement_id = EXCLUDED.engagement_id,
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _ANALYSIS_COLUMNS)},
        analyzed_at = EXCLUDED.analyzed_at
    WHERE (s.engagement_id, {", ".join(f"s.{c}" for c in _ANALYSIS_COLUMNS)})
          IS DISTINCT FROM
          (EXCLUDED.engagement_id, {", ".join(f"EXCLUDED.{c}" for c in _ANALYSIS_COLUMNS)})"""

# An overridden asset keeps the consultant's strategy; scores and the time follow the engine.
# Each of the batch's assets is found through the primary key: nested loops only, and no
# materialised inner side (the audit trigger plans its own joins, see the migration
# "assessment_batches").  Planned freely, the update read every asset of the tenant for
# each batch: hashed when the table had statistics, and when it had none (just after an
# import) rescanned from a materialised copy for each asset (measured on 100,000 assets:
# 27 s and 450 s of updates in all, instead of 5 s).
_INDEX_DRIVEN = ("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;"
                 " SET LOCAL enable_material = off")
_PLANNED_FREELY = "RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material"
_UPDATE_ASSETS = """
    UPDATE assets a SET
        sixr_recommendation = CASE WHEN i.overridden THEN a.sixr_recommendation
                                   ELSE i.primary_recommendation END,
        complexity_score = i.complexity_score, risk_score = i.risk_score,
        last_analyzed = now()
    FROM incoming_sixr i
    WHERE a.client_account_id = %(account)s AND a.engagement_id = %(engagement)s
      AND a.id = i.asset_id"""


def overridden_assets(session: Session, account_id: uuid.UUID) -> frozenset[str]:
    """The ids (text) of the account's assets a consultant has decided: their
    `sixr_recommendation` stays the consultant's (one query per assessment)."""
    return frozenset(str(asset_id) for asset_id in session.scalars(
        select(SixrAnalysis.asset_id).distinct().where(
            SixrAnalysis.client_account_id == account_id,
            SixrAnalysis.analyzed_by != ENGINE)))


@dataclass
class PreparedBatch:
    """A batch of recommendations as CSV for `store_recommendations`: the decisions no
    earlier batch of the assessment carried, numbered, and each asset with its decision's
    number.  `first`: the assessment's first batch (earlier numbers are void); `count`: its
    assets."""
    decisions: str
    assets: str
    first: bool
    count: int


class Preparer:
    """Turns one assessment's recommendations into `PreparedBatch`es, numbering decisions
    across its batches (pure Python: the flow prepares the next batch on another thread
    while this one is written).  `overridden`: see `overridden_assets`."""

    def __init__(self, overridden: frozenset[str] = frozenset()) -> None:
        self.overridden = overridden
        self.numbers: dict[tuple, int] = {}
        self.batches = 0

    def prepared(self, recommendations: Iterable[Recommendation]) -> PreparedBatch:
        decisions: list[tuple] = []
        assets: list[tuple] = []
        new_id = time_ordered_ids()
        texts: dict[int, str] = {}  # estimates are often shared objects: serialised once

        def text(value) -> str:
            found = texts.get(id(value))
            if found is None:
                found = texts[id(value)] = dumps(value)
            return found

        for rec in recommendations:
            basis = rec.basis if rec.basis is not None else ("asset", rec.asset_id)
            number = self.numbers.get(basis)
            if number is None:
                number = self.numbers[basis] = len(self.numbers)
                row = rec.sixr_row()
                decisions.append((number, rec.primary, rec.confidence, rec.rationale,
                                  *(dumps(row[c]) for c in _DECISION_JSON)))
            assets.append((new_id(len(assets)), rec.asset_id, number, rec.primary,
                           rec.complexity_score, rec.risk_score,
                           rec.asset_id in self.overridden, text(rec.cost),
                           text(rec.effort), text(rec.business_impact),
                           text(rec.technical_considerations)))
        self.batches += 1
        return PreparedBatch(csv_text(decisions), csv_text(assets), self.batches == 1,
                             len(assets))


def store_recommendations(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                          batch: PreparedBatch) -> None:
    """Write the engine's analyses (a `Preparer`'s batch, the batches of one assessment
    in order and in one transaction) over its earlier ones for these assets and update
    the assets; the session's tenant must be `account_id`."""
    scope = {"account": account_id, "engagement": engagement_id}
    with raw_cursor(session) as cursor:
        cursor.execute(_INCOMING)
        if batch.first:
            cursor.execute("TRUNCATE incoming_decisions")
        copy_text(cursor, "incoming_decisions", batch.decisions)
        copy_text(cursor, "incoming_sixr", batch.assets)
        cursor.execute(_UPSERT, scope)
        cursor.execute(_INDEX_DRIVEN)
        cursor.execute(_UPDATE_ASSETS, scope)
        cursor.execute(_PLANNED_FREELY)
    session.expire_all()
