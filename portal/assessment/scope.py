"""An assessment's scope, and the facts of the assets in it, read from the inventory (no
Flask in here).

A scope is one of
  {"kind": "all"}                                          every asset of the engagement;
  {"kind": "filter", "filter": {AssetFilter field: value}} the asset list's filters;
  {"kind": "applications", "applications": [name, ...]}    the assets of chosen applications.

Facts come from what the discovery flow filled: canonical fields in `specifications`, the
tech-debt verdict in `migration_readiness`, declared dependencies in `dependencies` (their
`key` is the depended-on asset's natural key), questionnaire answers in
`configurations["questionnaire"]`.  Dependents and cycles are counted over the whole
engagement, not only the scope: an asset outside the scope still depends on one inside it.
"""
from __future__ import annotations

import re
import uuid
from collections import Counter, namedtuple
from collections.abc import Iterator, Mapping
from dataclasses import fields as dataclass_fields
from functools import lru_cache
from operator import attrgetter
from typing import Any

import networkx as nx
from sqlalchemy import Float, case, func, literal_column, select, true
from sqlalchemy.orm import Session

from portal.assessment.facts import ANSWER_KEYS, AssetFacts
from portal.bulk import streamed
from portal.client_accounts import COMPLIANCE_REQUIREMENTS
from portal.errors import DomainError
from portal.inventory import AssetFilter, filter_conditions
from portal.models import Asset

SCOPE_KINDS = ("all", "filter", "applications")
BATCH = 10_000
FIRST_BATCH = 1_000  # small, so that an assessment's writes start sooner

# The canonical fields whose absence the engine notices; completeness is their share.
ASSESSED_FIELDS = ("asset_type", "environment", "os_name", "os_version",
                   "business_criticality", "cpu_cores", "memory_gb", "storage_gb",
                   "cpu_utilization_pct", "application")
_SPEC_TEXT = ("os_name", "os_version", "business_criticality", "application", "power_state",
              "hypervisor")
_SPEC_NUMBER = ("cpu_cores", "memory_gb", "storage_gb", "cpu_utilization_pct",
                "memory_utilization_pct")
_TAG_SPLIT = re.compile(r"[,;|]")
_COMPLIANCE_SPELLINGS = {"pci": "pci-dss", "pcidss": "pci-dss"} | {
    name: name for name in COMPLIANCE_REQUIREMENTS}


def parse_scope(scope: Mapping[str, Any] | None) -> dict[str, Any]:
    """A scope as stored on the flow, checked; DomainError says what is wrong."""
    scope = dict(scope or {"kind": "all"})
    kind = scope.get("kind", "all")
    if kind not in SCOPE_KINDS:
        raise DomainError(f"unknown assessment scope {kind!r}: choose one of "
                          f"{', '.join(SCOPE_KINDS)}")
    if kind == "filter":
        known = {f.name for f in dataclass_fields(AssetFilter)}
        given = {k: v for k, v in (scope.get("filter") or {}).items() if v}
        unknown = set(given) - known
        if unknown:
            raise DomainError(f"unknown asset filter {', '.join(sorted(unknown))}")
        if not given:
            raise DomainError("a filtered assessment needs at least one filter")
        return {"kind": kind, "filter": given}
    if kind == "applications":
        names = sorted({str(n).strip() for n in scope.get("applications") or ()
                        if str(n).strip()})
        if not names:
            raise DomainError("choose at least one application to assess")
        return {"kind": kind, "applications": names}
    return {"kind": "all"}


def scope_conditions(account_id: uuid.UUID, engagement_id: uuid.UUID,
                     scope: Mapping[str, Any]) -> list:
    """WHERE conditions selecting the scope's assets (tenant and engagement first)."""
    scope = parse_scope(scope)
    if scope["kind"] == "filter":
        return filter_conditions(account_id, engagement_id, AssetFilter(**scope["filter"]))
    conditions = filter_conditions(account_id, engagement_id, AssetFilter())
    if scope["kind"] == "applications":
        conditions.append(Asset.application.in_(scope["applications"]))
    return conditions


def count_in_scope(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                   scope: Mapping[str, Any]) -> int:
    return session.scalar(select(func.count()).select_from(Asset).where(
        *scope_conditions(account_id, engagement_id, scope)))


# ---------------------------------------------------------------------------------------
# The engagement's dependency graph


class Graph:
    """Per asset key: how many assets depend on it, and whether it sits on a cycle."""

    def __init__(self, dependents: Counter | None = None,
                 cyclic: frozenset[str] = frozenset()) -> None:
        self.dependents = dependents if dependents is not None else Counter()
        self.cyclic = cyclic


