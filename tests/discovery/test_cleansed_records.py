"""The streaming cleanse into a flow's cleansed records (real PostgreSQL, as portal_app):
the same records, merges, conflicts and quality as the in-memory `cleanse`, a re-run that
replaces rather than adds, and streaming back while writing through the same connection."""
from __future__ import annotations

import json
import uuid

import pytest

from portal.db import set_tenant
from portal.discovery import cleansed_records
from portal.discovery.cleansing import cleanse
from portal.inventory import copy_rows

RECORDS = [
    {"_row": 2, "name": "A", "ip_address": "10.0.0.1", "environment": "PROD",
     "depends_on": ["db01"], "_extra": {"Cluster": "CL-1"}},
    {"_row": 3, "name": "other", "os_name": "Ubuntu 22.04"},
    {"_row": 4, "name": "B", "ip_address": "10.0.0.1", "hostname": "bee", "cpu_cores": 8,
     "depends_on": ["DB01", "cache01"], "_extra": {"Cluster": "CL-2", "Folder": "Web"}},
    {"_row": 5, "name": "C", "hostname": "BEE", "external_id": "X-9", "environment": "dev"},
    {"_row": 6, "name": "D", "external_id": "x-9"},
    {"_row": 7, "name": "  Other ", "ip_address": "127.0.0.1"},
    {"_row": 8, "ip_address": "10.9.9.9"},
    {"_row": 9, "name": "e", "ip_address": "127.0.0.1", "hostname": "localhost"},
]


@pytest.fixture
def account(people, db_session):
    account = people.account(name="Cleansing")
    set_tenant(db_session, db_session.info["tenant"].with_(client_id=account.id))
    return account.id


def stored(db_session, account_id, flow_id) -> list[tuple]:
    return list(cleansed_records.stream_records(db_session, account_id, flow_id))


def test_streaming_cleanse_matches_the_in_memory_one(db_session, account, monkeypatch):
    monkeypatch.setattr(cleansed_records, "BATCH", 3)  # several batches, links across them
    flow_id = uuid.uuid4()
    summary = cleansed_records.cleanse_into_store(db_session, account, flow_id, RECORDS,
                                                  {"cpu_cores": 1}, 9)
    expected = cleanse(RECORDS, {"cpu_cores": 1}, 9)
    rows = stored(db_session, account, flow_id)
    # JSON keeps every value; only the order of keys is jsonb's own.
    assert [record for _, record in rows] == json.loads(json.dumps(expected.records))
    assert [key for key, _ in rows] == [
        cleansed_records.asset_key_of(record) for record in expected.records]
    assert [key for key, _ in rows] == ["a", "other", None, "e"]  # None: nothing to name it
    assert summary.records_out == len(expected.records) == 4
    assert summary.duplicates_merged == expected.duplicates_merged == 4
    assert summary.merges == expected.merges
    assert summary.conflicts == expected.conflicts
    assert summary.quality == expected.quality


def test_a_rerun_replaces_what_the_first_run_wrote(db_session, account):
    flow_id, other_flow = uuid.uuid4(), uuid.uuid4()
    cleansed_records.cleanse_into_store(db_session, account, other_flow, RECORDS[:2])
    cleansed_records.cleanse_into_store(db_session, account, flow_id, RECORDS)
    first = stored(db_session, account, flow_id)
    cleansed_records.cleanse_into_store(db_session, account, flow_id, RECORDS)
    assert stored(db_session, account, flow_id) == first
    assert len(stored(db_session, account, other_flow)) == 2  # another flow's stay
    cleansed_records.delete_records(db_session, account, flow_id)
    assert stored(db_session, account, flow_id) == []


def test_records_stream_back_while_the_same_connection_copies(db_session, account,
                                                              monkeypatch):
    """A phase reads the records from a server-side cursor and COPYs through the same
    connection: the chunked copy takes each chunk before its COPY starts."""
    monkeypatch.setattr(cleansed_records, "BATCH", 2)
    monkeypatch.setattr("portal.inventory.COPY_ROWS", 3)
    flow_id = uuid.uuid4()
    cleansed_records.cleanse_into_store(db_session, account, flow_id, RECORDS)
    cursor = db_session.connection().connection.driver_connection.cursor()
    cursor.execute("CREATE TEMP TABLE copied (asset_key text) ON COMMIT DROP")
    copied = copy_rows(cursor, "copied", ((key,) for key, _ in cleansed_records.stream_records(
        db_session, account, flow_id)))
    assert copied == 4
    assert cursor.execute("SELECT count(*) FROM copied").fetchone() == (4,)
