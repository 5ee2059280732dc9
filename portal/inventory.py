"""The asset inventory (no Flask in here): bulk upsert from a discovery flow, the filtered
and keyset-paginated list, one asset with its dependencies and history, editing under
optimistic locking, and the rows of an export.

Identity: an asset is its normalised name (`asset_key`, the same folding staging uses for
`name_key`) within its engagement, so re-importing an updated export updates assets in
place and whitespace or case variants of a name are one asset.

Dependencies: `specifications["depends_on"]` keeps the references as imported, and
`dependencies` is a JSON list of objects, one per upstream asset:
`{"target": as written in the source, "key": the upstream asset's asset_key (or the
normalised reference while unresolved)}`, optionally `"asset_id"` and details such as
"ports".  An import writes the unresolved form; the dependency analysis replaces it with
resolved entries (`store_dependencies`), which a re-import keeps unless its depends_on
changed.  The asset page resolves ids first, then keys against asset names.
"""
from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import and_, or_, select, text, tuple_
from sqlalchemy.orm import Session

from portal.audit import AuditFilter, audit_query, field_changes, user_labels
from portal.bulk import copy_csv, dumps, raw_cursor, time_ordered_ids
from portal.discovery.fields import FIELDS, derive_name, normalise_name
from portal.errors import DomainError, NotFound
from portal.locking import check_version
from portal.models import STRATEGIES, Asset, AuditLog
from portal.spreadsheet_safety import safe_cell

# ---------------------------------------------------------------------------------------
# Where each canonical field is kept

COLUMN_FIELDS = ("name", "asset_type", "environment")  # real columns of `assets`
EXTRA = "_extra"                  # a record's unmapped source columns: {column: raw value}
SOURCE_COLUMNS = "source_columns"  # where they are kept, inside `specifications`
_NOT_SPECS = frozenset((*COLUMN_FIELDS, EXTRA))
NAME_MAX, ENUM_MAX = 255, 100     # lengths of asset_name and asset_type/environment

CRITICALITIES = {"critical": 4, "high": 3, "medium": 2, "low": 1}  # criticality_rank
# The words the tech-debt phase writes into migration_readiness["tech_debt"]["status"].
TECH_DEBT_STATUSES = ("unsupported", "soon_unsupported", "extended_support_only", "supported",
                      "unknown")
TECH_DEBT_FLAGGED = ("unsupported", "soon_unsupported", "extended_support_only")
FLAGGED = "flagged"  # the filter value meaning "either of TECH_DEBT_FLAGGED"

# ---------------------------------------------------------------------------------------
# Bulk upsert

COPY_ROWS = 20_000  # records per COPY statement of a bulk write


@dataclass(frozen=True)
class UpsertCounts:
    created: int
    updated: int
    unchanged: int
    skipped: int = 0  # records without any name (a name, hostname or FQDN)


_INCOMING = ("CREATE TEMP TABLE incoming_assets (ord int, id uuid, asset_name text, asset_key text,"
             " asset_type text, environment text, specifications jsonb, dependencies jsonb,"
             " migration_readiness jsonb) ON COMMIT DROP")

# Duplicate keys in one batch: the last record wins (ON CONFLICT may touch a row once).
_DROP_EARLIER_DUPLICATES = """
    DELETE FROM incoming_assets i
    USING (SELECT asset_key, max(ord) AS last FROM incoming_assets
           GROUP BY asset_key HAVING count(*) > 1) d
    WHERE i.asset_key = d.asset_key AND i.ord < d.last"""

# What an asset becomes when a record `new` (the incoming row, or EXCLUDED) meets the
# stored row `a`.  Fields a record leaves blank keep their stored value: an export that
# lacks a column does not erase what another source said.
_MERGED_COLUMNS = "(asset_name, asset_type, environment, specifications, dependencies)"
_STORED = "(a.asset_name, a.asset_type, a.environment, a.specifications, a.dependencies)"


def _merged(new: str) -> str:
    # `dependencies` follows the record only when its depends_on differs from the stored
    # one (kept in specifications as imported): what the dependency analysis resolved
    # stays until the source says something else.
    return (f"({new}.asset_name, COALESCE({new}.asset_type, a.asset_type),"
            f" COALESCE({new}.environment, a.environment),"
            f" COALESCE(a.specifications, '{{}}') || {new}.specifications,"
            f" CASE WHEN {new}.specifications ? 'depends_on' AND"
            f" ({new}.specifications -> 'depends_on') IS DISTINCT FROM"
            f" (a.specifications -> 'depends_on') THEN {new}.dependencies"
            f" ELSE a.dependencies END)")


