"""Storing 6R recommendations (no Flask in here).

`sixr_analysis` holds ONE engine row per assessed asset (`analyzed_by = 'engine'`, a unique
partial index says so), rewritten by each assessment that covers the asset, plus one row per
consultant override (`analyzed_by = 'user:<id>'`, `analysis_criteria["override"]` set; see
`portal.assessment.overrides`), which are never replaced: the engine's view and every human
decision stay visible side by side.  The asset's `sixr_recommendation` is the current
decision: the latest override when there is one, else the engine's.

Writes are set-based (COPY into a temporary table, then one statement per table), so an
assessment of a hundred thousand assets costs a handful of statements.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from portal.assessment.sixr import Recommendation
from portal.bulk import copy_csv, dumps, raw_cursor

ENGINE = "engine"  # sixr_analysis.analyzed_by of the engine's rows
OVERRIDE_BY = "user:"  # prefix of analyzed_by on a consultant's override

_JSON_COLUMNS = ("alternative_options", "analysis_criteria", "cost_estimation",
                 "effort_estimation", "risk_factors", "business_impact",
                 "technical_considerations")

_INCOMING = ("CREATE TEMP TABLE incoming_sixr (asset_id uuid, primary_recommendation text,"
             " confidence_score double precision, rationale text, complexity_score int,"
             " risk_score int, overridden boolean, "
             + ", ".join(f"{c} jsonb" for c in _JSON_COLUMNS) + ") ON COMMIT DROP")

# One engine row per asset (a unique partial index): new assets get one, the others are
# rewritten in place.
_UPSERT = f"""
    INSERT INTO sixr_analysis AS s (client_account_id, engagement_id, asset_id,
        primary_recommendation, confidence_score, rationale, {", ".join(_JSON_COLUMNS)},
        analyzed_by, analyzed_at)
    SELECT %(account)s, %(engagement)s, i.asset_id, i.primary_recommendation,
        i.confidence_score, i.rationale, {", ".join(f"i.{c}" for c in _JSON_COLUMNS)},
        'engine', now()
    FROM incoming_sixr i
    ON CONFLICT (client_account_id, asset_id) WHERE analyzed_by = 'engine' DO UPDATE SET
        engagement_id = EXCLUDED.engagement_id,
        primary_recommendation = EXCLUDED.primary_recommendation,
        confidence_score = EXCLUDED.confidence_score, rationale = EXCLUDED.rationale,
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _JSON_COLUMNS)},
        analyzed_at = EXCLUDED.analyzed_at"""

# Which of the batch's assets a consultant has decided (one hash join for the batch, not a
# lookup per asset).
_MARK_OVERRIDDEN = """
    UPDATE incoming_sixr i SET overridden = true
    FROM sixr_analysis o
    WHERE o.client_account_id = %(account)s AND o.asset_id = i.asset_id
      AND o.analyzed_by <> 'engine'"""

# An overridden asset keeps the consultant's strategy; scores and the time follow the engine.
_UPDATE_ASSETS = """
    UPDATE assets a SET
        sixr_recommendation = CASE WHEN i.overridden THEN a.sixr_recommendation
                                   ELSE i.primary_recommendation END,
        complexity_score = i.complexity_score, risk_score = i.risk_score,
        last_analyzed = now()
    FROM incoming_sixr i
    WHERE a.client_account_id = %(account)s AND a.engagement_id = %(engagement)s
      AND a.id = i.asset_id"""


def prepared(recommendations: Iterable[Recommendation]) -> list[tuple]:
    """The recommendations as rows for `store_recommendations` (pure Python: the flow
    prepares the next batch on another thread while this one is written)."""
    return [(rec.asset_id, row["primary_recommendation"], row["confidence_score"],
             row["rationale"], rec.complexity_score, rec.risk_score, False,
             *(dumps(row[c]) for c in _JSON_COLUMNS))
            for rec in recommendations for row in (rec.sixr_row(),)]


def store_recommendations(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                          rows: Sequence[tuple]) -> None:
    """Write the engine's analyses (`prepared` rows) over its earlier ones for these assets
    and update the assets; the session's tenant must be `account_id`."""
    scope = {"account": account_id, "engagement": engagement_id}
    with raw_cursor(session) as cursor:
        cursor.execute(_INCOMING)
        copy_csv(cursor, "incoming_sixr", rows)
        cursor.execute(_MARK_OVERRIDDEN, scope)
        cursor.execute(_UPSERT, scope)
        cursor.execute(_UPDATE_ASSETS, scope)
        cursor.execute("DROP TABLE incoming_sixr")
    session.expire_all()
