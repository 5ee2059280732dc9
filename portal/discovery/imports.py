"""The life of an inventory import (no Flask in here): upload → staged rows with suggested
mappings → review (changes teach the account) → accepted, with per-row validation.

Statuses: `review` (staged; the mapping awaits a look), `validated` (accepted: valid rows
proceed), `rejected` (accepted all-or-nothing, but some rows failed).  Everything happens
in the caller's transaction, so a failure leaves the database as it was.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from portal.discovery import learning
from portal.discovery.field_mapping import ColumnMapping, suggest_field_mappings
from portal.discovery.fields import FIELD_NAMES
from portal.discovery.parsing import ParsedFile
from portal.discovery.staging import (StagingCounts, first_rows, invalid_rows, revalidate,
                                      stage_rows)
from portal.discovery.validation import RowCheck, RowValidator
from portal.errors import DomainError, NotFound
from portal.models import DataImport

SAMPLE_ROWS = 50
ERROR_SUMMARY_LIMIT = 200


@dataclass(frozen=True)
class Uploaded:
    """A file the web layer or the CLI has stored under a server-chosen name."""

    path: Path
    original_filename: str
    size: int


def _mapping_digest(mappings: list[ColumnMapping]) -> str:
    return hashlib.sha256(json.dumps([(m.source, m.target, m.unit) for m in mappings])
                          .encode()).hexdigest()


def mappings_of(data_import: DataImport) -> list[ColumnMapping]:
    return [ColumnMapping(**m) for m in (data_import.processed_data or {}).get("mapping", [])]


def _store_mappings(data_import: DataImport, mappings: list[ColumnMapping], **state) -> None:
    data = dict(data_import.processed_data or {})
    data["mapping"] = [asdict(m) for m in mappings]
    data.update(state)
    data_import.processed_data = data
    flag_modified(data_import, "processed_data")


def _apply_counts(session: Session, data_import: DataImport, counts: StagingCounts) -> None:
    data_import.total_rows = counts.total_rows
    data_import.valid_rows = counts.valid_rows
    data_import.invalid_rows = counts.invalid_rows
    summary = [{"row": number, "column": e["column"], "field": e["field"],
                "reason": e["reason"]}
               for number, _data, errors in invalid_rows(session, data_import.client_account_id,
                                                         data_import.id, ERROR_SUMMARY_LIMIT)
               for e in errors]
    data_import.validation_errors = summary
    data = dict(data_import.processed_data or {})
    data["duplicate_names"] = counts.duplicate_names
    data_import.processed_data = data
    flag_modified(data_import, "processed_data")


def create_import(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
                  user_id: uuid.UUID | None, upload: Uploaded, parsed: ParsedFile) -> DataImport:
    """Suggest a mapping from a sample, then validate and stage every row."""
    started = datetime.now(timezone.utc)
    learned = learning.learned_mappings(session, account_id)
    sample = [row.values for row in parsed.sample(SAMPLE_ROWS)]
    if not sample:
        raise DomainError("The file has a header row but no data rows.")
    mappings = suggest_field_mappings(parsed.columns, sample, learned)
    learning.mark_used(session, account_id, mappings)
    data_import = DataImport(
        client_account_id=account_id, engagement_id=engagement_id,
        filename=upload.original_filename[:500], file_size_bytes=upload.size,
        file_type=parsed.file_type, upload_status="review", columns_detected=parsed.columns,
        file_path=str(upload.path), uploaded_by=user_id)
    _store_mappings(data_import, mappings, suggested=[asdict(m) for m in mappings],
                    encoding=parsed.encoding, delimiter=parsed.delimiter, sheet=parsed.sheet,
                    header_row=parsed.header_row, validated_mapping=_mapping_digest(mappings))
    session.add(data_import)
    session.flush()
    counts = stage_rows(session, account_id, data_import.id, parsed.columns,
                        parsed.batches(), mappings)
    _apply_counts(session, data_import, counts)
    learning.record_run(session, account_id, engagement_id, None, started, mappings,
                        f"suggest mappings for {upload.original_filename[:200]}")
    session.flush()
    return data_import


def import_in(session: Session, account_id: uuid.UUID, engagement_id: uuid.UUID,
              import_id: uuid.UUID) -> DataImport:
    """An import of this engagement; another tenant's answers NotFound like a missing one."""
    found = session.scalar(select(DataImport).where(
        DataImport.client_account_id == account_id, DataImport.engagement_id == engagement_id,
        DataImport.id == import_id))
    if found is None:
        raise NotFound("no such import")
    return found


