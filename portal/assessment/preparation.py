"""Preparing an assessment's batches beside its writes (pure Python: no database, no Flask).

The analysis reads its assets in batches and writes each batch's recommendations.  In
between, every row becomes facts, the engine recommends, the tally counts, and the
recommendations become CSV for the writes (`store.Preparer`): CPU work, while the writes
are the database's.  `Preparation` is that work for one assessment, batch after batch, and
`Beside` runs it on a helper while the caller reads and writes.

On a helper *thread* the preparation competes with the reading for the interpreter lock,
and the writes wait for both (measured on a re-assessment of 100,000 assets: its reads
took 3.6 s instead of 1.5 s, and the process's Python was busy for 13.4 s of 16.3).  A large
assessment therefore prepares in a worker *process* of its own: the caller reads and
writes, the worker thinks, PostgreSQL writes, each on its own core.  A process costs about
0.8 s to start (a fresh interpreter importing the engine), so scopes smaller than
`PROCESS_FROM` assets use a thread.
"""
from __future__ import annotations

import gc
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from portal.assessment.criteria import Criteria
from portal.assessment.facts import AssetFacts, LearnedChoices, similarity_key
from portal.assessment.scope import FactRow, Graph, facts_of
from portal.assessment.sixr import Recommendation, recommend, recommend_application
from portal.assessment.store import PreparedBatch, Preparer
from portal.models.assessment import STRATEGIES

PROCESS_FROM = 20_000  # assets in scope from which a worker process prepares the batches
TOP_RISKS = 10


class Tally:
    """What the flow row says of a run: distribution, confidence, effort, cost, risks and,
    with `group_applications`, each application's verdict (the assets must then come
    application by application)."""

    def __init__(self, group_applications: bool = False) -> None:
        self.group_applications = group_applications
        self.applications: list[dict] = []
        self.application: str | None = None
        self.members: list[tuple[AssetFacts, Recommendation]] = []
        self.assets = 0
        self.distribution: Counter = Counter()
        self.confidence = 0.0
        self.low_confidence = 0
        self.person_days = 0.0
        self.current = 0.0
        self.target = 0.0
        self.missing: Counter = Counter()
        self.risks: Counter = Counter()
        self.severities: Counter = Counter()
        self.learned = 0
        self.riskiest: list[tuple[int, str, str]] = []

    def add(self, facts: AssetFacts, rec: Recommendation) -> None:
        self.assets += 1
        self.distribution[rec.primary] += 1
        self.confidence += rec.confidence
        self.low_confidence += rec.confidence < 0.5
        self.person_days += float(rec.effort.get("person_days") or 0)
        self.current += float(rec.cost.get("current_monthly") or 0)
        self.target += float(rec.cost.get("target_monthly") or 0)
        self.missing.update(rec.missing_inputs)
        for risk in rec.risk_factors:
            self.risks[risk.get("factor")] += 1
            self.severities[risk.get("severity")] += 1
        self.learned += rec.learned is not None
        self.riskiest.append((rec.risk_score, facts.name, facts.asset_id))
        if len(self.riskiest) > 4 * TOP_RISKS:  # keep the list short on the way
            self.riskiest = self._top_risks()
        if self.group_applications and facts.application is not None:
            if facts.application != self.application:
                self._close_application()
                self.application = facts.application
            self.members.append((facts, rec))

    def _close_application(self) -> None:
        if self.members:
            self.applications.append(_application_verdict(self.application, self.members))
            self.members = []

    def application_verdicts(self) -> list[dict]:
        """Every application's verdict, in name order (once every asset is added)."""
        self._close_application()
        return self.applications

    def results(self) -> dict:
        return {"assets_assessed": self.assets,
                "distribution": {s: self.distribution[s] for s in STRATEGIES
                                 if self.distribution[s]},
                "mean_confidence": round(self.confidence / self.assets, 3) if self.assets
                else None,
                "low_confidence": self.low_confidence, "learned_from_overrides": self.learned,
                "effort_person_days": round(self.person_days, 1),
                "cost": {"currency": "USD", "current_monthly": round(self.current, 2),
                         "target_monthly": round(self.target, 2)},
                "missing_inputs": dict(self.missing.most_common())}

    def risk_assessment(self) -> dict:
        return {"by_severity": dict(sorted(self.severities.items())),
                "factors": dict(self.risks.most_common()),
                "riskiest_assets": [{"asset_id": i, "name": n, "risk_score": s}
                                    for s, n, i in self._top_risks()]}

    def _top_risks(self) -> list[tuple[int, str, str]]:
        """The TOP_RISKS riskiest (score, name, id), highest first, ties by name."""
        return sorted(self.riskiest, key=lambda r: (-r[0], r[1]))[:TOP_RISKS]