# Records that would change nothing leave the batch before the upsert: ON CONFLICT locks
# every conflicting row (a write to each of its pages) even when its WHERE then skips the
# update, which made an unchanged re-import of a million assets ten times slower.
_DROP_UNCHANGED = f"""
    DELETE FROM incoming_assets i USING assets a
    WHERE a.client_account_id = %(account)s AND a.engagement_id = %(engagement)s
      AND a.asset_key = i.asset_key AND {_STORED} IS NOT DISTINCT FROM {_merged("i")}"""

# One statement for the rest of the batch.  Its WHERE still skips a row that turned out
# unchanged (one another transaction changed meanwhile): a re-import of the same file
# writes nothing (no dead tuples, no audit entries, no version bump).
_UPSERT = f"""
    WITH upserted AS (
        INSERT INTO assets AS a (id, client_account_id, engagement_id, asset_name, asset_key,
                                 asset_type, environment, specifications, dependencies,
                                 migration_readiness, discovered_from_import_id,
                                 discovery_flow_id)
        SELECT id, %(account)s, %(engagement)s, asset_name, asset_key, asset_type, environment,
               specifications, dependencies, COALESCE(migration_readiness, '{{}}'),
               %(import)s, %(flow)s
        FROM incoming_assets
        ON CONFLICT (client_account_id, engagement_id, asset_key) DO UPDATE SET
            {_MERGED_COLUMNS} = {_merged("EXCLUDED")},
            discovered_from_import_id = EXCLUDED.discovered_from_import_id,
            discovery_flow_id = EXCLUDED.discovery_flow_id,
            lock_version = a.lock_version + 1
        WHERE {_STORED} IS DISTINCT FROM {_merged("EXCLUDED")}
        RETURNING a.xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
    FROM upserted"""


def dependency_entries(targets: Iterable[str] | None) -> list[dict[str, str]]:
    """`depends_on` values as stored in `assets.dependencies` (see the module docstring)."""
    entries, seen = [], set()
    for target in targets or ():
        key = normalise_name(str(target))
        if key and key not in seen:
            seen.add(key)
            entries.append({"target": str(target).strip(), "key": key})
    return entries


def _incoming_row(ord_: int, record: dict[str, Any], new_id: Callable[[int], str],
                  readiness: Callable[[dict[str, Any]], str | None]) -> tuple | None:
    """The temp-table row of one record, or None when it has no name."""
    name = (derive_name(record) or "")[:NAME_MAX]
    if not name:
        return None
    specs = {k: v for k, v in record.items() if k not in _NOT_SPECS and v is not None}
    extra = {k: v for k, v in (record.get(EXTRA) or {}).items() if v not in (None, "")}
    if extra:
        specs[SOURCE_COLUMNS] = extra
    depends = dependency_entries(record.get("depends_on"))
    return (ord_, new_id(ord_), name, normalise_name(name),
            (record.get("asset_type") or "")[:ENUM_MAX] or None,
            (record.get("environment") or "")[:ENUM_MAX] or None,
            dumps(specs), dumps(depends) if depends else "[]", readiness(record))


def copy_rows(cursor, table: str, rows: Iterable[Sequence[Any]]) -> int:
    """COPY the rows into `table` (`bulk.copy_csv`), COPY_ROWS at a time, each chunk taken
    from `rows` before its COPY starts: `rows` may then stream from a server-side cursor
    of the same connection (a streamed phase), which cannot fetch during a COPY."""
    source, count = iter(rows), 0
    while chunk := list(islice(source, COPY_ROWS)):
        count += copy_csv(cursor, table, chunk)
    return count


def _no_readiness(record: dict[str, Any]) -> None:
    return None


def _copy_records(cursor, records: Iterable[dict[str, Any]],
                  readiness: Callable[[dict[str, Any]], str | None]) -> tuple[int, int]:
    """COPY the records into incoming_assets: (rows copied, records skipped)."""
    skipped = 0
    new_id = time_ordered_ids()

    def rows():
        nonlocal skipped
        for ord_, record in enumerate(records):
            row = _incoming_row(ord_, record, new_id, readiness)
            if row is None:
                skipped += 1
            else:
                yield row

    return copy_rows(cursor, "incoming_assets", rows()), skipped


