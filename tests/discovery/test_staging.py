"""Bulk staging of an import's rows: cells stored exactly as parsed whatever they hold,
errors and name keys exactly as the row-by-row check gives them, counts across segments,
and a file that breaks half-way leaves nothing staged."""
from __future__ import annotations

import csv
import random
import threading

import pytest
from sqlalchemy import func, select

from portal.db import set_tenant
from portal.discovery import staging
from portal.discovery.field_mapping import ColumnMapping
from portal.discovery.imports import Uploaded, create_import
from portal.discovery.parsing import InventoryFileError, RowBatch, open_inventory
from portal.discovery.validation import MISSING_NAME, RowValidator
from portal.models import DataImport, ImportRow

COLUMNS = ["Name", "Host", "FQDN", "IP", "Cores", "RAM", "CPU %", "MAC", "Notes"]
MAPPINGS = [ColumnMapping(source, target, 1.0, unit, "learned", "")
            for source, target, unit in [
                ("Name", "name", None), ("Host", "hostname", None), ("FQDN", "fqdn", None),
                ("IP", "ip_address", None), ("Cores", "cpu_cores", None),
                ("RAM", "memory_gb", "MB"), ("CPU %", "cpu_utilization_pct", "percent"),
                ("MAC", "mac_address", None), ("Notes", None, None)]]
# Cells that pass, fail, are null markers or need escaping in JSON and in COPY text.
CHOICES = {
    "Name": [None, "web-01", " Web  01 ", "n/a", "db-é", 'say "hi"', "back\\slash", "-"],
    "Host": [None, "host-1", "HOST-1", "none"],
    "FQDN": [None, "app.corp.example.com", "10.0.0.7", ". .", "Svc.Example.COM.",
             "web 01 .corp.example.com"],
    "IP": [None, "10.0.0.1", "10.0.0.256", "fe80::1", "10.1.2.3/24", "a, 10.0.0.9", "x"],
    "Cores": [None, "4", "eight", "-2", "4.5", "1,024", "٤"],
    "RAM": [None, "8192", "16 GB", "12 XB", "-1", "1,024.5"],
    "CPU %": [None, "45", "45%", "101", "0.5", "-3", "12 kg"],
    "MAC": [None, "00:50:56:ab:cd:ef", "0050.56ab.cdef", "zz"],
    "Notes": [None, "tab\there", "line\nbreak", "nul-free \u2028 sep", "emoji 🚀",
              "ctrl \x01 char", "plain"],
}


def random_rows(count: int, seed: int) -> list[tuple[str | None, ...]]:
    rng = random.Random(seed)
    return [tuple(rng.choice(CHOICES[column]) for column in COLUMNS) for _ in range(count)]


@pytest.fixture
def tenant(people, db_session):
    account = people.account(name="Staging")
    engagement = people.engagement(account, "Wave 1")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    return account, engagement


def new_import(db_session, tenant) -> DataImport:
    account, engagement = tenant
    data_import = DataImport(client_account_id=account.id, engagement_id=engagement.id,
                             filename="rows.csv", file_size_bytes=1, file_type="csv",
                             upload_status="review", columns_detected=COLUMNS)
    db_session.add(data_import)
    db_session.flush()
    return data_import


def stored(db_session, data_import) -> list[tuple]:
    return list(db_session.execute(
        select(ImportRow.row_number, ImportRow.data, ImportRow.errors, ImportRow.name_key)
        .where(ImportRow.data_import_id == data_import.id).order_by(ImportRow.row_number)))


def test_batch_check_agrees_with_the_row_check_on_every_kind_of_cell():
    rows = random_rows(3000, seed=1)
    problems = [None if i % 7 else f"problem {i}" for i in range(len(rows))]
    validator = RowValidator(COLUMNS, MAPPINGS)
    errors, keys = validator.stage_batch(list(zip(*rows, strict=False)), len(rows), problems)
    one_by_one = RowValidator(COLUMNS, MAPPINGS)
    for position, (row, problem) in enumerate(zip(rows, problems, strict=False)):
        check = one_by_one.check(row, problem)
        assert (errors.get(position), keys[position]) == (check.errors, check.name_key), row
    assert any(MISSING_NAME in str(e) for e in errors.values())
    assert len(errors) < len(rows)  # valid rows are in there too


def test_batch_check_agrees_once_columns_stop_remembering_values(monkeypatch):
    monkeypatch.setattr("portal.discovery.validation.MEMO_MAX_ENTRIES", 3)
    rows = [(f"srv{i}", None, None, f"10.0.{i // 250}.{i % 250}" if i % 97 else "bad",
             str(i) if i % 89 else "x", str(i), str(i % 120), None, None) for i in range(2000)]
    validator = RowValidator(COLUMNS, MAPPINGS)
    for start in range(0, len(rows), 500):  # batches: the memo fills, then stops
        batch = rows[start:start + 500]
        errors, keys = validator.stage_batch(list(zip(*batch, strict=False)), len(batch))
        for position, row in enumerate(batch):
            check = RowValidator(COLUMNS, MAPPINGS).check(row)
            assert (errors.get(position), keys[position]) == (check.errors, check.name_key)


