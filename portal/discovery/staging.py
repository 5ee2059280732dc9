"""Bulk staging of an import's raw rows, validated on the way (no Flask in here).

Each stored row keeps its cells as a JSON array aligned to the import's
`columns_detected`, so an import can be re-mapped without re-uploading.

The path is built for millions of rows.  PostgreSQL refuses COPY into a table with
row-level security, so rows stream with COPY (CSV, written by the C `csv` writer: far
cheaper per row than adapting Python values) into a temporary table, and one
INSERT … SELECT moves them into `import_rows`, where the tenant policy checks them.
"""
from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.discovery.field_mapping import ColumnMapping
from portal.discovery.validation import RowValidator

FLUSH_ROWS = 2_000  # rows buffered per COPY write


@dataclass(frozen=True)
class StagingCounts:
    total_rows: int
    invalid_rows: int
    duplicate_names: int  # rows whose normalised name repeats an earlier row's

    @property
    def valid_rows(self) -> int:
        return self.total_rows - self.invalid_rows


def _raw_connection(session: Session):
    """The psycopg connection under the session's current transaction (tenant already set)."""
    return session.connection().connection.driver_connection


def _create_temp(cursor, name: str, width: int) -> None:
    cells = "".join(f", c{i} text" for i in range(width))
    cursor.execute(f"CREATE TEMP TABLE {name} (row_number int{cells}, errors jsonb,"
                   f" name_key text) ON COMMIT DROP")


def _cells_array(width: int) -> str:
    return "ARRAY[" + ", ".join(f"c{i}" for i in range(width)) + "]::text[]"


def _copy_checked_rows(cursor, table: str, rows: Iterable, validator: RowValidator,
                       with_cells: bool = True) -> None:
    """COPY (row_number, [cells…,] errors, name_key) for each (number, values, problem)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    check = validator.stage_check
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
        for count, (number, values, problem) in enumerate(rows, 1):
            errors, name_key = check(values, problem)
            cells = values if with_cells else ()
            writer.writerow((number, *cells, errors and json.dumps(errors), name_key))
            if count % FLUSH_ROWS == 0:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        copy.write(buffer.getvalue())


def _counts(cursor, table: str) -> StagingCounts:
    cursor.execute(f"SELECT count(*), count(errors), count(name_key) - count(DISTINCT name_key)"
                   f" FROM {table}")
    total, invalid, duplicates = cursor.fetchone()
    return StagingCounts(total, invalid, duplicates)


def stage_rows(session: Session, account_id: uuid.UUID, import_id: uuid.UUID,
               columns: Sequence[str], rows: Iterable, mappings: Sequence[ColumnMapping]
               ) -> StagingCounts:
    """Validate and store `rows` — (row_number, values, problem) tuples — of a new import."""
    validator = RowValidator(columns, mappings)
    with _raw_connection(session).cursor() as cursor:
        _create_temp(cursor, "staged_rows", len(columns))
        _copy_checked_rows(cursor, "staged_rows", rows, validator)
        cursor.execute(
            "INSERT INTO import_rows (client_account_id, data_import_id, row_number, data,"
            f" errors, name_key) SELECT %s, %s, row_number, to_jsonb({_cells_array(len(columns))}),"
            " errors, name_key FROM staged_rows", (account_id, import_id))
        counts = _counts(cursor, "staged_rows")
        cursor.execute("DROP TABLE staged_rows")
    return counts


_SELECT_ROWS = ("SELECT row_number, data FROM import_rows WHERE client_account_id = %s"
                " AND data_import_id = %s ORDER BY row_number")


def _stored_batches(connection, account_id: uuid.UUID, import_id: uuid.UUID, batch: int):
    """An import's stored rows, as lists of (row_number, cells, None) in order.  Batches,
    because a COPY cannot run while a server-side cursor is being fetched from."""
    with connection.cursor(name=f"rows_{uuid.uuid4().hex}") as cursor:
        cursor.execute(_SELECT_ROWS, (account_id, import_id))
        while rows := cursor.fetchmany(batch):
            yield [(number, cells, None) for number, cells in rows]


def revalidate(session: Session, account_id: uuid.UUID, import_id: uuid.UUID,
               columns: Sequence[str], mappings: Sequence[ColumnMapping],
               batch: int = 20_000) -> StagingCounts:
    """Check every stored row again under a changed mapping and store the outcome."""
    validator = RowValidator(columns, mappings)
    connection = _raw_connection(session)
    with connection.cursor() as cursor:
        _create_temp(cursor, "rechecked_rows", 0)
        for rows in _stored_batches(connection, account_id, import_id, batch):
            _copy_checked_rows(cursor, "rechecked_rows", rows, validator, with_cells=False)
        cursor.execute(
            "UPDATE import_rows r SET errors = c.errors, name_key = c.name_key"
            " FROM rechecked_rows c WHERE r.client_account_id = %s AND r.data_import_id = %s"
            " AND r.row_number = c.row_number AND (r.errors IS DISTINCT FROM c.errors"
            " OR r.name_key IS DISTINCT FROM c.name_key)", (account_id, import_id))
        counts = _counts(cursor, "rechecked_rows")
        cursor.execute("DROP TABLE rechecked_rows")
    return counts


def invalid_rows(session: Session, account_id: uuid.UUID, import_id: uuid.UUID,
                 limit: int | None = None) -> list[tuple[int, list, list]]:
    """(row_number, cells, errors) of the rows that failed validation, in order."""
    query = ("SELECT row_number, data, errors FROM import_rows WHERE client_account_id = %s"
             " AND data_import_id = %s AND errors IS NOT NULL ORDER BY row_number")
    with _raw_connection(session).cursor() as cursor:
        cursor.execute(query + (f" LIMIT {int(limit)}" if limit else ""), (account_id, import_id))
        return cursor.fetchall()


def first_rows(session: Session, account_id: uuid.UUID, import_id: uuid.UUID,
               limit: int) -> list[tuple[int, list]]:
    """The first `limit` stored rows as (row_number, cells aligned to the columns)."""
    with _raw_connection(session).cursor() as cursor:
        cursor.execute(_SELECT_ROWS + " LIMIT %s", (account_id, import_id, limit))
        return cursor.fetchall()
