"""Streaming readers for uploaded inventory files: CSV/TSV text, XLSX workbooks and JSON.

`open_inventory` looks at the file's content (never trusting its name beyond the
extension), works out how to read it (encoding, delimiter, sheet, header row) from the
first 64 KB or first rows, and returns a `ParsedFile` whose `rows()` streams the data
rows with bounded memory, re-reading the file on each call; `batches()` streams them in
batches, which is how staging reads millions of rows (text files are read in blocks of
lines that the csv module, or one split for plain blocks, turns into records in C).
Every problem a user can fix is an `InventoryFileError` whose text is one plain sentence.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import partial
from itertools import chain, compress, islice, repeat
from operator import contains
from pathlib import Path
from typing import BinaryIO, NamedTuple

import ijson
import openpyxl

MB = 1024 * 1024

# How much of a file is looked at to decide how to read it.
_HEAD_BYTES = 64 * 1024
_SNIFF_RECORDS = 200
_HEADER_SEARCH_ROWS = 20
_JSON_KEY_SCAN = 1000
_XLSX_LEADING_ROW_SCAN = 5000
_XLSX_BATCH = 500
_DELIMITERS = (",", ";", "\t", "|")
_JSON_WRAPPER_KEYS = ("data", "items", "records", "rows", "result", "results", "value")
_ACCEPTED = "CSV, TSV, TXT, XLSX or JSON"


class InventoryFileError(ValueError):
    """An uploaded inventory that cannot be read; str() is one sentence for the user."""


class InventoryTooLargeError(InventoryFileError):
    """The file, or the workbook once unpacked, exceeds a configured limit (answer 413)."""


@dataclass(frozen=True)
class ParseLimits:
    """Limits that keep one upload from exhausting memory, disk or time."""

    max_bytes: int = 200 * MB
    max_uncompressed_bytes: int = 1024 * MB
    max_compression_ratio: float = 100.0
    max_columns: int = 500
    max_cell_chars: int = 32_767
    # A physical text line longer than this is refused before the csv module sees it,
    # so a file with no line breaks cannot be pulled into memory as one string.
    max_line_chars: int = 1 * MB


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row: its number as the user sees it, its values aligned to the columns."""

    number: int
    values: tuple[str | None, ...]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class RowBatch:
    """Consecutive data rows in bulk: what staging a million-row file needs, without one
    object per row.  `problems` is None when no row in the batch has one."""

    numbers: list[int]
    values: list[Sequence[str | None]]  # aligned to the columns
    problems: list[str | None] | None = None

    def rows(self) -> Iterator[SourceRow]:
        problems = self.problems or repeat(None)
        return map(SourceRow, self.numbers, self.values, problems)


# Rows per batch from the row-at-a-time readers (XLSX, JSON).  Small, so that `sample()`
# reads little more than it returns.
_READER_BATCH_ROWS = 500


def _batched(reader: Callable[..., Iterator[SourceRow]], *args) -> Iterator[RowBatch]:
    """The rows of a row-at-a-time reader in batches (closing it when stopped early)."""
    rows = reader(*args)
    try:
        while chunk := list(islice(rows, _READER_BATCH_ROWS)):
            problems = [row.problem for row in chunk]
            yield RowBatch([row.number for row in chunk], [row.values for row in chunk],
                           problems if any(problems) else None)
    finally:
        rows.close()  # type: ignore[attr-defined]


def _no_batches() -> Iterator[RowBatch]:
    yield from ()


@dataclass
class ParsedFile:
    """What `open_inventory` found; `rows()` and `batches()` stream the data rows."""

    file_type: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    columns: list[str]
    header_row: int  # 1-based source row of the header; 0 for JSON (keys, not a row)
    _batch_source: Callable[[], Iterator[RowBatch]] = field(
        default=_no_batches, repr=False, compare=False)

    def batches(self) -> Iterator[RowBatch]:
        """Stream the data rows from the start of the file in batches (each call starts
        over).  May raise InventoryFileError for damage found past the part read by
        `open_inventory` (an unbalanced quote, a cut-off JSON document)."""
        return self._batch_source()

    def rows(self) -> Iterator[SourceRow]:
        """The rows of `batches()` one by one."""
        return _rows_of(self.batches())

    def sample(self, n: int = 50) -> list[SourceRow]:
        """The first n data rows (the file is closed again afterwards)."""
        rows = self.rows()
        try:
            return list(islice(rows, n))
        finally:
            rows.close()


def _rows_of(batches: Iterator[RowBatch]) -> Iterator[SourceRow]:
    try:
        for batch in batches:
            yield from batch.rows()
    finally:
        batches.close()  # type: ignore[attr-defined]