def change_mapping(session: Session, data_import: DataImport, source: str, target: str | None,
                   unit: str | None) -> list[ColumnMapping]:
    """The reviewer's choice for one column.  A target another column had moves here (that
    column becomes unmapped, saying so); the decision is remembered for the account."""
    if target is not None and target not in FIELD_NAMES:
        raise DomainError(f"unknown field {target!r}")
    mappings = mappings_of(data_import)
    if source not in {m.source for m in mappings}:
        raise DomainError(f"the file has no column {source!r}")
    if data_import.upload_status != "review":
        raise DomainError("this import has been accepted; its mapping can no longer change")
    changed = []
    for m in mappings:
        if m.source == source:
            m = ColumnMapping(source, target, 1.0, unit if target else None, "learned",
                              "Chosen by you." if target else "Left unmapped by you.")
            learning.remember(session, data_import.client_account_id,
                              data_import.engagement_id, m, corrected=True)
        elif target is not None and m.target == target:
            m = ColumnMapping(m.source, None, m.confidence, None, "unmapped",
                              f"{target} now comes from column '{source}'.")
        changed.append(m)
    _store_mappings(data_import, changed)
    session.flush()
    return changed


def drop_unsure_mappings(data_import: DataImport, threshold: float) -> list[str]:
    """Unmap the columns mapped below `threshold` (they stay in the raw rows and in each
    asset's source columns); returns their names.  For unattended runs (`portal import`)."""
    mappings = mappings_of(data_import)
    unsure = [m.source for m in mappings if m.target and m.confidence < threshold]
    if unsure:
        _store_mappings(data_import, [
            ColumnMapping(m.source, None, m.confidence, None, "unmapped",
                          f"Left unmapped by an unattended run (best guess {m.target}).")
            if m.source in unsure else m for m in mappings])
    return unsure


def accept(session: Session, data_import: DataImport, *, all_or_nothing: bool) -> DataImport:
    """Confirm the mapping (teaching the account), re-check rows if it changed since they
    were validated, and settle the import: valid rows proceed, or — all-or-nothing — none
    do when any row failed."""
    if data_import.upload_status != "review":
        raise DomainError("this import has already been accepted")
    mappings = mappings_of(data_import)
    for m in mappings:
        if m.target and m.method != "learned":
            learning.remember(session, data_import.client_account_id, data_import.engagement_id,
                              m, corrected=False)
    digest = _mapping_digest(mappings)
    if digest != (data_import.processed_data or {}).get("validated_mapping"):
        counts = revalidate(session, data_import.client_account_id, data_import.id,
                            data_import.columns_detected, mappings)
        _apply_counts(session, data_import, counts)
    failed = bool(data_import.invalid_rows)
    data_import.upload_status = "rejected" if all_or_nothing and failed else "validated"
    _store_mappings(data_import, mappings, validated_mapping=digest,
                    all_or_nothing=all_or_nothing)
    session.flush()
    return data_import


@dataclass(frozen=True)
class PreviewRow:
    number: int
    raw: list          # the cells as uploaded, aligned to the columns
    check: RowCheck    # canonical values and errors under the current mapping


def preview(session: Session, data_import: DataImport, limit: int = 10) -> list[PreviewRow]:
    """The first rows as the current mapping would import them."""
    validator = RowValidator(data_import.columns_detected, mappings_of(data_import))
    return [PreviewRow(number, cells, validator.check(cells)) for number, cells in first_rows(
        session, data_import.client_account_id, data_import.id, limit)]