def upsert_assets(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                  records: Iterable[dict[str, Any]], *, import_id: uuid.UUID | None,
                  discovery_flow_id: uuid.UUID | None,
                  new_readiness: Callable[[dict[str, Any]], str | None] = _no_readiness
                  ) -> UpsertCounts:
    """Create or update the engagement's assets from canonical records (field -> coerced
    value, as `RowValidator.check` gives them, plus `"_extra"`: the unmapped source
    columns), idempotently on the normalised name.  Set-based: the records stream by COPY
    into a temporary table (COPY cannot target a table with row-level security) and one
    INSERT … ON CONFLICT DO UPDATE moves them, so the tenant policy still checks every
    row.  The session's tenant context must be `account_id`.

    `new_readiness(record)`: the `migration_readiness` JSON (text) an asset this call
    CREATES starts with, or None for the default; existing assets keep theirs.  The
    discovery flow passes the tech-debt verdicts here, so a new asset is written once
    instead of inserted and then updated by the tech-debt phase (each row version costs
    every index of `assets` and an audit entry); that phase still judges every asset and
    writes whatever differs."""
    with raw_cursor(session) as cursor:
        cursor.execute(_INCOMING)
        copied, skipped = _copy_records(cursor, records, new_readiness)
        cursor.execute(_DROP_EARLIER_DUPLICATES)
        distinct = copied - max(cursor.rowcount, 0)
        cursor.execute("ANALYZE incoming_assets")  # temp tables get no autovacuum statistics
        scope = {"account": account_id, "engagement": engagement_id}
        cursor.execute(_DROP_UNCHANGED, scope)
        created = updated = 0
        if cursor.rowcount < distinct:  # else nothing to write: no statement, no triggers
            cursor.execute(_UPSERT, scope | {"import": import_id, "flow": discovery_flow_id})
            created, updated = cursor.fetchone()
        cursor.execute("DROP TABLE incoming_assets")
    session.expire_all()  # loaded assets may have changed underneath the session
    return UpsertCounts(created, updated, distinct - created - updated, skipped)


# What later phases write, by asset key, set-based like the upsert.

_UPDATE_BY_KEY = """
    UPDATE assets a SET {column} = {value}, lock_version = a.lock_version + 1
    FROM incoming_values i
    WHERE a.client_account_id = %(account)s AND a.engagement_id = %(engagement)s
      AND a.asset_key = i.asset_key AND a.{column} IS DISTINCT FROM {value}"""


class _SharedDocuments:
    """Numbers the distinct value objects of a stream (by identity: writers such as the
    tech-debt assessment hand the same verdict object to many assets), so each document
    crosses the wire and is parsed by the server once, not once per asset."""

    def __init__(self) -> None:
        self.numbers: dict[int, tuple[int, Any]] = {}  # id -> (number, the object itself)

    def number(self, value: Any) -> int:
        known = self.numbers.get(id(value))
        if known is None:  # holding the object keeps its id from being reused
            known = self.numbers[id(value)] = (len(self.numbers), value)
        return known[0]

    def rows(self) -> Iterator[tuple[int, str]]:
        return ((number, dumps(value)) for number, value in self.numbers.values())


def _update_by_key(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                   values: Iterable[tuple[str, Any]], column: str, value: str, *,
                   shared: bool = False) -> int:
    """Set `column` to the SQL `value` (over `i.value`, the JSON given per asset key) on
    the engagement's assets whose value differs; returns how many changed.  `shared`:
    the values repeat as the very same objects (see _SharedDocuments)."""
    with raw_cursor(session) as cursor:
        if shared:
            documents = _SharedDocuments()
            cursor.execute("CREATE TEMP TABLE incoming_keys (asset_key text, number int)"
                           " ON COMMIT DROP")
            cursor.execute("CREATE TEMP TABLE incoming_documents (number int, value jsonb)"
                           " ON COMMIT DROP")
            copy_rows(cursor, "incoming_keys",
                      ((key, documents.number(v)) for key, v in values))
            copy_rows(cursor, "incoming_documents", documents.rows())
            cursor.execute("CREATE TEMP VIEW incoming_values AS SELECT k.asset_key, d.value"
                           " FROM incoming_keys k JOIN incoming_documents d USING (number)")
            analysed = ("incoming_keys", "incoming_documents")
        else:
            cursor.execute("CREATE TEMP TABLE incoming_values (asset_key text, value jsonb)"
                           " ON COMMIT DROP")
            copy_rows(cursor, "incoming_values", ((key, dumps(v)) for key, v in values))
            analysed = ("incoming_values",)
        for table in analysed:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute(_UPDATE_BY_KEY.format(column=column, value=value),
                       {"account": account_id, "engagement": engagement_id})
        changed = cursor.rowcount
        if shared:
            cursor.execute("DROP VIEW incoming_values")
        for table in analysed:
            cursor.execute(f"DROP TABLE {table}")
    session.expire_all()
    return changed


