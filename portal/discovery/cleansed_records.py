"""A discovery flow's cleansed records, kept in `cleansed_records` between its phases (no
Flask in here).

The `data_cleansing` phase cleanses the import once, in bounded memory, and writes the
result in its own transaction (`cleanse_into_store`); the asset inventory, dependency and
tech-debt phases stream it back in batches (`stream_records`) instead of cleansing every
record again in memory.  Re-running the phase replaces what an earlier run wrote.

How the streaming cleanse keeps memory flat at a million rows: records are normalised a
batch at a time (`cleansing.Normaliser`) and written straight away; only their identities
(`cleansing.identities`) go to a temporary table, where one aggregate finds the records
that share one with an earlier record.  Those links (a few per cent of the rows in a real
export) are joined in a union-find here, and only the records of each group are read back
and merged (`cleansing.merge_group`), with the same outcome as `cleansing.cleanse`.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby, islice
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from portal.discovery import cleansing
from portal.discovery.fields import derive_name, normalise_name
from portal.bulk import dumps, raw_cursor
from portal.inventory import NAME_MAX, copy_rows

BATCH = 20_000
MERGES_KEPT = 1_000   # merges listed in the summary; all of them are counted

_TEMP_TABLES = (
    "CREATE TEMP TABLE cleansing_batch (position int, asset_key text, record jsonb)"
    " ON COMMIT DROP",
    "CREATE TEMP TABLE cleansing_identities (position int, kind text, key text)"
    " ON COMMIT DROP",
    "CREATE TEMP TABLE cleansing_merged (position int, asset_key text, record jsonb)"
    " ON COMMIT DROP",
    "CREATE TEMP TABLE cleansing_members (position int, root int) ON COMMIT DROP",
)
_SCOPE = "client_account_id = %(account)s AND flow_id = %(flow)s"

# Every record that shares an identity with an earlier one, and that earlier record.  A
# hash aggregate over the identities first keeps the join to the few that repeat.
_LINKS = """
    WITH repeated AS (
        SELECT kind, key, min(position) AS first FROM cleansing_identities
        GROUP BY kind, key HAVING count(*) > 1)
    SELECT i.position, i.kind, r.first
    FROM cleansing_identities i JOIN repeated r USING (kind, key)
    WHERE i.position <> r.first"""

_MEMBERS = """
    SELECT m.root, c.record FROM cleansed_records c JOIN cleansing_members m USING (position)
    WHERE c.client_account_id = %(account)s AND c.flow_id = %(flow)s
    ORDER BY m.root, m.position"""
_DROP_MEMBERS = """
    DELETE FROM cleansed_records c USING cleansing_members m
    WHERE c.client_account_id = %(account)s AND c.flow_id = %(flow)s
      AND c.position = m.position"""


@dataclass
class CleansingSummary:
    """What the streaming cleanse found (`cleansing.CleansingResult` without the records,
    which are in the table)."""
    records_out: int
    duplicates_merged: int
    merges: list[dict]             # first MERGES_KEPT of {"kept_row", "merged_rows", "by"}
    quality: dict
    conflicts: list[dict] = field(default_factory=list)


def asset_key_of(record: dict[str, Any]) -> str | None:
    """The key the record's asset gets (the inventory's naming rule), None without a name."""
    name = (derive_name(record) or "")[:NAME_MAX]
    return normalise_name(name) or None


class _Groups:
    """Union-find over the linked positions only; a group's root is its first position."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.kinds: dict[int, set[str]] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(i, i) != root:
            parent[i], i = root, parent[i]
        return root

    def link(self, position: int, first: int, kind: str) -> None:
        self.kinds.setdefault(position, set()).add(kind)
        a, b = self.find(position), self.find(first)
        self.parent.setdefault(position, position)
        self.parent.setdefault(first, first)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def members(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for position in sorted(self.parent):
            groups.setdefault(self.find(position), []).append(position)
        return groups


def _write_batch(cursor, scope: dict, rows: list[tuple], identities: list[tuple]) -> None:
    copy_rows(cursor, "cleansing_batch", rows)
    copy_rows(cursor, "cleansing_identities", identities)
    cursor.execute("INSERT INTO cleansed_records (client_account_id, flow_id, position,"
                   " asset_key, record) SELECT %(account)s, %(flow)s, position, asset_key,"
                   " record FROM cleansing_batch", scope)
    cursor.execute("TRUNCATE cleansing_batch")


def _normalise_and_store(cursor, scope: dict, records: Iterable[dict]
                         ) -> tuple[int, Counter]:
    """Normalise and write every record; returns (records in, key-set counts)."""
    normaliser = cleansing.Normaliser()
    key_sets: Counter[frozenset[str]] = Counter()
    position = 0
    source = iter(records)
    while batch := list(islice(source, BATCH)):  # read before writing: one connection
        rows, identities = [], []
        for record in map(normaliser.record, batch):
            key_sets[frozenset(cleansing.keys_with_values(record))] += 1
            rows.append((position, asset_key_of(record), dumps(record)))
            identities.extend((position, kind, key) for kind, key in
                              cleansing.identities(record))
            position += 1
        _write_batch(cursor, scope, rows, identities)
    return position, key_sets


def _merge_linked(session: Session, cursor, scope: dict, groups: _Groups, key_sets: Counter
                  ) -> tuple[list[dict], list[dict], int, int]:
    """Merge every linked group in the table, one group in memory at a time: the first
    record takes the merged one, the others go.  Returns (merges, conflicts kept,
    conflicts counted, records removed)."""
    members = groups.members()
    copy_rows(cursor, "cleansing_members",
              ((p, root) for root, positions in members.items() for p in positions))
    merges: list[dict] = []
    conflicts: list[dict] = []

    def merged() -> Iterator[tuple]:
        rows = _stream(session, _MEMBERS, scope)
        for root, group_rows in groupby(rows, key=itemgetter(0)):
            group = [record for _, record in group_rows]
            for record in group:
                key_sets[frozenset(cleansing.keys_with_values(record))] -= 1
            kept = cleansing.merge_group(group, conflicts)
            key_sets[frozenset(cleansing.keys_with_values(kept))] += 1
            if len(merges) < MERGES_KEPT:
                kinds = set().union(*(groups.kinds.get(p, ()) for p in members[root]))
                merges.append({"kept_row": kept.get("_row"),
                               "merged_rows": kept["_rows"][1:], "by": sorted(kinds)})
            yield root, asset_key_of(kept), dumps(kept)

    copy_rows(cursor, "cleansing_merged", merged())
    cursor.execute(_DROP_MEMBERS, scope)
    cursor.execute("INSERT INTO cleansed_records (client_account_id, flow_id, position,"
                   " asset_key, record) SELECT %(account)s, %(flow)s, position, asset_key,"
                   " record FROM cleansing_merged", scope)
    removed = sum(len(p) - 1 for p in members.values())
    return merges, conflicts[:cleansing.CONFLICTS_KEPT], len(conflicts), removed


def cleanse_into_store(session: Session, account_id: uuid.UUID, flow_id: uuid.UUID,
                       records: Iterable[dict], invalid_counts: dict[str, int] | None = None,
                       rows_total: int | None = None) -> CleansingSummary:
    """Cleanse `records` (as `cleansing.cleanse` does) into the flow's cleansed records,
    replacing any an earlier run wrote; `records` may stream from the same connection (it
    is read a batch at a time between writes).  The session's tenant must be
    `account_id`."""
    scope = {"account": account_id, "flow": flow_id}
    with raw_cursor(session) as cursor, cleansing.collector_paused():
        cursor.execute(f"DELETE FROM cleansed_records WHERE {_SCOPE}", scope)
        for statement in _TEMP_TABLES:
            cursor.execute(statement)
        records_in, key_sets = _normalise_and_store(cursor, scope, records)
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the aggregate stays in memory
        cursor.execute(_LINKS)
        groups = _Groups()
        for position, kind, first in cursor:
            groups.link(position, first, kind)
        cursor.execute("RESET work_mem")
        merges, conflicts, conflict_count, removed = _merge_linked(session, cursor, scope,
                                                                   groups, key_sets)
        for statement in _TEMP_TABLES:
            cursor.execute(f"DROP TABLE {statement.split()[3]}")
    quality = cleansing.quality_of_key_sets(
        +key_sets, records_in=records_in, duplicates_merged=removed, conflicts=conflict_count,
        invalid_counts=invalid_counts, rows_total=rows_total)
    return CleansingSummary(records_in - removed, removed, merges, quality, conflicts)


def _stream(session: Session, sql: str, params: dict) -> Iterator[tuple]:
    """The rows of `sql`, fetched BATCH at a time from a server-side cursor (so the caller
    may write through the same connection between rows it has taken)."""
    connection = session.connection().connection.driver_connection
    with connection.cursor(name=f"cleansed_{uuid.uuid4().hex}") as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            yield from rows


def stream_records(session: Session, account_id: uuid.UUID, flow_id: uuid.UUID,
                   columns: str = "asset_key, record", where: str = "") -> Iterator[tuple]:
    """The flow's cleansed records in first-seen order, as rows of `columns` (SQL over
    `asset_key` and `record`), streamed (see _stream)."""
    return _stream(session, f"SELECT {columns} FROM cleansed_records WHERE {_SCOPE}"
                            f"{' AND ' + where if where else ''} ORDER BY position",
                   {"account": account_id, "flow": flow_id})


def delete_records(session: Session, account_id: uuid.UUID, flow_id: uuid.UUID) -> None:
    """Drop the flow's cleansed records (its last phase no longer needs them)."""
    with raw_cursor(session) as cursor:
        cursor.execute(f"DELETE FROM cleansed_records WHERE {_SCOPE}",
                       {"account": account_id, "flow": flow_id})
