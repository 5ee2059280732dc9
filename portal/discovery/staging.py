"""Bulk staging of an import's raw rows, validated on the way (no Flask in here).

Each stored row keeps its cells as a JSON array aligned to the import's
`columns_detected`, so an import can be re-mapped without re-uploading.

The path is built for millions of rows.  PostgreSQL refuses COPY into a table with
row-level security, so rows stream with COPY into a temporary table, and INSERT … SELECT
moves them into `import_rows`, where the tenant policy checks them.  Python writes each
row as a COPY text line whose cells are already a JSON array (encoded in C, a batch at a
time), so PostgreSQL only parses it into jsonb.  The file is parsed and checked in a
worker thread while this one feeds PostgreSQL, and rows move into `import_rows` a segment
at a time, so the database works while Python parses: on two cores the two overlap.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import repeat
from json.encoder import encode_basestring
from queue import Empty, Full, Queue
from typing import TypeVar

from sqlalchemy.orm import Session

from portal.discovery.field_mapping import ColumnMapping
from portal.discovery.parsing import RowBatch
from portal.discovery.validation import RowValidator

# Rows copied into the temporary table before they move on to `import_rows`.  Larger
# segments cost fewer statements; while one moves, the worker parses the next.
SEGMENT_ROWS = 100_000
QUEUE_DEPTH = 48  # batches (~2,500 rows each) the worker may be ahead: bounds memory

_COPY = "COPY {table} FROM STDIN (NULL '')"  # text format; an empty field is NULL
_THIS_IMPORT = "client_account_id = %s AND data_import_id = %s"
_T = TypeVar("_T")


@dataclass(frozen=True)
class StagingCounts:
    total_rows: int
    invalid_rows: int
    duplicate_names: int  # rows whose normalised name repeats an earlier row's

    @property
    def valid_rows(self) -> int:
        return self.total_rows - self.invalid_rows


@dataclass(frozen=True)
class _Chunk:
    """A batch of checked rows as COPY text."""

    rows: int
    invalid: int
    data: bytes


def _raw_connection(session: Session):
    """The psycopg connection under the session's current transaction (tenant already set)."""
    return session.connection().connection.driver_connection


def _copy_chunk(batch: RowBatch, validator: RowValidator, with_cells: bool) -> _Chunk:
    """Check a batch and write it as COPY text lines: row_number, [cells as a JSON
    array,] errors as JSON, name_key."""
    if not batch.numbers:
        return _Chunk(0, 0, b"")
    columns = list(zip(*batch.values, strict=False))
    errors, keys = validator.stage_batch(columns, len(batch.numbers), batch.problems)
    error_texts = [""] * len(keys)
    for position, row_errors in errors.items():
        error_texts[position] = json.dumps(row_errors)
    key_texts = [key or "" for key in keys] if None in keys else keys
    if with_cells:
        text = _lines_with_cells(batch, columns, error_texts, key_texts)
    else:
        rows = zip(batch.numbers, error_texts, key_texts, strict=True)
        text = "".join(map("%d\t%s\t%s\n".__mod__, rows))
    if "\\" in text:  # COPY text reads backslash escapes; tabs and line breaks are
        text = text.replace("\\", "\\\\")  # already escaped in JSON, absent from name keys
    return _Chunk(len(keys), len(errors), text.encode())


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')  # what a JSON string cannot hold as it is
_NULL_MARK = "\x00"  # stands for an empty cell in a batch without control characters


def _lines_with_cells(batch: RowBatch, columns: list[tuple], error_texts: list[str],
                      key_texts: list[str]) -> str:
    """COPY lines whose cells are JSON arrays.  Usually no cell needs escaping: then each
    array is the cells joined with '","', empty cells marked and replaced by null."""
    with_nulls = [None in column for column in columns]
    if any(_NEEDS_ESCAPE.search("".join(filter(None, column)) if has_null else "".join(column))
           for column, has_null in zip(columns, with_nulls, strict=False)):
        line = "%d\t[" + ",".join(["%s"] * len(columns)) + "]\t%s\t%s\n"
        cells = [_json_strings(column, has_null)
                 for column, has_null in zip(columns, with_nulls, strict=True)]
        rows = zip(batch.numbers, *cells, error_texts, key_texts, strict=True)
        return "".join(map(line.__mod__, rows))
    values: Iterable = batch.values
    if any(with_nulls):
        values = map(map, repeat(_MARKED.get), values, values)
    arrays = map('","'.join, values)
    text = "".join(map('%d\t["%s"]\t%s\t%s\n'.__mod__,
                       zip(batch.numbers, arrays, error_texts, key_texts, strict=False)))
    return text.replace(f'"{_NULL_MARK}"', "null") if any(with_nulls) else text


_MARKED = {None: _NULL_MARK}


def _json_strings(column: Sequence[str | None], has_null: bool) -> list[str]:
    """Each cell as a JSON value: a string, or null."""
    if has_null:
        return ["null" if cell is None else encode_basestring(cell) for cell in column]
    return list(map(encode_basestring, column))


def _chunks(batches: Iterable[RowBatch], validator: RowValidator,
            with_cells: bool) -> Iterator[_Chunk]:
    return map(_copy_chunk, batches, repeat(validator), repeat(with_cells))