def test_staged_cells_errors_and_keys_are_exactly_what_was_parsed(db_session, tenant,
                                                                  monkeypatch):
    monkeypatch.setattr(staging, "SEGMENT_ROWS", 700)  # several segments
    rows = random_rows(2500, seed=2)
    batches = [RowBatch(list(range(start + 2, start + 2 + len(chunk))), chunk)
               for start in range(0, len(rows), 300)
               for chunk in [rows[start:start + 300]]]
    data_import = new_import(db_session, tenant)
    counts = staging.stage_rows(db_session, tenant[0].id, data_import.id, COLUMNS, batches,
                                MAPPINGS)
    expected = [RowValidator(COLUMNS, MAPPINGS).check(row) for row in rows]
    assert stored(db_session, data_import) == [
        (number, list(row), check.errors, check.name_key)
        for number, row, check in zip(range(2, 2 + len(rows)), rows, expected, strict=False)]
    keys = [check.name_key for check in expected if check.name_key]
    assert counts.total_rows == len(rows)
    assert counts.invalid_rows == sum(1 for check in expected if check.errors)
    assert counts.duplicate_names == len(keys) - len(set(keys)) > 0


def test_plain_batches_with_empty_cells_store_nulls(db_session, tenant):
    """The common batch: nothing to escape, some cells empty."""
    plain = {column: [cell for cell in choices if cell is None or cell.isascii()
                      and not any(char in cell for char in '"\\\t\n\x01')]
             for column, choices in CHOICES.items()}
    rng = random.Random(5)
    rows = [tuple(rng.choice(plain[column]) for column in COLUMNS) for _ in range(900)]
    rows.append(("only-name",) + (None,) * (len(COLUMNS) - 1))
    data_import = new_import(db_session, tenant)
    staging.stage_rows(db_session, tenant[0].id, data_import.id, COLUMNS,
                       [RowBatch(list(range(1, len(rows) + 1)), rows)], MAPPINGS)
    assert [data for _, data, _, _ in stored(db_session, data_import)] == [
        list(row) for row in rows]


def test_revalidating_under_another_mapping_rechecks_every_row(db_session, tenant):
    rows = random_rows(1200, seed=3)
    data_import = new_import(db_session, tenant)
    staging.stage_rows(db_session, tenant[0].id, data_import.id, COLUMNS,
                       [RowBatch(list(range(1, len(rows) + 1)), rows)], MAPPINGS)
    remapped = [m if m.source != "Name" else ColumnMapping("Name", None, 1.0, None, "learned",
                                                           "") for m in MAPPINGS]
    counts = staging.revalidate(db_session, tenant[0].id, data_import.id, COLUMNS, remapped,
                                batch=500)
    expected = [RowValidator(COLUMNS, remapped).check(row) for row in rows]
    assert [(errors, key) for _, _, errors, key in stored(db_session, data_import)] == [
        (check.errors, check.name_key) for check in expected]
    assert counts.invalid_rows == sum(1 for check in expected if check.errors)


def test_a_file_broken_past_the_first_segment_stages_nothing(db_session, tenant, tmp_path,
                                                             monkeypatch):
    monkeypatch.setattr(staging, "SEGMENT_ROWS", 1000)
    path = tmp_path / "upload.csv"
    lines = ["Name,IP"] + [f"srv{i:05d},10.0.{i // 250}.{i % 250}" for i in range(30_000)]
    path.write_text("\n".join(lines) + '\nlast,"10.0.0.1\n', encoding="utf-8")
    account, engagement = tenant
    parsed = open_inventory(path, "upload.csv")
    threads = threading.active_count()
    savepoint = db_session.begin_nested()
    with pytest.raises(InventoryFileError, match="unbalanced quote"):
        create_import(db_session, account.id, engagement.id, None,
                      Uploaded(path, "upload.csv", path.stat().st_size), parsed)
    savepoint.rollback()
    assert db_session.scalar(select(func.count()).select_from(ImportRow).where(
        ImportRow.client_account_id == account.id)) == 0
    assert threading.active_count() == threads  # the parsing thread has ended


def test_csv_export_round_trip_of_a_large_file_keeps_every_cell(db_session, tenant, tmp_path):
    # (no control characters: a text file full of them is refused as binary)
    rows = [tuple(None if cell and "\x01" in cell else cell for cell in row)
            for row in random_rows(6000, seed=4)]
    path = tmp_path / "upload.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    account, engagement = tenant
    data_import = create_import(db_session, account.id, engagement.id, None,
                                Uploaded(path, "upload.csv", path.stat().st_size),
                                open_inventory(path, "upload.csv"))
    cells = [data for _, data, _, _ in stored(db_session, data_import)]
    expected = [[None if cell is None else (cell.strip() or None) for cell in row]
                for row in rows]
    assert cells == [row for row in expected if any(row)]
    assert data_import.total_rows == len(cells)


def test_staging_nothing_stores_nothing(db_session, tenant):
    data_import = new_import(db_session, tenant)
    counts = staging.stage_rows(db_session, tenant[0].id, data_import.id, COLUMNS, [],
                                MAPPINGS)
    assert counts == staging.StagingCounts(0, 0, 0)
    assert stored(db_session, data_import) == []