def refresh_inventory_statistics(session: Session, columns: Sequence[str] = ()) -> None:
    """Bring the planner's statistics of the asset table up to date (ANALYZE, as the
    table's owner, in the session's transaction): after a bulk write the table has none
    until autovacuum comes round, and set-based writes planned on none can take hours.
    With `columns`, only theirs (and the table's row count): a fifth of the time."""
    session.execute(text("SELECT refresh_inventory_statistics(:columns)"),
                    {"columns": list(columns)})


def store_dependencies(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                       dependencies: Iterable[tuple[str, list[dict[str, Any]]]]) -> int:
    """Replace the dependencies of the engagement's assets, given as (asset_key, entries)
    with entries {"target", "key", ...} as the module docstring describes (what the
    dependency analysis resolved).  Returns the number of assets changed."""
    return _update_by_key(session, account_id, engagement_id, dependencies, "dependencies",
                          "i.value")


def store_tech_debt(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                    verdicts: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Set `migration_readiness["tech_debt"]` of the engagement's assets, given as
    (asset_key, {"status", "score", "product", "version", "end_of_life", "reasons", ...});
    the list's tech-debt filter and sort follow.  Assets with the same findings may share
    one verdict object (as the assessment gives them): it is sent once.  Returns the
    number of assets changed."""
    return _update_by_key(session, account_id, engagement_id, verdicts,
                          "migration_readiness", "COALESCE(a.migration_readiness, '{}')"
                          " || jsonb_build_object('tech_debt', i.value)", shared=True)


# ---------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class AssetFilter:
    """What to narrow the list to; every part is optional.  `q` finds the assets whose
    name, hostname or IP address starts with it ("web-0", "LON-SQL", "10.0.3.")."""

    q: str | None = None
    asset_type: str | None = None
    environment: str | None = None
    os_name: str | None = None
    application: str | None = None
    criticality: str | None = None   # a key of CRITICALITIES
    tech_debt: str | None = None     # a TECH_DEBT_STATUSES word, or FLAGGED
    sixr: str | None = None          # a 6R strategy

    @property
    def is_empty(self) -> bool:
        return not any(vars(self).values())


def _successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix`, in the
    "C" collation (code point order); None when there is none."""
    for cut in range(len(prefix) - 1, -1, -1):
        point = ord(prefix[cut]) + 1
        point += 0x800 if 0xD800 <= point <= 0xDFFF else 0  # skip the surrogates
        if point <= 0x10FFFF:
            return prefix[:cut] + chr(point)
    return None


def _starts_with(column, prefix: str):
    """`column` starts with `prefix`, as a range its "C"-collated index can scan.  (LIKE
    is not LEAKPROOF: under row-level security it could not use the index.)"""
    upper = _successor(prefix)
    return and_(column >= prefix, column < upper) if upper else column >= prefix


def search_condition(q: str):
    """Name, hostname or IP address starts with `q` (case and spacing as in names).
    None when `q` is blank."""
    prefix = normalise_name(q)
    if not prefix:
        return None
    return or_(*(_starts_with(column, prefix)
                 for column in (Asset.asset_key, Asset.host_key, Asset.ip_address)))


def filter_conditions(account_id: uuid.UUID, engagement_id: uuid.UUID,
                      f: AssetFilter) -> list:
    """The WHERE conditions of the filtered list (tenant and engagement first)."""
    conditions = [Asset.client_account_id == account_id, Asset.engagement_id == engagement_id]
    equal = ((Asset.asset_type, f.asset_type), (Asset.environment, f.environment),
             (Asset.os_name, f.os_name), (Asset.application, f.application),
             (Asset.sixr_recommendation, f.sixr))
    conditions += [column == value for column, value in equal if value]
    if f.criticality:
        conditions.append(Asset.criticality_rank == CRITICALITIES.get(f.criticality, -1))
    if f.tech_debt == FLAGGED:
        conditions.append(Asset.tech_debt_status.in_(TECH_DEBT_FLAGGED))
    elif f.tech_debt:
        conditions.append(Asset.tech_debt_status == f.tech_debt)
    search = search_condition(f.q or "")
    if search is not None:
        conditions.append(search)
    return conditions


# ---------------------------------------------------------------------------------------
# Sorting and keyset pagination


@dataclass(frozen=True)
class Sort:
    """A sortable column: `key` is its name in URLs and cursors, `kind` how a cursor holds
    its value (text, int, float, time).  Unique columns need no id to break ties."""

    key: str
    label: str
    column: Any
    kind: str
    nullable: bool = True
    unique: bool = False


SORTS: dict[str, Sort] = {s.key: s for s in (
    Sort("name", "Name", Asset.asset_key, "text", nullable=False, unique=True),
    Sort("environment", "Environment", Asset.environment, "text"),
    Sort("os", "OS", Asset.os_name, "text"),
    Sort("application", "Application", Asset.application, "text"),
    Sort("criticality", "Criticality", Asset.criticality_rank, "int"),
    Sort("cpu", "CPU", Asset.cpu_cores, "int"),
    Sort("memory", "Memory", Asset.memory_gb, "float"),
    Sort("tech_debt", "Tech debt", Asset.tech_debt_score, "float"),
    Sort("updated", "Updated", Asset.updated_at, "time"),
)}
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class Ordering:
    """A sort and its direction; `token` is how URLs say it ("memory", "-memory")."""

    sort: Sort
    descending: bool = False

    @property
    def token(self) -> str:
        return ("-" if self.descending else "") + self.sort.key

    def reversed(self) -> Ordering:
        return Ordering(self.sort, not self.descending)

    def order_by(self) -> list:
        """ASC puts unknown values last, DESC first (PostgreSQL's defaults): then one
        direction is exactly the other read backwards, from the same index."""
        column, ids = self.sort.column, Asset.id
        if self.descending:
            keys = [column.desc().nulls_first(), ids.desc()]
        else:
            keys = [column.asc().nulls_last(), ids.asc()]
        return keys[:1] if self.sort.unique else keys


def parse_ordering(token: str | None) -> Ordering:
    """`"memory"` / `"-memory"` → Ordering; DomainError for an unknown column."""
    token = (token or DEFAULT_SORT).strip()
    descending = token.startswith("-")
    sort = SORTS.get(token.lstrip("-"))
    if sort is None:
        raise DomainError(f"Unknown sort '{token}'.")
    return Ordering(sort, descending)


class InvalidCursor(DomainError):
    """A page link this module did not make (edited, truncated, or for another sort)."""

    def __init__(self) -> None:
        super().__init__("That page link is invalid or was edited. Start again from the "
                         "first page.")


_CHECK_BYTES = 4


def _check_digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECK_BYTES, person=b"asset-cursor").digest()


