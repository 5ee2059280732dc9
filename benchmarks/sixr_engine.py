"""The 6R engine alone (no database): assets per second of `recommend` over synthetic,
varied assets.  Target: 30,000 assets/s on one core.

Three passes over the same ASSETS assets (seeded, so every run sees the same data):

    cold        memo and factor caches empty: every distinct profile is assessed once
    warm        the same assets again: every profile is memoised
    uncached    `recommend_uncached`: no per-profile memo (decisions per situation and the
                factor caches stay on)

Assets vary the way CMDB exports do (see `synthetic_assets`): grouped in applications that
share criticality, compliance, answers and OS builds; sizes, utilisation, power state and
dependency counts vary per asset, so nearly every asset has its own profile.  The figure
printed first (cold) is the honest one for a fresh assessment flow; `--independent` shows
the worst case, where nearly every asset is also a new situation.

    .venv/bin/python -m benchmarks.sixr_engine [--assets 100000] [--independent]
"""
from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from operator import attrgetter

from portal.assessment.facts import PROFILE_FIELDS
from portal.assessment.factors import situation_of
from portal.assessment.sixr import (AssetFacts, Criteria, LearnedChoices, clear_memo,
                                    recommend, recommend_uncached)

PROFILE = attrgetter(*PROFILE_FIELDS)

OSES = [("Windows Server", "2008 R2", "unsupported", 95.0),
        ("Windows Server", "2012 R2", "unsupported", 92.0),
        ("Windows Server", "2016", "soon_unsupported", 70.0),
        ("Windows Server", "2019", "extended_support_only", 48.0),
        ("Windows Server", "2022", "supported", 15.0),
        ("Red Hat Enterprise Linux", "7", "extended_support_only", 50.0),
        ("Red Hat Enterprise Linux", "8", "supported", 20.0),
        ("Red Hat Enterprise Linux", "9", "supported", 8.0),
        ("Ubuntu", "18.04", "extended_support_only", 55.0),
        ("Ubuntu", "22.04", "supported", 12.0),
        ("CentOS", "7", "unsupported", 94.0),
        ("AIX", "7.2", "supported", 20.0), ("Solaris", "10", "unsupported", 99.0),
        ("z/OS", "2.5", "supported", 10.0), (None, None, None, None)]
TYPES = ["server"] * 6 + ["database", "database", "application", "network", "storage", None]
ENVIRONMENTS = ["production"] * 4 + ["staging", "test", "development", "dr",
                                     "decommissioned", None]
CRITICALITIES = ["critical", "high", "medium", "medium", "low", None]
SHAPES = [(2, 4.0), (2, 8.0), (4, 8.0), (4, 16.0), (8, 32.0), (16, 64.0), (32, 256.0),
          (None, None)]
STORAGE = [40.0, 80.0, 100.0, 250.0, 500.0, 1024.0, 4096.0, None]
POWER = ["on"] * 8 + ["off", "suspended", None]
TAGS = [(), (), (), ("kubernetes", "docker"), ("legacy",), ("decommission",)]
COMPLIANCE = [(), (), (), ("pci-dss",), ("hipaa",), ("gdpr", "sox")]
ANSWERS = [{}, {}, {}, {"saas_alternative": "yes"}, {"retirement_planned": "yes"},
           {"change_frequency": "high", "cloud_native_target": "yes"},
           {"source_code_available": "no", "business_value": "low"}]
ASSETS_PER_APPLICATION = 50


def synthetic_assets(count: int, seed: int = 6, independent: bool = False) -> list[AssetFacts]:
    """`count` varied assets, the same ones for the same seed.

    As in real estates, an application's assets share its criticality, compliance,
    questionnaire answers, a standard OS build or two and an environment mix; sizes,
    utilisation (whole percentages, unknown for one in five), power state and dependency
    counts vary per asset.  `independent` draws every attribute independently instead
    (the worst case for memoisation: nearly every asset is a new situation)."""
    rng = random.Random(seed)
    applications = [{
        "name": f"app-{number:04d}",
        "criticality": rng.choice(CRITICALITIES), "compliance": rng.choice(COMPLIANCE),
        "answers": rng.choice(ANSWERS), "tags": rng.choice(TAGS),
        "builds": rng.sample(OSES, 2), "environments": rng.sample(ENVIRONMENTS, 3),
        "completeness": rng.choice((1.0, 0.9, 0.75, 0.4)),
    } for number in range(max(1, count // ASSETS_PER_APPLICATION))]
    assets = []
    for number in range(count):
        app = rng.choice(applications)
        if independent:
            app = {"name": app["name"], "criticality": rng.choice(CRITICALITIES),
                   "compliance": rng.choice(COMPLIANCE), "answers": rng.choice(ANSWERS),
                   "tags": rng.choice(TAGS), "builds": OSES, "environments": ENVIRONMENTS,
                   "completeness": rng.choice((1.0, 0.9, 0.75, 0.4))}
        os_name, os_version, status, score = rng.choice(app["builds"])
        cores, memory = rng.choice(SHAPES)
        measured = rng.random() < 0.8
        assets.append(AssetFacts(
            asset_id=f"asset-{number}", name=f"host{number:06d}",
            asset_type=rng.choice(TYPES), environment=rng.choice(app["environments"]),
            os_name=os_name, os_version=os_version,
            business_criticality=app["criticality"], tech_debt_status=status,
            tech_debt_score=score, cpu_cores=cores, memory_gb=memory,
            storage_gb=rng.choice(STORAGE),
            cpu_utilization_pct=float(rng.randint(0, 100)) if measured else None,
            memory_utilization_pct=float(rng.randint(5, 95)) if measured else None,
            power_state=rng.choice(POWER), application=app["name"],
            depends_on_count=min(int(rng.expovariate(0.4)), 60),
            dependents_count=min(int(rng.expovariate(0.3)), 80),
            in_cycle=rng.random() < 0.03, completeness=app["completeness"],
            compliance=app["compliance"], tags=app["tags"], answers=app["answers"]))
    return assets


def timed(label: str, assets: list[AssetFacts], assess: Callable) -> float:
    started = time.perf_counter()
    for facts in assets:
        assess(facts)
    elapsed = time.perf_counter() - started
    rate = len(assets) / elapsed
    print(f"{label:<10} {len(assets):>9,} assets in {elapsed:6.2f} s  {rate:>10,.0f} assets/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--independent", action="store_true",
                        help="draw every attribute independently (worst case)")
    args = parser.parse_args()
    assets = synthetic_assets(args.assets, independent=args.independent)
    criteria = Criteria.from_preferences({"risk_tolerance": "moderate",
                                          "preferred_clouds": ["azure"]})
    learned = LearnedChoices({("linux", "server", "production"): {"replatform": 2}})
    profiles = len({PROFILE(facts) for facts in assets})
    situations = len({situation_of(facts) for facts in assets})
    drawn = "independent" if args.independent else "by application"
    print(f"{args.assets:,} synthetic assets ({drawn}): "
          f"{profiles:,} distinct profiles (facts without id and name), {situations:,} "
          "distinct situations (what the factors read)")
    clear_memo()
    cold = timed("cold", assets, lambda facts: recommend(facts, criteria, learned))
    timed("warm", assets, lambda facts: recommend(facts, criteria, learned))
    timed("uncached", assets, lambda facts: recommend_uncached(facts, criteria, learned))
    print(f"target 30,000 assets/s (cold): {'met' if cold >= 30_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
