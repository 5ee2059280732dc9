"""The discovery flow: from an uploaded inventory to a cleansed, de-duplicated asset
inventory with dependencies and tech debt (no Flask in here).

Each phase is a plain function over the flow's context (see portal.flows.engine); the
engine runs one per job and transaction, checkpoints its result and resumes at the phase
that failed.  The cleansing phase cleanses the import once and keeps the result in the
database (portal.discovery.cleansed_records); the phases after it stream those records in
batches, so no phase holds a million records, and a phase run again reads what the
cleansing wrote, whatever happened in between.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from portal.bulk import dumps
from portal.discovery import imports
from portal.discovery.cleansed_records import cleanse_into_store, delete_records, stream_records
from portal.discovery.dependencies import NO_DEPENDENCIES, analyse_dependencies, graph_svg
from portal.discovery.field_mapping import AUTO_ACCEPT_CONFIDENCE
from portal.discovery.parsing import open_inventory
from portal.discovery.tech_debt import TechDebtAssessor
from portal.discovery.validation import RowValidator
from portal.errors import DomainError
from portal.flows.engine import FlowType, Phase, PhaseContext, register_flow_type
from portal.inventory import (refresh_inventory_statistics, store_dependencies,
                              store_tech_debt, upsert_assets)
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


def data_cleansing(ctx: PhaseContext) -> dict:
    """Cleanse the import once, into the flow's cleansed records (the later phases stream
    them back)."""
    found = _import(ctx)
    invalid = Counter(e["field"] for e in found.validation_errors or [] if e.get("field"))
    summary = cleanse_into_store(ctx.session, ctx.account_id, ctx.flow_id, _records(ctx),
                                 invalid, found.total_rows)
    ctx.child.data_quality_metrics = summary.quality
    return {"records": summary.records_out, "duplicates_merged": summary.duplicates_merged,
            "quality_score": summary.quality.get("score"), "merges": summary.merges[:50]}


def _tech_debt_readiness() -> Callable[[dict], str]:
    """The `migration_readiness` a new asset starts with: its tech-debt verdict, as the
    tech_debt phase would write it (so that phase finds nothing to change for it).  Assets
    with the same findings share one verdict object: each is serialised once."""
    assessor = TechDebtAssessor(date.today())
    texts: dict[int, tuple[dict, str]] = {}

    def readiness(record: dict) -> str:
        _, verdict = assessor.judge(record)
        known = texts.get(id(verdict))
        if known is None or known[0] is not verdict:
            known = texts[id(verdict)] = (verdict, dumps({"tech_debt": verdict}))
        return known[1]
    return readiness


def asset_inventory(ctx: PhaseContext) -> dict:
    """Upsert the cleansed records; new assets get their tech-debt verdict in the same
    write (see upsert_assets' `new_readiness`)."""
    records = (record for (record,) in stream_records(ctx.session, ctx.account_id,
                                                      ctx.flow_id, "record"))
    counts = upsert_assets(ctx.session, ctx.account_id, ctx.engagement_id, records,
                           import_id=_import(ctx).id, discovery_flow_id=ctx.flow_id,
                           new_readiness=_tech_debt_readiness())
    refresh_inventory_statistics(ctx.session)  # the next phases write by key
    return {"created": counts.created, "updated": counts.updated,
            "unchanged": counts.unchanged, "skipped": counts.skipped}


class _Named:
    """The flow's cleansed records that name an asset, as {"key", "name", "hostname",
    "fqdn", "ip_address", "depends_on"}: each iteration streams them again from the
    database (the dependency analysis reads them more than once; keeping a million in
    memory is what it must not do)."""

    # Text, not JSON, where text is all the analysis reads: one JSON parse per row, not five.
    COLUMNS = ("asset_key, record->>'name', record->>'hostname', record->>'fqdn',"
               " record->>'ip_address', record->'depends_on'")
    FIELDS = ("key", "name", "hostname", "fqdn", "ip_address", "depends_on")

    def __init__(self, ctx: PhaseContext) -> None:
        self.ctx = ctx

    def __iter__(self) -> Iterator[dict]:
        for row in stream_records(self.ctx.session, self.ctx.account_id, self.ctx.flow_id,
                                  self.COLUMNS, "asset_key IS NOT NULL"):
            yield dict(zip(self.FIELDS, row, strict=False))


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
    result = analyse_dependencies(_Named(ctx), _connections(ctx))
    keys = (key for (key,) in stream_records(ctx.session, ctx.account_id, ctx.flow_id,
                                             "asset_key", "asset_key IS NOT NULL"))
    store_dependencies(ctx.session, ctx.account_id, ctx.engagement_id, (
        (key, [{"key": upstream, "target": result.per_asset.name_of(upstream)}
               for upstream in result.per_asset.get(key, NO_DEPENDENCIES)["depends_on"]])
        for key in keys))
    summary = {"stats": result.stats, "groups": result.groups[:20], "svg": graph_svg(result),
               "cycles": result.cycles[:20], "most_depended_on": result.most_depended_on,
               "unresolved": result.unresolved[:100]}
    ctx.child.analysis_results = dict(ctx.child.analysis_results or {}) | {
        "dependencies": summary}
    return result.stats


def tech_debt(ctx: PhaseContext) -> dict:
    """Judge every asset's end of life and store the verdicts that differ (new assets
    already have theirs, from the inventory phase), then drop the flow's cleansed
    records: this is the last phase that reads them."""
    assessor = TechDebtAssessor(date.today())
    store_tech_debt(ctx.session, ctx.account_id, ctx.engagement_id, (
        assessor.judge(record | {"key": key}) for key, record in stream_records(
            ctx.session, ctx.account_id, ctx.flow_id, where="asset_key IS NOT NULL")))
    summary = assessor.summary()
    ctx.child.analysis_results = dict(ctx.child.analysis_results or {}) | {
        "tech_debt": {"summary": summary, "worst_products": assessor.worst_products()}}
    delete_records(ctx.session, ctx.account_id, ctx.flow_id)
    return summary


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
