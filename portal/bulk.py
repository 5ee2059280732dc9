"""Set-based writes for big batches (no Flask in here).

PostgreSQL refuses COPY into a table with row-level security, so bulk writers COPY into a
temporary table and move the rows with one INSERT/UPDATE … SELECT, under which the tenant
policy still checks every row.  These are the shared pieces of that pattern.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

FLUSH_ROWS = 2_000  # rows buffered per COPY write


def _json_default(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else str(value)


def dumps(value: Any) -> str:
    """Compact JSON for a jsonb cell (any mapping as an object, tuples as arrays, dates
    and UUIDs as text)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                      default=_json_default)


def raw_cursor(session: Session):
    """A psycopg cursor in the session's current transaction (tenant already set)."""
    return session.connection().connection.driver_connection.cursor()


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """The rows as CSV for `copy_text` (made where the caller likes, e.g. on a helper
    thread while the connection is busy with an earlier batch)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def copy_text(cursor, table: str, text: str) -> None:
    """COPY CSV `text` (see `csv_text`) into `table`."""
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
        copy.write(text)


def copy_csv(cursor, table: str, rows: Iterable[Sequence[Any]]) -> int:
    """COPY the rows into `table` as CSV (the C writer: far cheaper per row than adapting
    Python values; None becomes an empty, i.e. NULL, cell); returns how many."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    count = 0
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
        for count, row in enumerate(rows, 1):
            writer.writerow(row)
            if count % FLUSH_ROWS == 0:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        copy.write(buffer.getvalue())
    return count