def _cursor_value(kind: str, value: Any) -> Any:
    return value.isoformat() if kind == "time" and value is not None else value


def encode_cursor(ordering: Ordering, value: Any, asset_id: uuid.UUID) -> str:
    """An opaque, URL-safe token for a position in `ordering`: the row's sort value and
    id, with a check digest so an edited link is refused rather than followed.  Not a
    secret: any position is harmless, the query stays filtered by tenant and RLS."""
    payload = dumps([ordering.token, _cursor_value(ordering.sort.kind, value),
                      asset_id.hex]).encode()
    return base64.urlsafe_b64encode(payload + _check_digest(payload)).decode().rstrip("=")


def _typed(kind: str, value: Any) -> Any:
    """The cursor's value back as the column's Python type; ValueError when it is not."""
    if value is None:
        return None
    if kind == "text" and isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        return float(value)
    if kind == "time" and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            return moment
    raise ValueError(value)


def decode_cursor(ordering: Ordering, token: str) -> tuple[Any, uuid.UUID]:
    """(sort value, id) from a token `encode_cursor` made for this same ordering;
    InvalidCursor otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
        if check != _check_digest(payload):
            raise ValueError("check digest")
        made_for, value, id_hex = json.loads(payload)
        if made_for != ordering.token or (value is None and not ordering.sort.nullable):
            raise ValueError("another ordering")
        return _typed(ordering.sort.kind, value), uuid.UUID(hex=id_hex)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor() from exc


def _beyond(ordering: Ordering, value: Any, asset_id: uuid.UUID) -> list:
    """The rows after (value, id) in `ordering`, as conditions to run one after the other
    (each one index range scan): NULLs are not comparable, so the step from the known
    values into the unknown ones (or back, descending) is a second range."""
    column, ids, desc = ordering.sort.column, Asset.id, ordering.descending
    if ordering.sort.unique:
        return [column < value if desc else column > value]
    if value is None:  # inside the NULLs: last ascending, first descending
        within = and_(column.is_(None), ids < asset_id if desc else ids > asset_id)
        return [within, column.is_not(None)] if desc else [within]
    row, cursor = tuple_(column, ids), tuple_(value, asset_id)
    known = row < cursor if desc else row > cursor
    if not ordering.sort.nullable:
        return [known]
    return [known] if desc else [known, column.is_(None)]


@dataclass(frozen=True)
class AssetPage:
    rows: list[Asset]
    ordering: Ordering
    next_cursor: str | None   # continue with `after=`; None on the last page
    prev_cursor: str | None   # go back with `before=`; None on the first page


def _sort_value(ordering: Ordering, asset: Asset) -> Any:
    return getattr(asset, ordering.sort.column.key)


def _fetch(session: Session, conditions: list, ordering: Ordering, limit: int,
           after: tuple[Any, uuid.UUID] | None) -> list[Asset]:
    """Up to `limit` assets in `ordering`, after the given position."""
    ranges = [None] if after is None else _beyond(ordering, *after)
    rows: list[Asset] = []
    for extra in ranges:
        query = select(Asset).where(*conditions, *([extra] if extra is not None else []))
        rows += session.scalars(query.order_by(*ordering.order_by()).limit(limit - len(rows)))
        if len(rows) >= limit:
            break
    return rows


def asset_page(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
               f: AssetFilter, sort: str | Ordering | None = None, cursor: str | None = None,
               limit: int = 50, *, before: str | None = None) -> AssetPage:
    """One page of the filtered list in `sort` order: the first page, the page after
    `cursor`, or the page before `before` (tokens from an earlier page).  Keyset
    pagination: every page is a range scan of the sort's index, so page 500 costs what
    page 1 does (OFFSET would read and discard every row before it)."""
    ordering = sort if isinstance(sort, Ordering) else parse_ordering(sort)
    conditions = filter_conditions(account_id, engagement_id, f)
    if before:
        back = ordering.reversed()
        rows = _fetch(session, conditions, back, limit + 1, decode_cursor(ordering, before))
        more_before, rows = len(rows) > limit, rows[:limit][::-1]
        more_after = bool(rows)
    else:
        position = decode_cursor(ordering, cursor) if cursor else None
        rows = _fetch(session, conditions, ordering, limit + 1, position)
        more_after, rows = len(rows) > limit, rows[:limit]
        more_before = position is not None and bool(rows)
    return AssetPage(
        rows, ordering,
        encode_cursor(ordering, _sort_value(ordering, rows[-1]), rows[-1].id)
        if more_after else None,
        encode_cursor(ordering, _sort_value(ordering, rows[0]), rows[0].id)
        if more_before else None)


# ---------------------------------------------------------------------------------------
# What the filter form offers

CHOICE_COLUMNS = {"asset_type": "asset_type", "environment": "environment",
                  "os_name": "os_name", "application": "application"}
MAX_CHOICES = 200

# A loose index scan: one index probe per distinct value instead of reading every row
# (a DISTINCT over a million assets takes the better part of a second).
_DISTINCT_VALUES = """
    WITH RECURSIVE found(value) AS (
        (SELECT {column} FROM assets
         WHERE client_account_id = :account AND engagement_id = :engagement
           AND {column} IS NOT NULL ORDER BY {column} LIMIT 1)
        UNION ALL
        SELECT (SELECT {column} FROM assets
                WHERE client_account_id = :account AND engagement_id = :engagement
                  AND {column} > found.value ORDER BY {column} LIMIT 1)
        FROM found WHERE found.value IS NOT NULL
    )
    SELECT value FROM found WHERE value IS NOT NULL LIMIT :limit"""


def distinct_values(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                    name: str, limit: int = MAX_CHOICES) -> list[str]:
    """The distinct values of one filterable column in the engagement, sorted (at most
    `limit`)."""
    statement = text(_DISTINCT_VALUES.format(column=CHOICE_COLUMNS[name]))
    return list(session.scalars(statement, {"account": account_id,
                                            "engagement": engagement_id, "limit": limit}))


def filter_choices(session: Session, account_id: uuid.UUID,
                   engagement_id: uuid.UUID) -> dict[str, list[str]]:
    """Values the filter form offers, per AssetFilter field."""
    choices = {name: distinct_values(session, account_id, engagement_id, name)
               for name in CHOICE_COLUMNS}
    choices.update(criticality=list(CRITICALITIES), tech_debt=[FLAGGED, *TECH_DEBT_STATUSES],
                   sixr=list(STRATEGIES))
    return choices


# ---------------------------------------------------------------------------------------
# One asset


def asset_detail(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                 asset_id: uuid.UUID) -> Asset:
    """The asset, or NotFound (also when it belongs to another account or engagement)."""
    asset = session.scalar(select(Asset).where(
        Asset.client_account_id == account_id, Asset.engagement_id == engagement_id,
        Asset.id == asset_id))
    if asset is None:
        raise NotFound("No such asset.")
    return asset


@dataclass(frozen=True)
class DependencyLink:
    label: str             # as the source wrote it
    asset: Asset | None    # the asset it names in this engagement, when found
    details: dict[str, Any] = field(default_factory=dict)  # e.g. a port


MAX_DEPENDENCIES = 200


def _entry(raw: Any) -> dict[str, Any]:
    """A stored dependency entry as a dict, whatever shape a writer gave it."""
    if isinstance(raw, dict):
        target = str(raw.get("target") or raw.get("name") or raw.get("asset_id") or "")
        return {**raw, "target": target, "key": raw.get("key") or normalise_name(target)}
    return {"target": str(raw), "key": normalise_name(str(raw))}


def _engagement_assets(session: Session, asset: Asset, *conditions) -> list[Asset]:
    return list(session.scalars(select(Asset).where(
        Asset.client_account_id == asset.client_account_id,
        Asset.engagement_id == asset.engagement_id, or_(*conditions))
        .order_by(Asset.asset_key).limit(MAX_DEPENDENCIES)))


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def depends_on(session: Session, asset: Asset) -> list[DependencyLink]:
    """What the asset depends on (upstream), resolved to assets of its engagement by the
    stored id, else by name."""
    entries = [_entry(raw) for raw in (asset.dependencies or [])[:MAX_DEPENDENCIES]]
    ids = {i for i in (_as_uuid(e.get("asset_id")) for e in entries) if i}
    keys = {e["key"] for e in entries if e["key"]}
    found = _engagement_assets(session, asset, Asset.id.in_(ids), Asset.asset_key.in_(keys)) \
        if ids or keys else []
    by_id = {a.id: a for a in found}
    by_key = {a.asset_key: a for a in found}
    detail_keys = {"target", "key", "asset_id", "name"}
    return [DependencyLink(e["target"], by_id.get(_as_uuid(e.get("asset_id")))
                           or by_key.get(e["key"]),
                           {k: v for k, v in e.items() if k not in detail_keys})
            for e in entries]


def _names_of(asset: Asset) -> set[str]:
    """The keys other assets' dependency entries may name this asset by."""
    specs = asset.specifications or {}
    names = {asset.asset_key}
    for field_name in ("hostname", "fqdn", "ip_address"):
        if isinstance(specs.get(field_name), str) and specs[field_name].strip():
            names.add(normalise_name(specs[field_name]))
    return names


