"""The discovery flow: from an uploaded inventory to a cleansed, de-duplicated asset
inventory with dependencies and tech debt (no Flask in here).

Each phase is a plain function over the flow's context (see portal.flows.engine); the
engine runs one per job and transaction, checkpoints its result and resumes at the phase
that failed.  Phases after the mapping re-derive the cleansed records from the stored
import rows (deterministically) instead of carrying a million records between jobs.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from portal.discovery import imports
from portal.discovery.cleansing import CleansingResult, cleanse
from portal.discovery.dependencies import analyse_dependencies, graph_svg
from portal.discovery.field_mapping import AUTO_ACCEPT_CONFIDENCE
from portal.discovery.fields import derive_name, normalise_name
from portal.discovery.parsing import open_inventory
from portal.discovery.tech_debt import assess_tech_debt
from portal.discovery.validation import RowValidator
from portal.errors import DomainError
from portal.flows.engine import FlowType, Phase, PhaseContext, register_flow_type
from portal.inventory import NAME_MAX, store_dependencies, store_tech_debt, upsert_assets
from portal.models import ClientAccount, DiscoveryFlow

NAME_FIELDS = ("name", "hostname", "fqdn")
BATCH = 20_000


def _import(ctx: PhaseContext):
    return imports.import_in(ctx.session, ctx.account_id, ctx.engagement_id,
                             uuid.UUID(ctx.config["import_id"]))


def mapping_is_confident(mappings) -> bool:
    """Every mapped column at or above the auto-accept confidence, and a name to go by."""
    mapped = [m for m in mappings if m.target]
    return bool(mapped) and all(m.confidence >= AUTO_ACCEPT_CONFIDENCE for m in mapped) \
        and any(m.target in NAME_FIELDS for m in mapped)


def automation_allows(session: Session, account_id: uuid.UUID) -> bool:
    """The account's agent preferences: 'manual' always stops for a human."""
    account = session.get(ClientAccount, account_id)
    level = ((account.agent_preferences or {}) if account else {}).get("automation_level")
    return level != "manual"


def data_import(ctx: PhaseContext) -> dict:
    """The staged import this flow discovers from."""
    found = _import(ctx)
    ctx.child.data_import_id = found.id
    return {"import_id": str(found.id), "rows": found.total_rows, "file": found.filename}


def field_mapping(ctx: PhaseContext) -> dict:
    """Accept a confident mapping automatically when the account allows it; otherwise the
    flow pauses here until someone accepts the mapping on the review page."""
    found = _import(ctx)
    if found.upload_status == "review" and ctx.config.get("unattended"):
        imports.drop_unsure_mappings(found, AUTO_ACCEPT_CONFIDENCE)
    mappings = imports.mappings_of(found)
    if found.upload_status == "review" and mapping_is_confident(mappings) and \
            automation_allows(ctx.session, ctx.account_id):
        imports.accept(ctx.session, found, all_or_nothing=bool(ctx.config.get("all_or_nothing")))
        how = "automatically"
    else:
        how = {"review": None, "validated": "by a reviewer"}.get(found.upload_status, "")
    if found.upload_status == "rejected":
        raise DomainError("the import was accepted all-or-nothing and some rows failed: "
                          "fix the file and upload it again")
    ctx.child.field_mappings = {m.source: m.target for m in mappings}
    return {"accepted": how, "mapped": sum(1 for m in mappings if m.target),
            "columns": len(mappings),
            "needs_review": [m.source for m in mappings if m.target
                             and m.confidence < AUTO_ACCEPT_CONFIDENCE]}


def _awaiting_review(ctx: PhaseContext, result: dict) -> bool:
    return not result["accepted"]


def _records(ctx: PhaseContext) -> Iterator[dict]:
    """The import's valid rows as canonical records, unmapped columns kept in `_extra`."""
    found = _import(ctx)
    if found.upload_status != "validated":
        raise DomainError("the field mapping has not been accepted yet: accept it on the "
                          "import's review page, then resume the flow")
    columns = found.columns_detected
    mappings = imports.mappings_of(found)
    validator = RowValidator(columns, mappings)
    unmapped = [i for i, c in enumerate(columns)
                if not any(m.source == c and m.target for m in mappings)]
    connection = ctx.session.connection().connection.driver_connection
    with connection.cursor(name=f"valid_{uuid.uuid4().hex}") as cursor:
        cursor.execute("SELECT row_number, data FROM import_rows WHERE client_account_id = %s"
                       " AND data_import_id = %s AND errors IS NULL ORDER BY row_number",
                       (ctx.account_id, found.id))
        while rows := cursor.fetchmany(BATCH):
            for number, cells in rows:
                record = dict(validator.check(cells).values)
                record["_row"] = number
                record["_extra"] = {columns[i]: cells[i] for i in unmapped if cells[i]}
                yield record