def _application_verdict(name: str, members: list[tuple[AssetFacts, Recommendation]]) -> dict:
    verdict = recommend_application(name, members)
    return {"application": verdict.application, "primary": verdict.primary,
            "confidence": verdict.confidence, "asset_count": verdict.asset_count,
            "strategy_counts": dict(verdict.strategy_counts),
            "scores": dict(verdict.scores),
            "effort_person_days": verdict.effort_person_days,
            "current_monthly": verdict.current_monthly,
            "target_monthly": verdict.target_monthly, "rationale": verdict.rationale}


class Preparation:
    """One assessment's preparation: rows (tuples in `FactRow` order) in, `PreparedBatch`es
    out, batch after batch in read order; then the tally and the similarity keys whose
    overrides the engine used."""

    def __init__(self, graph: Graph, criteria: Criteria, learned: LearnedChoices,
                 overridden: frozenset[str], group_applications: bool) -> None:
        self.graph, self.criteria, self.learned = graph, criteria, learned
        self.preparer = Preparer(overridden)
        self.tally = Tally(group_applications)
        self.used: set[tuple[str, str, str]] = set()

    def batch(self, rows: Iterable[Sequence[Any]]) -> PreparedBatch:
        recommendations = []
        for row in rows:
            facts = facts_of(FactRow._make(row), self.graph)
            rec = recommend(facts, self.criteria, self.learned)
            self.tally.add(facts, rec)
            if rec.learned is not None:
                self.used.add(similarity_key(facts))
            recommendations.append(rec)
        return self.preparer.prepared(recommendations)

    def outcome(self) -> tuple[Tally, set[tuple[str, str, str]]]:
        """The tally, its application verdicts complete, and the used similarity keys."""
        self.tally.application_verdicts()
        return self.tally, self.used


# In a worker process: the preparation it was given (one per process, see `Beside`).
_adopted: Preparation | None = None


def _adopt(preparation: Preparation) -> None:
    global _adopted
    _adopted = preparation
    gc.disable()  # see _call_adopted


def _call_adopted(method: str, *args: Any) -> Any:
    """A step of the adopted preparation.  The worker runs without automatic garbage
    collection: a batch makes a few hundred thousand objects that all live until it is
    sent, and the collector, triggered every 700 allocations, walked them again and again
    (nearly half of the engine's time per asset).  After each step one collection of the
    youngest generation, i.e. of what the step made, frees any cycles it left."""
    if _adopted is None:
        raise RuntimeError("this worker was given no preparation")
    try:
        return getattr(_adopted, method)(*args)
    finally:
        gc.collect(0)


def _ready() -> None:
    """Nothing: submitted first, so that the worker starts while the caller reads."""


class Beside:
    """Runs one `Preparation`'s steps, in order, on a helper: a worker process when
    `in_process`, else a thread.  Use as a context manager; `start` first."""

    def __init__(self, in_process: bool) -> None:
        self.in_process = in_process
        self.preparation: Preparation | None = None
        self.adopted: Future | None = None
        self.executor: Executor = (
            ProcessPoolExecutor(max_workers=1,
                                mp_context=multiprocessing.get_context("spawn"))
            if in_process else ThreadPoolExecutor(max_workers=1))
        if in_process:
            self.executor.submit(_ready)

    def start(self, preparation: Preparation) -> None:
        if self.in_process:
            self.adopted = self.executor.submit(_adopt, preparation)
        else:
            self.preparation = preparation

    def submit(self, method: str, *args: Any) -> Future:
        """`method` of the preparation, called with `args` after everything submitted
        before (rows go as plain tuples to a process)."""
        if self.in_process:
            if self.adopted is not None and self.adopted.done():
                self.adopted.result()  # a preparation that could not be sent says why
            return self.executor.submit(_call_adopted, method, *args)
        return self.executor.submit(getattr(self.preparation, method), *args)

    def __enter__(self) -> Beside:
        return self

    def __exit__(self, *exc_info) -> None:
        # Not waiting: a worker process takes a second to free its memory and exit.
        self.executor.shutdown(wait=False, cancel_futures=True)