def depended_on_by(session: Session, asset: Asset) -> list[Asset]:
    """The assets of its engagement that depend on it (downstream): containment lookups
    in the GIN index over `dependencies`."""
    wanted = [Asset.dependencies.contains([{"asset_id": str(asset.id)}])]
    wanted += [Asset.dependencies.contains([{"key": key}]) for key in sorted(_names_of(asset))]
    return [a for a in _engagement_assets(session, asset, *wanted) if a.id != asset.id]


# Generated or bookkeeping columns: a change shows up through the field it comes from.
HISTORY_HIDDEN = frozenset({"asset_key", "os_name", "application", "criticality_rank",
                            "cpu_cores", "memory_gb", "tech_debt_status", "tech_debt_score"})
EXPANDED = frozenset({"specifications", "migration_readiness", "configurations"})


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    entry: AuditLog
    user: str | None
    changes: list[Change]


def _expanded(name: str, old: Any, new: Any) -> list[Change]:
    """A JSON object column's change as one change per key ("specifications.os_name")."""
    if name not in EXPANDED or not isinstance(old, dict) or not isinstance(new, dict):
        return [Change(name, old, new)]
    return [Change(f"{name}.{key}", old.get(key), new.get(key))
            for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]


def asset_history(session: Session, account_id: uuid.UUID, asset: Asset,
                  limit: int = 25) -> list[HistoryEntry]:
    """The asset's entries in the audit log, newest first, with what each changed.  A
    creation lists no fields (the page shows the current values)."""
    entries = list(session.scalars(audit_query(account_id, AuditFilter(table_name="assets"))
                                   .where(AuditLog.record_id == asset.id).limit(limit)))
    users = user_labels(session, (e.user_id for e in entries))
    history = []
    for entry in entries:
        changes = [] if entry.operation == "INSERT" else [
            change for c in field_changes(entry) if c.field not in HISTORY_HIDDEN
            for change in _expanded(c.field, c.old, c.new)]
        history.append(HistoryEntry(entry, users.get(entry.user_id), changes))
    return history