def engagement_graph(session: Session, account_id: uuid.UUID,
                     engagement_id: uuid.UUID) -> Graph:
    edge = func.jsonb_array_elements(Asset.dependencies).table_valued("value").alias("edge")
    target = edge.c.value.op("->>")(literal_column("'key'"))
    rows = session.execute(
        select(Asset.asset_key, target).select_from(Asset).join(edge, true()).where(
            Asset.client_account_id == account_id, Asset.engagement_id == engagement_id,
            func.jsonb_typeof(Asset.dependencies) == "array"))
    graph: nx.DiGraph = nx.DiGraph()
    dependents: Counter = Counter()
    for source, depended_on in rows:
        if depended_on and depended_on != source:
            graph.add_edge(source, depended_on)
            dependents[depended_on] += 1
    cyclic = frozenset(key for component in nx.strongly_connected_components(graph)
                       if len(component) > 1 for key in component)
    return Graph(dependents, cyclic)


# ---------------------------------------------------------------------------------------
# Reading facts

def _spec_number(name: str):
    value = Asset.specifications[name]
    return case((func.jsonb_typeof(value) == "number", value.astext.cast(Float)),
                else_=None).label(name)


_COLUMNS = (
    Asset.id, Asset.asset_name, Asset.asset_key, Asset.asset_type, Asset.environment,
    *(Asset.specifications[name].astext.label(name) for name in _SPEC_TEXT),
    *(_spec_number(name) for name in _SPEC_NUMBER),
    Asset.specifications["tags"].label("tags"),
    Asset.tech_debt_status, Asset.tech_debt_score,
    case((func.jsonb_typeof(Asset.dependencies) == "array",
          func.jsonb_array_length(Asset.dependencies)), else_=0).label("depends_on_count"),
    Asset.configurations["questionnaire"].label("questionnaire"),
)
# A row of `_COLUMNS` by name (`rows_in_scope` gives plain tuples, which cross to a worker
# process cheaply).
FactRow = namedtuple("FactRow", select(*_COLUMNS).selected_columns.keys())


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = _TAG_SPLIT.split(value)
    if not isinstance(value, list):
        return ()
    return tuple(str(item).strip() for item in value if str(item).strip())


@lru_cache(maxsize=4096)  # tags repeat across an inventory
def _compliance(tags: tuple[str, ...]) -> tuple[str, ...]:
    spelled = (t.casefold().replace(" ", "").replace("_", "-") for t in tags)
    return tuple(_COMPLIANCE_SPELLINGS[t] for t in spelled if t in _COMPLIANCE_SPELLINGS)


def _answers(value: Any) -> dict[str, str]:
    """The questionnaire answers the engine knows (ANSWER_KEYS), as lower-case text."""
    if not isinstance(value, dict):
        return {}
    return {key: str(answer).strip().casefold() for key, answer in value.items()
            if key in ANSWER_KEYS and answer not in (None, "")}


_assessed = attrgetter(*ASSESSED_FIELDS)


def _completeness(row) -> float:
    values = _assessed(row)
    present = len(values) - values.count(None) - values.count("")
    return round(present / len(ASSESSED_FIELDS), 2)


def facts_of(row, graph: Graph) -> AssetFacts:
    """The engine's view of one row of `_COLUMNS` (a `FactRow`, or a result row)."""
    tags = _tags(row.tags)
    cores = row.cpu_cores
    return AssetFacts(
        asset_id=str(row.id), name=row.asset_name, asset_type=row.asset_type,
        environment=row.environment, os_name=row.os_name, os_version=row.os_version,
        business_criticality=row.business_criticality,
        tech_debt_status=row.tech_debt_status, tech_debt_score=row.tech_debt_score,
        cpu_cores=round(cores) if cores is not None else None, memory_gb=row.memory_gb,
        storage_gb=row.storage_gb, cpu_utilization_pct=row.cpu_utilization_pct,
        memory_utilization_pct=row.memory_utilization_pct, power_state=row.power_state,
        application=row.application, hypervisor=row.hypervisor,
        depends_on_count=row.depends_on_count,
        dependents_count=graph.dependents[row.asset_key],
        in_cycle=row.asset_key in graph.cyclic, completeness=_completeness(row),
        compliance=_compliance(tags), tags=tags, answers=_answers(row.questionnaire))


def rows_in_scope(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                  scope: Mapping[str, Any]) -> Iterator[list[tuple]]:
    """The scope's assets as tuples in `FactRow` order, in batches (FIRST_BATCH, then
    BATCH), application by application (by name, the assets of none last), each
    application's by natural key."""
    return streamed(session, select(*_COLUMNS)
                    .where(*scope_conditions(account_id, engagement_id, scope))
                    .order_by(Asset.application, Asset.asset_key), BATCH, FIRST_BATCH)


def facts_of_asset(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                   asset_id: uuid.UUID) -> AssetFacts | None:
    """One asset's own facts, without the engagement's graph (dependents count 0): enough
    to know which assets are similar to it."""
    row = session.execute(select(*_COLUMNS).where(
        *filter_conditions(account_id, engagement_id, AssetFilter()),
        Asset.id == asset_id)).one_or_none()
    return facts_of(row, Graph()) if row else None
