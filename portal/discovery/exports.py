"""Files the imports pages hand out: the failed rows with their reasons, and blank
templates of the canonical fields (no Flask in here).  Every text cell goes through
`safe_cell`, so nothing runs as a spreadsheet formula."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from openpyxl import Workbook
from sqlalchemy.orm import Session

from portal.discovery.fields import FIELDS
from portal.discovery.staging import invalid_rows
from portal.models import DataImport
from portal.spreadsheet_safety import safe_cell


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def error_rows_csv(session: Session, data_import: DataImport) -> Iterator[str]:
    """The rows that failed validation, as uploaded, with `row` and `reason` columns."""
    columns = list(data_import.columns_detected or [])
    rows = invalid_rows(session, data_import.client_account_id, data_import.id)
    yield _csv_line(["row", *columns, "reason"])
    for number, cells, errors in rows:
        reasons = "; ".join(f"{e['column']}: {e['reason']}" if e.get("column") else e["reason"]
                            for e in errors)
        yield _csv_line([number, *cells, reasons])


def template_csv() -> str:
    return _csv_line([f.name for f in FIELDS])


def template_xlsx() -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Inventory")
    sheet.append([f.name for f in FIELDS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