# ---------------------------------------------------------------------------------------
# Editing

EDITABLE_COLUMNS = ("asset_type", "environment")
EDITABLE_SPECS = ("application", "owner", "business_criticality", "description", "tags")
EDITABLE = EDITABLE_COLUMNS + EDITABLE_SPECS


def editable_values(asset: Asset) -> dict[str, Any]:
    """The asset's current values of the EDITABLE fields."""
    specs = asset.specifications or {}
    values = {name: getattr(asset, name) for name in EDITABLE_COLUMNS}
    values.update({name: specs.get(name) for name in EDITABLE_SPECS})
    return values


def update_asset(session: Session, asset: Asset, submitted_version: int | str | None,
                 changes: dict[str, Any]) -> Asset:
    """Apply `changes` (EDITABLE fields; None or empty clears one) to the asset as the
    form saw it at `submitted_version`: EditConflict when someone saved in between, and
    the flush makes a save that races ours end in StaleDataError."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    check_version(asset, submitted_version, "asset")
    specs = dict(asset.specifications or {})
    for name, value in changes.items():
        value = value.strip() if isinstance(value, str) else value
        if name in EDITABLE_COLUMNS:
            setattr(asset, name, (value or None) and value[:ENUM_MAX])
        elif value in (None, "", []):
            specs.pop(name, None)
        else:
            specs[name] = value
    if specs != (asset.specifications or {}):
        asset.specifications = specs
    session.flush()
    return asset


# ---------------------------------------------------------------------------------------
# Export

EXPORT_FIELDS = tuple(f.name for f in FIELDS)
EXPORT_HEADER = (*EXPORT_FIELDS, "tech_debt_status", "tech_debt_score", "sixr_recommendation",
                 "updated_at")
EXPORT_BATCH = 2_000


def _export_row(row) -> list[Any]:
    name, asset_type, environment, specs, dependencies, debt, score, sixr, updated = row
    specs = specs or {}
    values = {"name": name, "asset_type": asset_type, "environment": environment,
              "depends_on": specs.get("depends_on")
              or [_entry(d)["target"] for d in dependencies or []]}
    cells = []
    for field_name in EXPORT_FIELDS:
        value = values[field_name] if field_name in values else specs.get(field_name)
        cells.append(", ".join(map(str, value)) if isinstance(value, list) else value)
    return [*cells, debt, score, sixr, updated.isoformat() if updated else None]


def export_rows(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                f: AssetFilter, sort: str | Ordering | None = None) -> Iterator[list[Any]]:
    """The filtered list as export rows (EXPORT_HEADER's columns, header not included), in
    the list's order, streamed from a server-side cursor in batches."""
    ordering = sort if isinstance(sort, Ordering) else parse_ordering(sort)
    query = (select(Asset.asset_name, Asset.asset_type, Asset.environment,
                    Asset.specifications, Asset.dependencies, Asset.tech_debt_status,
                    Asset.tech_debt_score, Asset.sixr_recommendation, Asset.updated_at)
             .where(*filter_conditions(account_id, engagement_id, f))
             .order_by(*ordering.order_by()))
    result = session.execute(query.execution_options(yield_per=EXPORT_BATCH))
    for row in result:
        yield _export_row(row)


def csv_chunks(rows: Iterable[Sequence[Any]], header: Sequence[str] = EXPORT_HEADER,
               batch: int = 500) -> Iterator[str]:
    """CSV text in chunks of `batch` lines, every cell through `safe_cell` (no cell can
    run as a spreadsheet formula)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(value) for value in row])
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


XLSX_MAX_ROWS = 1_048_575  # a worksheet's limit, less the header


def write_xlsx(rows: Iterable[Sequence[Any]], target, header: Sequence[str] = EXPORT_HEADER,
               title: str = "Assets") -> int:
    """Write the rows as a one-sheet workbook (openpyxl's write-only mode: constant
    memory) to `target`, a path or binary file; returns the number of rows written."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(header))
    written = 0
    for row in rows:
        if written == XLSX_MAX_ROWS:
            break
        sheet.append([safe_cell(value) for value in row])
        written += 1
    workbook.save(target)
    return written