def open_inventory(path: Path, original_filename: str,
                   limits: ParseLimits = ParseLimits()) -> ParsedFile:
    """Work out how to read the inventory at `path` and return it, ready to stream.

    The type comes from the content; it must agree with the extension of
    `original_filename` (used for nothing else).  Raises InventoryFileError, with a
    sentence for the user, for anything that cannot be read.
    """
    path = Path(path)
    extension, expected = _expected_type(original_filename)
    head, whole_file = _read_head(path, limits)
    content = _sniff_content(head, whole_file)
    _refuse_mismatch(extension, expected, content)
    if expected == "xlsx":
        return _open_xlsx(path, limits)
    if expected == "json":
        return _open_json(path, content.encoding, limits)
    return _open_text(path, content, prefer_tab=expected == "tsv", limits=limits)


# --- what the file is -----------------------------------------------------------------

_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv",
               ".xlsx": "xlsx", ".json": "json"}

_BINARY_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),
    (b"%PDF", "pdf"),
    (b"\x1f\x8b", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
    (b"Rar!", "archive"),
)
_DESCRIPTIONS = {
    "pdf": "a PDF document",
    "archive": "a compressed archive",
    "binary": "binary data",
    "json": "JSON text",
    "text": "plain text",
    "blank": "only blank lines",
}
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# A JSON document, as opposed to CSV text whose first header happens to start with '['.
_JSON_START = re.compile(r'\{\s*["}]|\[\s*(?:[\[\]{"\d-]|true|false|null)')


@dataclass(frozen=True)
class _Content:
    kind: str  # zip | ole2 | pdf | archive | binary | json | text | blank
    encoding: str | None = None
    text: str = ""  # the decoded head of a text file
    whole_file: bool = False


def _expected_type(original_filename: str) -> tuple[str, str]:
    """The extension of the user's file name and the type it promises, or a refusal."""
    name = original_filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    extension = name[name.rfind("."):].lower() if "." in name else ""
    if extension in _EXTENSIONS:
        return extension, _EXTENSIONS[extension]
    if extension == ".xls":
        raise InventoryFileError("Old Excel .xls files are not accepted; save the workbook "
                                 "as .xlsx or CSV and upload it again.")
    if not extension:
        raise InventoryFileError(f"The file name has no extension; upload a {_ACCEPTED} file.")
    raise InventoryFileError(f"Files of type {extension} are not accepted; "
                             f"upload a {_ACCEPTED} file.")


def _read_head(path: Path, limits: ParseLimits) -> tuple[bytes, bool]:
    """The first 64 KB of the file and whether that is all of it; refuses empty/oversized."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InventoryTooLargeError(
                f"The file is {_size_text(size)}, more than the {_size_text(limits.max_bytes)} "
                "limit for one upload.")
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        raise InventoryFileError("The uploaded file could not be read; please upload it again.") \
            from None
    if not head:
        raise InventoryFileError("The file is empty.")
    return head, len(head) < _HEAD_BYTES or size == len(head)


def _sniff_content(head: bytes, whole_file: bool) -> _Content:
    """Classify the content from its first bytes: container formats, then text."""
    if head.startswith(_ZIP_SIGNATURES):
        return _Content("zip")
    for signature, kind in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return _Content(kind)
    encoding = _detect_encoding(head, whole_file)
    text = _decode_head(head, encoding, whole_file)
    if _looks_binary(text):
        return _Content("binary")
    if not text.strip():
        if not text.lstrip("\ufeff"):
            raise InventoryFileError("The file is empty.")
        return _Content("blank", encoding, text, whole_file)
    kind = "json" if _JSON_START.match(text.lstrip()) else "text"
    return _Content(kind, encoding, text, whole_file)


def _refuse_mismatch(extension: str, expected: str, content: _Content) -> None:
    """Refuse content that is not what the extension promises, saying what it is instead."""
    kind = content.kind
    if kind == "ole2":
        raise InventoryFileError(
            "The file is an Excel 97-2003 (.xls) or password-protected workbook; save it as "
            ".xlsx without a password, or as CSV, and upload it again.")
    if expected == "xlsx":
        if kind != "zip":
            raise InventoryFileError(
                f"The file is not a valid XLSX workbook (it contains {_DESCRIPTIONS[kind]}).")
        return
    if kind in ("binary", "pdf", "archive"):
        raise InventoryFileError(
            f"The file does not look like a text file (it contains {_DESCRIPTIONS[kind]}); "
            f"upload a {_ACCEPTED} export.")
    if kind == "zip":
        raise InventoryFileError(
            f"The file is named {extension} but contains a ZIP archive such as an Excel "
            "workbook, not text; upload the workbook as .xlsx or export it as CSV.")
    if expected == "json":
        if kind == "blank":
            raise InventoryFileError("The file contains no JSON data, only blank lines.")
        if content.text.lstrip()[:1] not in ("[", "{"):
            raise InventoryFileError(
                f"The file is named {extension} but does not contain a JSON list of records "
                "(it looks like CSV or plain text).")
    elif kind == "json":
        raise InventoryFileError(
            f"The file is named {extension} but contains JSON; rename it to .json and upload "
            "it again.")


# --- text: encoding -------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_UTF16_NUL_SHARE = 0.3   # ASCII-heavy UTF-16: every other byte is NUL ...
_UTF16_STRAY_SHARE = 0.05  # ... and the other half almost never is
_SINGLE_BYTE_FALLBACK = "portal-cp1252-or-latin1"


def _cp1252_or_latin1(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined in cp1252
        return chr(byte)


_CP1252_OR_LATIN1 = tuple(_cp1252_or_latin1(byte) for byte in range(256))


def _decode_stray_bytes(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read undecodable bytes as Windows-1252 (Latin-1 where undefined).

    Exports concatenated from several tools mix UTF-8 with Windows-1252 past the part
    used for detection; this keeps such accents instead of failing mid-file.
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(_CP1252_OR_LATIN1[byte] for byte in bad), error.end


codecs.register_error(_SINGLE_BYTE_FALLBACK, _decode_stray_bytes)


def _errors_for(encoding: str) -> str:
    return "replace" if encoding.startswith(("utf-16", "utf-32")) else _SINGLE_BYTE_FALLBACK


def _detect_encoding(head: bytes, whole_file: bool) -> str:
    """BOM, then UTF-16 without BOM, then strict UTF-8, then Windows-1252.

    UTF-16 is tried before UTF-8 because ASCII text in UTF-16 (NUL every other byte)
    is also valid UTF-8.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    if _decodes_strictly(head, "utf-8", whole_file):
        return "utf-8"
    return "cp1252"


