"""Latency of a read as a request sees it: p50 and p95 over repeated runs."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from portal.db import TenantContext

RUNS = 50


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of the samples."""
    return statistics.median(samples), statistics.quantiles(samples, n=20)[18]


def timed(factory: sessionmaker[Session], context: TenantContext,
          read: Callable[[Session], object], runs: int = RUNS) -> tuple[float, float]:
    """p50 and p95 (ms) of `read` over `runs` runs, each in its own transaction with the
    tenant settings applied first (as in a request), after one warm-up run."""
    samples = []
    for run in range(runs + 1):
        with factory(info={"tenant": context}) as session:
            session.connection()  # begins the transaction: the tenant hook runs here
            started = time.perf_counter()
            read(session)
            if run:
                samples.append((time.perf_counter() - started) * 1000)
            session.rollback()
    return percentiles(samples)