def _cleansed(ctx: PhaseContext) -> CleansingResult:
    found = _import(ctx)
    invalid = Counter(e["field"] for e in found.validation_errors or [] if e.get("field"))
    return cleanse(_records(ctx), invalid, found.total_rows)


def data_cleansing(ctx: PhaseContext) -> dict:
    result = _cleansed(ctx)
    ctx.child.data_quality_metrics = result.quality
    return {"records": len(result.records), "duplicates_merged": result.duplicates_merged,
            "quality_score": result.quality.get("score"), "merges": result.merges[:50]}


def asset_inventory(ctx: PhaseContext) -> dict:
    counts = upsert_assets(ctx.session, ctx.account_id, ctx.engagement_id,
                           _cleansed(ctx).records, import_id=_import(ctx).id,
                           discovery_flow_id=ctx.flow_id)
    return {"created": counts.created, "updated": counts.updated,
            "unchanged": counts.unchanged, "skipped": counts.skipped}


def _keyed(records: list[dict]) -> list[dict]:
    """Records with the key their asset has (the inventory's own naming rule)."""
    keyed = []
    for record in records:
        name = (derive_name(record) or "")[:NAME_MAX]
        if name:
            keyed.append(record | {"key": normalise_name(name)})
    return keyed


def _connections(ctx: PhaseContext) -> list[dict]:
    path = ctx.config.get("connections_path")
    if not path:
        return []
    parsed = open_inventory(Path(path), Path(path).name)
    index = {c.strip().lower(): i for i, c in enumerate(parsed.columns)}
    missing = {"source", "target"} - set(index)
    if missing:
        raise DomainError(f"the connections file needs columns {', '.join(sorted(missing))}")
    return [{key: row.values[index[key]] for key in ("source", "target", "port")
             if key in index} for row in parsed.rows()]


def dependency_analysis(ctx: PhaseContext) -> dict:
    assets = _keyed(_cleansed(ctx).records)
    result = analyse_dependencies(assets, _connections(ctx))
    store_dependencies(ctx.session, ctx.account_id, ctx.engagement_id, (
        (key, [{"key": upstream, "target": result.per_asset[upstream].get("name", upstream)}
               for upstream in info["depends_on"]])
        for key, info in result.per_asset.items()))
    summary = {"stats": result.stats, "groups": result.groups[:20], "svg": graph_svg(result),
               "cycles": result.cycles[:20], "most_depended_on": result.most_depended_on,
               "unresolved": result.unresolved[:100]}
    ctx.child.analysis_results = dict(ctx.child.analysis_results or {}) | {
        "dependencies": summary}
    return result.stats


def tech_debt(ctx: PhaseContext) -> dict:
    assets = _keyed(_cleansed(ctx).records)
    result = assess_tech_debt(assets, date.today())
    store_tech_debt(ctx.session, ctx.account_id, ctx.engagement_id, result.per_asset.items())
    ctx.child.analysis_results = dict(ctx.child.analysis_results or {}) | {
        "tech_debt": {"summary": result.summary, "worst_products": result.worst_products}}
    return result.summary


DISCOVERY = register_flow_type(FlowType(
    name="discovery", child_model=DiscoveryFlow,
    phases=(
        Phase("data_import", data_import, "Data import"),
        Phase("field_mapping", field_mapping, "Field mapping", pause_after=_awaiting_review),
        Phase("data_cleansing", data_cleansing, "Data cleansing"),
        Phase("asset_inventory", asset_inventory, "Asset inventory"),
        Phase("dependency_analysis", dependency_analysis, "Dependency analysis"),
        Phase("tech_debt", tech_debt, "Tech debt"),
    ),
    completed_flag=lambda phase: f"{phase}_completed"))