def _utf16_without_bom(head: bytes) -> str | None:
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even_nuls, odd_nuls = head[0:pairs * 2:2].count(0), head[1:pairs * 2:2].count(0)
    if odd_nuls > pairs * _UTF16_NUL_SHARE and even_nuls < pairs * _UTF16_STRAY_SHARE:
        candidate = "utf-16-le"
    elif even_nuls > pairs * _UTF16_NUL_SHARE and odd_nuls < pairs * _UTF16_STRAY_SHARE:
        candidate = "utf-16-be"
    else:
        return None
    return candidate if _decodes_strictly(head[:pairs * 2], candidate, False) else None


def _decodes_strictly(data: bytes, encoding: str, final: bool) -> bool:
    # An incremental decoder keeps a multibyte character cut at the end of the sample.
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _decode_head(head: bytes, encoding: str, whole_file: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors=_errors_for(encoding))
    return decoder.decode(head, final=whole_file).lstrip("\ufeff")


# C0 controls other than tab/newlines, DEL and C1 controls: rare in text, common in binary.
_CONTROL_CHARS = dict.fromkeys(
    [c for c in range(32) if chr(c) not in "\t\n\r"] + list(range(0x7F, 0xA0)))


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    controls = len(text) - len(text.translate(_CONTROL_CHARS))
    return controls > max(2, len(text) // 100)


@contextmanager
def _text_stream(path: Path, encoding: str) -> Iterator[io.TextIOWrapper]:
    with path.open("rb", buffering=MB) as raw, \
            io.TextIOWrapper(raw, encoding=encoding, errors=_errors_for(encoding),
                             newline="") as stream:
        yield stream


# --- text: records --------------------------------------------------------------------

class _LineTooLong(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


_BLOCK_CHARS = 256 * 1024  # text read per block of lines
# A blank line after each block: a record that ends with the block reads it as a record of
# its own, one the block cut off takes it in.
_BLOCK_END = ("\n",)


def _line_blocks(stream: io.TextIOBase, max_chars: int) -> Iterator[list[str]]:
    """The physical lines of `stream` (terminators kept), `_BLOCK_CHARS` at a time.

    Lines end as `newline=""` reading ends them (LF, CRLF or a lone CR).  A line of
    `max_chars` or more raises _LineTooLong once the lines before it have been handed
    out, so a file with no line breaks is never pulled into memory as one string.
    """
    carry = ""
    before = 0  # lines handed out so far
    while True:
        chunk = stream.read(_BLOCK_CHARS)
        text = carry + chunk
        if chunk:
            # a CR as the last character may be the first half of a CRLF: keep it back
            end = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
        else:
            end = len(text)
        carry = text[end:]
        lines = io.StringIO(text[:end], newline="").readlines() if end else []
        if lines and max(map(len, lines)) >= max_chars:
            for index, line in enumerate(lines):
                if len(line.rstrip("\r\n")) >= max_chars:
                    yield lines[:index]
                    raise _LineTooLong(before + index + 1)
        if lines:
            yield lines
            before += len(lines)
        if len(carry) >= max_chars:
            raise _LineTooLong(before + 1)
        if not chunk:
            return


def _record_blocks(stream: io.TextIOBase, delimiter: str, limits: ParseLimits, *,
                   whole_file: bool = True) -> Iterator[tuple[list[int], list[list[str]]]]:
    """(lines where the records start, fields) per block of records, blank lines included.

    The csv module reads each block's lines in C.  A record still open at the end of a
    block (a quoted value with line breaks) is read again with the next block; one still
    open at the end of the input means an unbalanced quote.  With `whole_file=False` (a
    cut-off sample) such a record is dropped instead.
    """
    csv.field_size_limit(limits.max_cell_chars)  # process-wide: every reader here sets it
    first = 1  # line number of lines[0]
    open_lines: list[str] = []  # the lines of a record a block ended in the middle of
    try:
        for lines in _line_blocks(stream, limits.max_line_chars):
            lines = open_lines + lines if open_lines else lines
            numbers, records, taken, error = _block_records(lines, first, delimiter, limits)
            open_lines = lines[taken:]
            first += taken
            del lines  # hold no block while the caller works (fewer objects for the GC)
            if records:
                yield numbers, records
                del numbers, records
            if error is not None:
                raise error
    except _LineTooLong as error:
        raise InventoryFileError(
            f"Line {error.line} is longer than {limits.max_line_chars:,} characters; "
            "the file does not look like a table export.") from None
    if open_lines and whole_file:
        raise InventoryFileError(_unbalanced_quote(first))


class _Block(NamedTuple):
    numbers: list[int]  # line where each record starts
    records: list[list[str]]
    lines: int  # lines the records take; the rest belong to a record the block cut off
    error: InventoryFileError | None = None  # what stopped the reading after `records`


def _block_records(lines: list[str], first: int, delimiter: str,
                   limits: ParseLimits) -> _Block:
    """The complete records in `lines`, whose first line is line number `first`."""
    def reader():
        return csv.reader(chain(lines, _BLOCK_END), delimiter=delimiter, quotechar='"',
                          doublequote=True, skipinitialspace=True)
    text = "".join(lines)
    if '"' not in text:  # without quotes, one line is one record
        records = _split_plain(text, lines, delimiter, limits.max_cell_chars)
        if records is not None:
            return _Block(list(range(first, first + len(lines))), records, len(lines))
        try:
            records = list(reader())
        except csv.Error:
            pass  # read again below, for the line numbers the message needs
        else:
            records.pop()  # the block end, read as an empty record
            return _Block(list(range(first, first + len(lines))), records, len(lines))
    numbers: list[int] = []
    records = []
    done = 0
    parser = reader()
    try:
        for record in parser:
            if parser.line_num > len(lines):  # ran into the block end: cut off, or empty
                break
            numbers.append(first + done)
            records.append(record)
            done = parser.line_num
    except csv.Error as error:
        if parser.line_num <= len(lines):
            problem = _csv_problem(str(error), first + done, first - 1 + parser.line_num,
                                   limits)
            return _Block(numbers, records, done, InventoryFileError(problem))
    return _Block(numbers, records, done)


def _split_plain(text: str, lines: list[str], delimiter: str, max_cell_chars: int
                 ) -> list | None:
    """The fields of quote-free `lines` (joined in `text`) when each line has as many:
    one split in C for the whole block, as the csv module would split them (leading
    spaces aside, which the callers strip anyway).  None for anything less regular, or
    with a line long enough to hold a value the csv module would refuse."""
    body = text.replace("\r\n", "\n") if "\r" in text else text
    body = body.removesuffix("\n")
    if "\r" in body or body.count("\n") != len(lines) - 1 or not body \
            or max(map(len, lines)) > max_cell_chars:
        return None
    separators = list(map(str.count, lines, repeat(delimiter)))
    if separators.count(separators[0]) != len(lines):
        return None
    fields = body.replace("\n", delimiter).split(delimiter)
    return list(zip(*[iter(fields)] * (separators[0] + 1), strict=False))


def _unbalanced_quote(line: int) -> str:
    return (f'The file has an unbalanced quote (") starting on line {line}: everything after '
            "it would be read as one value; fix the quote and upload the file again.")


def _csv_problem(message: str, start: int, line: int, limits: ParseLimits) -> str:
    if "field limit" in message:
        if line > start:  # the value ran over several lines: an opening quote never closed
            return _unbalanced_quote(start)
        return (f"A value on line {start} is longer than {limits.max_cell_chars:,} characters, "
                "the most one cell may hold.")
    if "NUL" in message:
        return f"Line {line} contains a NUL character; the file may be damaged."
    return f"Line {line} of the file could not be read ({message})."


# --- text: delimiter and header -------------------------------------------------------

def _open_text(path: Path, content: _Content, *, prefer_tab: bool,
               limits: ParseLimits) -> ParsedFile:
    if content.kind == "blank":
        raise InventoryFileError("No header row was found: the file contains only blank lines.")
    sample = _complete_lines(content.text, content.whole_file)
    if not sample.strip():
        raise InventoryFileError(f"The first line of the file is longer than "
                                 f"{_size_text(_HEAD_BYTES)}; the file does not look like a "
                                 "table export.")
    delimiter, records = _choose_delimiter(sample, content.whole_file, prefer_tab, limits)
    header_row, header = _find_header(records)
    columns = _column_names(header, limits)
    batches = partial(_text_batches, path, content.encoding, delimiter, header_row,
                      len(columns), limits)
    return ParsedFile("tsv" if delimiter == "\t" else "csv", content.encoding, delimiter,
                      None, columns, header_row, batches)


def _complete_lines(text: str, whole_file: bool) -> str:
    """The sample without its last, possibly cut-off, line."""
    if whole_file:
        return text
    end = max(text.rfind("\n"), text.rfind("\r"))
    return text[:end + 1]


Row = tuple[int, list[str | None]]


def _sample_rows(sample: str, delimiter: str, whole_file: bool,
                 limits: ParseLimits) -> tuple[list[Row], InventoryFileError | None]:
    """The first non-blank records of the sample, cleaned like data rows, and the error
    that stopped the reading early, if any."""
    rows: list[Row] = []
    blocks = _record_blocks(io.StringIO(sample, newline=""), delimiter, limits,
                            whole_file=whole_file)
    try:
        for numbers, records in blocks:
            for number, record in zip(numbers, records, strict=False):
                cells = [cell.strip() or None for cell in record]
                if any(cells):
                    rows.append((number, cells))
                    if len(rows) == _SNIFF_RECORDS:
                        return rows, None
    except InventoryFileError as error:
        return rows, error
    return rows, None


def _choose_delimiter(sample: str, whole_file: bool, prefer_tab: bool,
                      limits: ParseLimits) -> tuple[str, list[Row]]:
    """The delimiter whose field count is most consistent from line to line (and > 1).

    A reading error (say an unbalanced quote) counts against the file only if it
    happens with the delimiter chosen: with another one the quote may not even open.
    """
    parsed = {d: _sample_rows(sample, d, whole_file, limits) for d in _DELIMITERS}
    scores = {d: _consistency(rows) for d, (rows, _) in parsed.items()}
    if prefer_tab and scores["\t"].splits:
        best = "\t"
    elif any(score.splits for score in scores.values()):
        best = max(_DELIMITERS, key=lambda d: (scores[d], -_DELIMITERS.index(d)))
    else:  # one column: no delimiter splits anything
        best = "\t" if prefer_tab else ","
    rows, error = parsed[best]
    if error is not None:
        raise error
    return best, rows


class _Consistency(NamedTuple):
    splits: bool  # more than one field per row
    share: float  # of the rows that have the usual field count
    width: int    # the usual field count


def _modal_width(rows: Sequence[Row]) -> int:
    """The most common number of fields (the wider one on ties)."""
    counts = Counter(len(cells) for _, cells in rows)
    if not counts:
        return 0
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0]


def _consistency(rows: Sequence[Row]) -> _Consistency:
    if not rows:
        return _Consistency(False, 0.0, 0)
    width = _modal_width(rows)
    share = sum(1 for _, cells in rows if len(cells) == width) / len(rows)
    return _Consistency(width > 1, round(share, 2), width)


def _find_header(rows: Sequence[Row]) -> Row:
    """The header among the first rows: labels, at least as wide as the rows below it.

    Rows before it (a title, "Exported on …", a padded "Report,,,,") are skipped.
    Widths ignore trailing empty cells, which exporters add or drop freely (so do the
    returned header cells).  If no row looks like labels, the first row as wide as the
    rows below it is taken.
    """
    if not rows:
        raise InventoryFileError("No header row was found: the file contains only blank lines.")
    widths = [_filled_width(cells) for _, cells in rows]
    candidates = [index for index in range(min(len(rows), _HEADER_SEARCH_ROWS))
                  if widths[index] >= _usual_width(widths[index + 1:])]
    for index in candidates:
        if _looks_like_labels(rows[index][1][:widths[index]]):
            break
    else:
        index = candidates[0] if candidates else 0
    number, cells = rows[index]
    return number, cells[:widths[index]]


def _filled_width(cells: Sequence[str | None]) -> int:
    """Cells up to the last non-empty one."""
    width = len(cells)
    while width and cells[width - 1] is None:
        width -= 1
    return width


def _usual_width(widths: Sequence[int]) -> int:
    """The most common width (the narrower on ties, so a stray wide row does not win)."""
    counts = Counter(widths)
    return max(counts.items(), key=lambda item: (item[1], -item[0]))[0] if counts else 0


def _looks_like_labels(cells: Sequence[str | None]) -> bool:
    filled = [cell for cell in cells if cell]
    if len(filled) * 2 < len(cells):
        return False
    labels = sum(1 for cell in filled if _is_label(cell))
    return labels * 2 > len(filled)


def _is_label(cell: str) -> bool:
    if not any(char.isalpha() for char in cell):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False  # "1e5", "nan"


# --- text: rows -----------------------------------------------------------------------

def _text_batches(path: Path, encoding: str, delimiter: str, header_row: int, width: int,
                  limits: ParseLimits) -> Iterator[RowBatch]:
    with _text_stream(path, encoding) as stream:
        for numbers, records in _record_blocks(stream, delimiter, limits):
            if numbers[0] <= header_row:  # the header and anything above it
                keep = sum(1 for number in numbers if number > header_row)
                numbers, records = numbers[len(numbers) - keep:], records[len(records) - keep:]
            batch = _cleaned(numbers, records, width)
            del numbers, records  # hold no parsed records while the caller works
            if batch.numbers:
                yield batch


_NONE_IF_EMPTY = {"": None}


def _cleaned(numbers: list[int], records: list[list[str]], width: int) -> RowBatch:
    """Records as rows: cells stripped (empty ones None), fitted to the header's width,
    blank rows left out.  Mostly in C: files are usually regular."""
    if list(map(len, records)).count(width) == len(records):
        values = list(map(tuple, map(map, repeat(str.strip), records)))
        if any(map(contains, values, repeat(""))):
            values = list(map(tuple, map(map, repeat(_NONE_IF_EMPTY.get), values, values)))
            filled = list(map(any, values))
            if not all(filled):
                numbers, values = list(compress(numbers, filled)), list(compress(values, filled))
        return RowBatch(numbers, values)
    kept_numbers, kept, problems = [], [], []
    for number, record in zip(numbers, records, strict=False):
        row = tuple([cell.strip() or None for cell in record])
        if len(row) == width:
            if any(row):
                kept_numbers.append(number)
                kept.append(row)
                problems.append(None)
        elif any(row):
            fitted = _fitted(number, row, width, flag_short=True)
            kept_numbers.append(number)
            kept.append(fitted.values)
            problems.append(fitted.problem)
    return RowBatch(kept_numbers, kept, problems if any(problems) else None)


def _fitted(number: int, values: tuple[str | None, ...], width: int, *,
            flag_short: bool) -> SourceRow:
    """A row padded or cut to the header's width; flagged if values were lost or missing.

    Empty cells past the header (trailing delimiters) are not a problem; in a workbook
    a short row is normal because empty trailing cells are not stored.
    """
    count = len(values)
    if count > width:
        extra = any(values[width:])
        problem = f"row has {_count_text(count)} but the header has {width}" if extra else None
        return SourceRow(number, values[:width], problem)
    problem = f"row has {_count_text(count)} but the header has {width}" if flag_short else None
    return SourceRow(number, values + (None,) * (width - count), problem)


def _count_text(count: int) -> str:
    return "1 value" if count == 1 else f"{count} values"


# --- XLSX -----------------------------------------------------------------------------

_RATIO_CHECK_FLOOR = 1 * MB  # small members compress however they like; bombs are large


def _open_xlsx(path: Path, limits: ParseLimits) -> ParsedFile:
    _check_workbook_archive(path, limits)
    with _workbook(path) as workbook:
        sheet, rows = _choose_sheet(workbook)
    header_row, header = _find_header(rows)
    columns = _column_names(header, limits)
    return ParsedFile("xlsx", None, None, sheet, columns, header_row,
                      partial(_batched, _xlsx_rows, path, sheet, header_row, len(columns)))


def _check_workbook_archive(path: Path, limits: ParseLimits) -> None:
    """Refuse a ZIP that is not a workbook, or that would unpack to too much, unopened.

    The sizes come from the ZIP directory; zipfile never inflates a member past its
    declared size, so they bound what openpyxl can read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InventoryFileError(
            "The file is not a valid XLSX workbook (its ZIP structure is damaged).") from None
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise InventoryFileError(
            f"The file is not an XLSX workbook (it is {_zip_description(names)}).")
    if any(member.flag_bits & 0x1 for member in members):
        raise InventoryFileError("The workbook is encrypted; save it without a password "
                                 "and upload it again.")
    _check_expansion(members, limits)


def _zip_description(names: set[str]) -> str:
    if "word/document.xml" in names:
        return "a Word document"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint presentation"
    if "content.xml" in names:
        return "an OpenDocument file; save it as .xlsx"
    return "a ZIP archive of other files"


def _check_expansion(members: Sequence[zipfile.ZipInfo], limits: ParseLimits) -> None:
    total = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise InventoryTooLargeError(
            f"The workbook expands to more than {_size_text(limits.max_uncompressed_bytes)} "
            "when unpacked (possible zip bomb), so it was not opened.")
    ratios = [member.file_size / max(member.compress_size, 1) for member in members
              if member.file_size > _RATIO_CHECK_FLOOR]
    if total > _RATIO_CHECK_FLOOR:
        ratios.append(total / max(packed, 1))
    if any(ratio > limits.max_compression_ratio for ratio in ratios):
        raise InventoryTooLargeError(
            "The workbook expands to more than "
            f"{limits.max_compression_ratio:g} times its compressed size when unpacked "
            "(possible zip bomb), so it was not opened.")


@contextmanager
def _workbook(path: Path) -> Iterator[openpyxl.Workbook]:
    """A read-only workbook (XML parsed through defusedxml), closed with its file.

    openpyxl gets an open file rather than the path so that the file is closed even
    when loading fails half-way.
    """
    with path.open("rb") as handle:
        try:
            with warnings.catch_warnings(action="ignore"):  # styles/extensions it drops
                workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a damaged or hostile workbook
            raise InventoryFileError("The workbook could not be opened; it may be damaged "
                                     "or not really an Excel workbook.") from None
        try:
            yield workbook
        finally:
            workbook.close()


def _choose_sheet(workbook: openpyxl.Workbook) -> tuple[str, list[Row]]:
    """The first sheet with data: RVTools' vInfo first, then visible, then hidden sheets."""
    sheets = sorted(workbook.worksheets, key=lambda ws: (
        ws.title.strip().lower() != "vinfo", ws.sheet_state != "visible"))
    for worksheet in sheets:
        rows = _leading_rows(worksheet)
        if rows:
            return worksheet.title, rows
    raise InventoryFileError("The workbook contains no data: every sheet is empty.")


def _leading_rows(worksheet) -> list[Row]:
    """The first non-blank rows of a sheet, trailing empty cells trimmed."""
    rows: list[Row] = []
    sheet_rows = _sheet_rows(worksheet)
    try:
        for number, raw in enumerate(islice(sheet_rows, _XLSX_LEADING_ROW_SCAN), start=1):
            cells = [_value_text(value) for value in raw]
            del cells[_filled_width(cells):]
            if cells:
                rows.append((number, cells))
                if len(rows) == _SNIFF_RECORDS:
                    break
    finally:
        sheet_rows.close()
    return rows


def _sheet_rows(worksheet) -> Iterator[tuple]:
    """Cell values row by row from row 1, read in batches with openpyxl's warnings muted.

    The dimensions recorded in the file are ignored: some exporters write wrong ones,
    which would make openpyxl cut rows short.
    """
    worksheet.reset_dimensions()
    source = worksheet.iter_rows(values_only=True)
    read = 0
    try:
        while True:
            try:
                with warnings.catch_warnings(action="ignore"):
                    batch = list(islice(source, _XLSX_BATCH))
            except Exception:  # damaged sheet XML, bad shared-string index ...
                raise InventoryFileError(
                    f'The sheet "{worksheet.title}" is damaged somewhere after row {read:,} '
                    "and could not be read to the end.") from None
            if not batch:
                return
            read += len(batch)
            yield from batch
    finally:
        source.close()


def _xlsx_rows(path: Path, sheet: str, header_row: int, width: int) -> Iterator[SourceRow]:
    with _workbook(path) as workbook:
        rows = _sheet_rows(workbook[sheet])
        try:
            for number, raw in enumerate(rows, start=1):
                if number <= header_row:
                    continue
                values = tuple([_value_text(value) for value in raw])
                if len(values) == width:
                    if any(values):
                        yield SourceRow(number, values)
                elif any(values):
                    yield _fitted(number, values, width, flag_short=False)
        finally:
            rows.close()


# --- values ---------------------------------------------------------------------------

def _value_text(value: object) -> str | None:
    """A cell or JSON value as text: stripped, empty → None, numbers without noise."""
    kind = type(value)  # exact types first: this runs for every cell
    if kind is str:
        return value.strip() or None  # type: ignore[attr-defined]
    if value is None:
        return None
    if kind is int:
        return str(value)
    if kind is float:
        return _float_text(value)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if value else "false"
    return _other_value_text(value)


def _other_value_text(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return _compact_json(value)
    return str(value).strip() or None


_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _float_text(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    # 15 significant digits, like Excel: 0.30000000000000004 is 0.3
    return f"{value:.15g}"


# --- JSON -----------------------------------------------------------------------------

def _open_json(path: Path, encoding: str | None, limits: ParseLimits) -> ParsedFile:
    encoding = encoding or "utf-8"
    with _json_stream(path, encoding) as stream:
        prefix = _records_prefix(stream)
    with _json_stream(path, encoding) as stream:
        keys = _leading_keys(stream, prefix)
    columns = _column_names(keys, limits)
    key_index = {key: index for index, key in enumerate(keys)}
    return ParsedFile("json", encoding, None, None, columns, 0,
                      partial(_batched, _json_rows, path, encoding, prefix, key_index))


class _Utf8Recoder:
    """A binary reader giving UTF-8 for a text stream (ijson reads bytes)."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text

    def read(self, size: int = -1) -> bytes:
        return self._text.read(size).encode("utf-8")


@contextmanager
def _json_stream(path: Path, encoding: str) -> Iterator[BinaryIO | _Utf8Recoder]:
    if encoding in ("utf-8", "utf-8-sig"):
        with path.open("rb") as raw:
            if encoding == "utf-8-sig":
                raw.seek(len(codecs.BOM_UTF8))
            yield raw
    else:
        with _text_stream(path, encoding) as text:
            yield _Utf8Recoder(text)


def _records_prefix(stream) -> str:
    """Where the records are: the top-level list, or a list under a field like "data"."""
    events = ijson.parse(stream)
    try:
        _, event, _ = next(events)
        if event == "start_array":
            return "item"
        if event != "start_map":  # the content check lets only '[' and '{' through
            raise InventoryFileError("The JSON file does not contain a list of records.")
        keys: list[str] = []
        for prefix, event, value in events:
            if prefix == "" and event == "map_key":
                keys.append(value)
            elif event == "start_array" and keys and prefix == keys[-1] \
                    and prefix.lower() in _JSON_WRAPPER_KEYS:
                return f"{prefix}.item"
            elif prefix == "" and event == "end_map":
                break
    except (ijson.JSONError, StopIteration):
        raise InventoryFileError(_invalid_json(0)) from None
    raise InventoryFileError(
        f"The JSON file is an object with the fields {_quoted_list(keys)}, not a list of "
        "records (expected a list, or a field such as \"data\" or \"items\" holding one).")


def _leading_keys(stream, prefix: str) -> list[str]:
    """Field names of the first records, in first-seen order."""
    keys: dict[str, None] = {}
    count = 0
    try:
        for count, item in enumerate(islice(_json_items(stream, prefix), _JSON_KEY_SCAN), 1):
            if isinstance(item, dict):
                keys.update(dict.fromkeys(item))
            elif count == 1:
                raise InventoryFileError(
                    f"The JSON list holds {_json_kind(item)} values, not records with named "
                    "fields.")
    except ijson.JSONError:
        raise InventoryFileError(_invalid_json(count)) from None
    if count == 0:
        raise InventoryFileError("The JSON list is empty: there are no records to import.")
    return list(keys)


def _json_items(stream, prefix: str) -> Iterator[object]:
    return ijson.items(stream, prefix, use_float=True)


def _json_rows(path: Path, encoding: str, prefix: str,
               key_index: dict[str, int]) -> Iterator[SourceRow]:
    width = len(key_index)
    reported: set[str] = set()
    number = 0
    with _json_stream(path, encoding) as stream:
        try:
            for number, item in enumerate(_json_items(stream, prefix), 1):
                if not isinstance(item, dict):
                    problem = f"item is a {_json_kind(item)} value, not a record with named fields"
                    yield SourceRow(number, (None,) * width, problem)
                    continue
                row = _json_row(number, item, key_index, width, reported)
                if row is not None:
                    yield row
        except ijson.JSONError:
            raise InventoryFileError(_invalid_json(number)) from None


_MAX_REPORTED_KEYS = 1000  # keeps memory bounded when every record brings a new key


def _json_row(number: int, item: dict, key_index: dict[str, int], width: int,
              reported: set[str]) -> SourceRow | None:
    values: list[str | None] = [None] * width
    unexpected = []
    for key, value in item.items():
        index = key_index.get(key)
        if index is not None:
            values[index] = value.strip() or None if type(value) is str else _value_text(value)
        elif key not in reported:
            unexpected.append(key)
            if len(reported) < _MAX_REPORTED_KEYS:
                reported.add(key)
    problem = None
    if unexpected:
        noun = "field" if len(unexpected) == 1 else "fields"
        problem = f"unexpected {noun} {_quoted_list(unexpected)} ignored"
    if problem is None and not any(values):
        return None
    return SourceRow(number, tuple(values), problem)


def _json_kind(value: object) -> str:
    """A word for a JSON value that is not a record ("numeric", "text" ...)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "numeric"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    return "empty" if value is None else "other"


def _invalid_json(records_read: int) -> str:
    where = "near the start" if records_read == 0 else f"after record {records_read:,}"
    return (f"The file is not valid JSON: it is damaged or cut short {where}; export it "
            "again and upload the complete file.")


# --- shared ---------------------------------------------------------------------------

def _column_names(header: Sequence[str | None], limits: ParseLimits) -> list[str]:
    """Header cells as unique names: blanks become "Column 3", repeats "Name (2)"."""
    if len(header) > limits.max_columns:
        raise InventoryFileError(f"The file has {len(header):,} columns; at most "
                                 f"{limits.max_columns:,} are supported.")
    names: list[str] = []
    taken: set[str] = set()
    for position, cell in enumerate(header, start=1):
        base = " ".join(cell.split()) if cell else ""  # header cells may hold line breaks
        base = base or f"Column {position}"
        name, copy = base, 1
        while name in taken:
            copy += 1
            name = f"{base} ({copy})"
        taken.add(name)
        names.append(name)
    return names


def _quoted_list(names: Iterable[str], most: int = 5) -> str:
    names = list(names)
    shown = ", ".join(f"'{name}'" for name in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _size_text(size: int) -> str:
    for unit, factor in (("GB", 1024 * MB), ("MB", MB), ("KB", 1024)):
        if size >= factor:
            amount = size / factor
            return f"{amount:.0f} {unit}" if amount >= 10 or amount.is_integer() \
                else f"{amount:.1f} {unit}"
    return f"{size} bytes"
