"""Benchmark: parse + validate + stage a 1,000,000-row inventory, against a raw COPY of the
same file into a plain table, measured in the same run on the same server.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m benchmarks.import_staging [--rows 1000000]

Creates and drops a scratch database.  The pipeline runs in a child process so its peak
RSS is its own.  Targets (issue 4): staging within 3x of raw COPY, peak RSS under 300 MB.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.scratch import create_bench_tenant, raw_copy_seconds, scratch_database, \
    server_url

COLUMNS = ["Server Name", "IP Address", "Operating System", "OS Version", "CPU Cores",
           "RAM (MB)", "Disk (GB)", "Environment", "Application", "Owner", "CPU Util %",
           "Location"]
OSES = [("Windows Server", "2019"), ("Red Hat Enterprise Linux", "8.6"), ("Ubuntu", "22.04"),
        ("Windows Server", "2012 R2"), ("SUSE Linux Enterprise", "15 SP4"), ("CentOS", "7")]


def write_inventory(path: Path, rows: int) -> None:
    rng = random.Random(42)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            os_name, version = OSES[i % len(OSES)]
            writer.writerow([f"srv-{i:07d}", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                             os_name, version, rng.choice((2, 4, 8, 16)),
                             rng.choice((4096, 8192, 16384, 32768)), rng.choice((80, 200, 500)),
                             rng.choice(("prod", "dev", "test")), f"app-{i % 500}",
                             f"owner{i % 40}@example.com", f"{rng.uniform(1, 95):.1f}",
                             rng.choice(("Reading DC", "Slough DC"))])


def pipeline(url: str, path: str, queue) -> None:
    """In a child process: the portal's own upload path, as the application role."""
    from cryptography.fernet import Fernet

    from portal import crypto
    from portal.db import TenantContext, app_role_url, make_engine, make_session_factory, \
        session_scope
    from portal.discovery.imports import Uploaded, create_import, mappings_of
    from portal.discovery.parsing import open_inventory

    crypto.configure(Fernet.generate_key().decode(), "bench")
    tenant = create_bench_tenant(url)
    ids = tenant.account_id, tenant.engagement_id
    engine = make_engine(app_role_url(url, None), pool_size=1)
    factory = make_session_factory(engine)
    start = time.perf_counter()
    with session_scope(factory, TenantContext(client_id=ids[0], engagement_id=ids[1])) as s:
        parsed = open_inventory(Path(path), "inventory.csv")
        data_import = create_import(s, ids[0], ids[1], None,
                                    Uploaded(Path(path), "inventory.csv",
                                             os.path.getsize(path)), parsed)
        rows, valid = data_import.total_rows, data_import.valid_rows
        columns, mappings = data_import.columns_detected, mappings_of(data_import)
    seconds = time.perf_counter() - start
    engine.dispose()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, rows, valid, rss_kb, *python_alone(Path(path), columns, mappings)))


def python_alone(path: Path, columns, mappings) -> tuple[float, float]:
    """Seconds of the Python half of staging without a database: parsing alone, and
    parsing, checking and writing the COPY text (the part that overlaps the database's)."""
    from portal.discovery import staging
    from portal.discovery.parsing import open_inventory
    from portal.discovery.validation import RowValidator

    start = time.perf_counter()
    for _ in open_inventory(path, "inventory.csv").batches():
        pass
    parsing = time.perf_counter() - start
    start = time.perf_counter()
    batches = open_inventory(path, "inventory.csv").batches()
    for _ in staging._chunks(batches, RowValidator(columns, mappings), with_cells=True):
        pass
    return parsing, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with scratch_database(server_url(), "portal_bench_import") as (_name, url), \
            tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "inventory.csv"
        write_inventory(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        copy_s = raw_copy_seconds(url, path)
        queue = multiprocessing.get_context("spawn").Queue()
        child = multiprocessing.get_context("spawn").Process(
            target=pipeline, args=(url, str(path), queue))
        child.start()
        seconds, rows, valid, rss_kb, parsing, python = queue.get()
        child.join()
    print(f"file: {args.rows:,} rows, {len(COLUMNS)} columns, {size_mb:.0f} MB CSV")
    print(f"raw COPY into a plain table : {copy_s:7.2f} s  {args.rows / copy_s:>10,.0f} rows/s")
    print(f"parse + validate + stage    : {seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s"
          f"  ({valid:,} valid)")
    print(f"ratio to raw COPY           : {seconds / copy_s:7.2f}x  (target <= 3x)")
    print(f"peak RSS of the pipeline    : {rss_kb / 1024:7.0f} MB (target < 300 MB)")
    print(f"breakdown, no database      : parse {parsing:.2f} s; parse + check + COPY text"
          f" {python:.2f} s (overlaps the database's work on another core)")


if __name__ == "__main__":
    main()
