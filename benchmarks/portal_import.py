"""Benchmark: the whole `portal import` (stage, map, cleanse, inventory, dependencies, tech
debt) against a raw COPY of the same file into a plain table, measured in the same run on
the same server.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m benchmarks.portal_import [--rows 100000 1000000]

For each size: a scratch database, an inventory CSV made by the staging benchmark's
generator plus a "Depends On" column and one row in twenty repeating an earlier server
under another spelling (so cleansing merges and the dependency analysis resolves real
references), the raw COPY baseline, then `portal import FILE --json` in a child process
(its peak RSS is its own), and the flow's per-phase durations from its
`performance_metrics`.  Targets (issue 5): within 5x of raw COPY, peak RSS under 500 MB.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

from benchmarks.import_staging import write_inventory
from benchmarks.scratch import (conninfo, create_bench_tenant, raw_copy_seconds,
                                scratch_database, server_url)

DUPLICATE_EVERY = 20   # one row in this many repeats an earlier server
DEPENDS_EVERY = 3      # one server in this many names what it depends on
TARGET_RATIO, TARGET_RSS_MB = 5, 500


def _respelled(row: list[str]) -> list[str]:
    """An earlier server as another export spells it: upper case, padded, other words."""
    name, *rest = row
    environment = {"prod": "Production", "dev": "Development", "test": "QA"}
    return [f"  {name.upper()} ", *rest[:6], environment.get(rest[6], rest[6]), *rest[7:]]


def write_discovery_inventory(path: Path, rows: int) -> dict[str, int]:
    """`rows` lines: the staging benchmark's servers with what each depends on (by name,
    sometimes by IP address, one in a thousand on something not in the file), and every
    DUPLICATE_EVERY-th line a respelled earlier server.  Returns what was written."""
    base = path.with_suffix(".base.csv")
    write_inventory(base, rows)
    written = duplicates = 0
    with open(base, newline="") as source, open(path, "w", newline="") as target:
        reader, writer = csv.reader(source), csv.writer(target)
        writer.writerow([*next(reader), "Depends On"])
        kept: list[str] | None = None
        for i, row in enumerate(reader):
            if written == rows:
                break
            if written % DUPLICATE_EVERY == DUPLICATE_EVERY - 1 and kept is not None:
                writer.writerow([*_respelled(kept), ""])
                written += 1
                duplicates += 1
                continue
            depends = ""
            if i % DEPENDS_EVERY == 0:
                upstream = (i * 7 + 1) % max(rows // 2, 1)
                depends = f"srv-{upstream:07d}" if i % 9 else \
                    f"10.{upstream >> 16 & 255}.{upstream >> 8 & 255}.{upstream & 255}"
                if i % 1000 == 0:
                    depends += ", mainframe-legacy"
            writer.writerow([*row, depends])
            written += 1
            if i % 101 == 0:
                kept = row
    base.unlink()
    return {"rows": written, "duplicates": duplicates}


def run_portal_import(admin_url: str, path: Path, account: str, engagement: str,
                      keys: dict[str, str], instance: Path) -> tuple[float, int, dict]:
    """`portal import PATH --json` in a child process: (seconds, peak RSS in KB, outcome)."""
    env = os.environ | keys | {"DATABASE_URL": admin_url,
                               "PORTAL_INSTANCE_PATH": str(instance)}
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "portal", "import", str(path),
                                  "--account", account, "--engagement", engagement, "--json"],
                                 env=env, stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"portal import failed ({status}):\n{text}")
    return seconds, usage.ru_maxrss, json.loads(text)


def phase_seconds(admin_url: str, flow_id: str) -> dict[str, float]:
    """The flow's per-phase durations, as the engine recorded them, in the flow's order."""
    from portal.discovery.flow import DISCOVERY

    with psycopg.connect(conninfo(admin_url)) as conn:
        metrics = conn.execute("SELECT performance_metrics FROM master_flows WHERE flow_id = %s",
                               (flow_id,)).fetchone()[0]
    recorded = metrics.get("phase_seconds", {})
    return {p.name: recorded[p.name] for p in DISCOVERY.phases if p.name in recorded}


def measure(rows: int, folder: Path) -> None:
    from portal import crypto

    keys = {"PORTAL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "PORTAL_LOOKUP_KEY": Fernet.generate_key().decode()}
    crypto.configure(keys["PORTAL_ENCRYPTION_KEY"], keys["PORTAL_LOOKUP_KEY"])
    path = folder / f"inventory-{rows}.csv"
    written = write_discovery_inventory(path, rows)
    size_mb = path.stat().st_size / 1e6
    with scratch_database(server_url(), "portal_bench_e2e") as (_, url):
        copy_s = raw_copy_seconds(url, path)
        tenant = create_bench_tenant(url)
        instance = folder / f"instance-{rows}"
        instance.mkdir()
        flow_s, rss_kb, outcome = run_portal_import(url, path, tenant.account_slug,
                                                    tenant.engagement_slug, keys, instance)
        phases = phase_seconds(url, outcome["flow_id"])
    path.unlink()
    in_phases = sum(phases.values())
    print(f"\nfile: {written['rows']:,} rows ({written['duplicates']:,} respelled duplicates),"
          f" {size_mb:.0f} MB CSV")
    print(f"outcome: {outcome['status']}, {outcome['valid_rows']:,} valid rows, "
          f"{outcome['assets_created']:,} assets created, "
          f"{outcome['assets_updated']:,} updated, quality {outcome['data_quality_score']}")
    print(f"raw COPY into a plain table : {copy_s:8.2f} s  {rows / copy_s:>10,.0f} rows/s")
    print(f"portal import (whole flow)  : {flow_s:8.2f} s  {rows / flow_s:>10,.0f} rows/s")
    print(f"ratio to raw COPY           : {flow_s / copy_s:8.2f}x  (target <= {TARGET_RATIO}x)")
    print(f"peak RSS of portal import   : {rss_kb / 1024:8.0f} MB (target < {TARGET_RSS_MB} MB)")
    print("per phase (performance_metrics.phase_seconds):")
    print(f"  {'staging, start-up, summary':<26} {flow_s - in_phases:8.2f} s"
          "  (outside the phases)")
    for phase, seconds in phases.items():
        print(f"  {phase:<26} {seconds:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            measure(rows, Path(folder))


if __name__ == "__main__":
    main()
