"""Spreadsheet downloads: CSV streamed as it is written, XLSX built in a spooled file.
Every cell goes through portal.spreadsheet_safety (via the writers), so no cell runs as a
formula."""
from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from flask import Response, g, stream_with_context

from portal.inventory import csv_chunks, write_xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download_name(what: str, extension: str) -> str:
    """`<what>-<engagement slug>-<today>.<extension>`."""
    return f"{what}-{g.tenant.engagement.slug}-{date.today().isoformat()}.{extension}"


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_download(rows: Iterable[Sequence[Any]], header: Sequence[str], filename: str) -> Response:
    return Response(stream_with_context(csv_chunks(rows, header)), mimetype="text/csv",
                    headers=_attachment(filename))


def xlsx_download(rows: Iterable[Sequence[Any]], header: Sequence[str], filename: str,
                  title: str) -> Response:
    workbook = tempfile.SpooledTemporaryFile(max_size=16 << 20)
    write_xlsx(rows, workbook, header, title)
    workbook.seek(0)
    return Response(_read_and_close(workbook), mimetype=XLSX_TYPE, headers=_attachment(filename))


def _read_and_close(file, chunk: int = 1 << 16):
    """The file's bytes in chunks; the file is closed however the response ends."""
    try:
        while data := file.read(chunk):
            yield data
    finally:
        file.close()