_DONE = object()


def _in_background(items: Iterator[_T], depth: int = QUEUE_DEPTH) -> Iterator[_T]:
    """`items`, produced by a worker thread up to `depth` ahead of the consumer.

    The worker holds the GIL while it parses, but this thread mostly waits on the
    database socket (psycopg releases the GIL there), so both cores stay busy.  An
    exception in the worker is raised here; leaving early stops the worker.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as error:  # handed to the consumer, raised there
            put((_DONE, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="staging-parser", daemon=True)
    worker.start()
    try:
        while True:
            item, error = queue.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                queue.get(timeout=0.1)  # let a worker blocked on a full queue finish
            except Empty:
                pass
        worker.join()


def _create_temp(cursor, name: str, with_cells: bool) -> None:
    data = " data jsonb," if with_cells else ""
    cursor.execute(f"CREATE TEMP TABLE {name} (row_number int,{data} errors jsonb,"
                   " name_key text) ON COMMIT DROP")


def _duplicate_names(cursor, table: str, condition: str = "TRUE", params: tuple = ()) -> int:
    """Rows whose name key repeats another row's.  Compared byte by byte (the "C"
    collation): equal keys are equal in any deterministic collation, and such a sort is
    several times cheaper."""
    cursor.execute(f'SELECT count(name_key) - count(DISTINCT name_key COLLATE "C") FROM {table}'
                   f" WHERE {condition}", params)
    (duplicates,) = cursor.fetchone()
    return duplicates


def stage_rows(session: Session, account_id: uuid.UUID, import_id: uuid.UUID,
               columns: Sequence[str], batches: Iterable[RowBatch],
               mappings: Sequence[ColumnMapping]) -> StagingCounts:
    """Validate and store the rows of a new import, given as `ParsedFile.batches()`."""
    validator = RowValidator(columns, mappings)
    chunks = _in_background(_chunks(batches, validator, with_cells=True))
    total = invalid = 0
    with closing(chunks), _raw_connection(session).cursor() as cursor:
        _create_temp(cursor, "staged_rows", with_cells=True)
        while True:
            segment = 0
            with cursor.copy(_COPY.format(table="staged_rows")) as copy:
                for chunk in chunks:
                    copy.write(chunk.data)
                    total, invalid, segment = (total + chunk.rows, invalid + chunk.invalid,
                                               segment + chunk.rows)
                    if segment >= SEGMENT_ROWS:
                        break
            cursor.execute(
                "INSERT INTO import_rows (client_account_id, data_import_id, row_number, data,"
                " errors, name_key) SELECT %s, %s, row_number, data, errors, name_key"
                " FROM staged_rows", (account_id, import_id))
            cursor.execute("TRUNCATE staged_rows")
            if segment < SEGMENT_ROWS:
                break
        cursor.execute("DROP TABLE staged_rows")
        duplicates = _duplicate_names(cursor, "import_rows", _THIS_IMPORT,
                                      (account_id, import_id))
    return StagingCounts(total, invalid, duplicates)


_SELECT_ROWS = f"SELECT row_number, data FROM import_rows WHERE {_THIS_IMPORT} ORDER BY row_number"


def _stored_batches(connection, account_id: uuid.UUID, import_id: uuid.UUID,
                    batch: int) -> Iterator[RowBatch]:
    """An import's stored rows, in order.  Batches, because a COPY cannot run while a
    server-side cursor is being fetched from."""
    with connection.cursor(name=f"rows_{uuid.uuid4().hex}") as cursor:
        cursor.execute(_SELECT_ROWS, (account_id, import_id))
        while rows := cursor.fetchmany(batch):
            numbers, cells = zip(*rows, strict=False)
            yield RowBatch(list(numbers), list(cells))


def revalidate(session: Session, account_id: uuid.UUID, import_id: uuid.UUID,
               columns: Sequence[str], mappings: Sequence[ColumnMapping],
               batch: int = 20_000) -> StagingCounts:
    """Check every stored row again under a changed mapping and store the outcome."""
    validator = RowValidator(columns, mappings)
    connection = _raw_connection(session)
    total = invalid = 0
    with connection.cursor() as cursor:
        _create_temp(cursor, "rechecked_rows", with_cells=False)
        batches = _stored_batches(connection, account_id, import_id, batch)
        for chunk in _chunks(batches, validator, with_cells=False):
            with cursor.copy(_COPY.format(table="rechecked_rows")) as copy:
                copy.write(chunk.data)
            total, invalid = total + chunk.rows, invalid + chunk.invalid
        cursor.execute(
            "UPDATE import_rows r SET errors = c.errors, name_key = c.name_key"
            " FROM rechecked_rows c WHERE r.client_account_id = %s AND r.data_import_id = %s"
            " AND r.row_number = c.row_number AND (r.errors IS DISTINCT FROM c.errors"
            " OR r.name_key IS DISTINCT FROM c.name_key)", (account_id, import_id))
        duplicates = _duplicate_names(cursor, "rechecked_rows")
        cursor.execute("DROP TABLE rechecked_rows")
    return StagingCounts(total, invalid, duplicates)


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
