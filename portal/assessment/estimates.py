"""Effort (person-days), run cost (current on-premises vs. target cloud, per month),
complexity and risk scores for a 6R recommendation.  Figures are planning estimates with
their basis spelled out, from the price table shipped in `data/cloud_prices.csv`."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from portal.assessment.facts import AssetFacts
from portal.assessment.frozen import FrozenDict

PRICE_TABLE_PATH = Path(__file__).with_name("data") / "cloud_prices.csv"
DEFAULT_CLOUD = "aws"
# Used when a size is unknown (the inputs are then listed as missing).
DEFAULT_CORES, DEFAULT_MEMORY_GB, DEFAULT_STORAGE_GB = 2, 8.0, 100.0
# Right-sizing keeps headroom: size for average use at 70% CPU and 80% memory.
CPU_HEADROOM, MEMORY_HEADROOM = 0.7, 0.8
MOVING = frozenset({"rehost", "replatform", "refactor", "rearchitect", "rebuild",
                    "repurchase"})


@dataclass(frozen=True)
class InstanceSize:
    """One priced cloud instance size."""
    provider: str
    name: str
    vcpu: int
    memory_gib: float
    monthly_usd: float


@dataclass(frozen=True)
class PriceTable:
    """Instance sizes per cloud (cheapest first), storage per GiB per cloud, on-premises
    unit costs."""
    instances: dict[str, tuple[InstanceSize, ...]]
    storage_per_gib: dict[str, float]
    onprem: dict[str, float]

    @property
    def clouds(self) -> tuple[str, ...]:
        return tuple(self.instances)


def read_price_table(path: Path | str) -> PriceTable:
    """A `PriceTable` from a CSV with the columns of `data/cloud_prices.csv`."""
    instances: dict[str, list[InstanceSize]] = {}
    storage: dict[str, float] = {}
    onprem: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            provider, kind, price = row["provider"], row["kind"], float(row["monthly_usd"])
            if kind == "instance":
                instances.setdefault(provider, []).append(InstanceSize(
                    provider, row["item"], int(row["vcpu"]), float(row["memory_gib"]), price))
            elif kind == "storage_per_gib":
                storage[provider] = price
            elif provider == "onprem":
                onprem[kind] = price
            else:
                raise ValueError(f"unknown price row kind {kind!r} for {provider}")
    return PriceTable(
        {provider: tuple(sorted(sizes, key=lambda s: (s.monthly_usd, s.name)))
         for provider, sizes in instances.items()}, storage, onprem)


@lru_cache(maxsize=1)
def load_price_table() -> PriceTable:
    """The price table shipped with the portal (read once)."""
    return read_price_table(PRICE_TABLE_PATH)


@lru_cache(maxsize=64)
def target_cloud(preferred_clouds: tuple[str, ...]) -> str:
    """The first preferred cloud the price table prices, else the default."""
    clouds = load_price_table().clouds
    return next((cloud for cloud in preferred_clouds if cloud in clouds), DEFAULT_CLOUD)


# ---------------------------------------------------------------------------------------
# Cost

# Target compute relative to a right-sized VM: managed platforms and cloud-native designs
# trade operations for elasticity (planning assumptions, stated in the basis).
TARGET_COMPUTE_FACTOR = {"rehost": 1.0, "replatform": 0.9, "refactor": 0.75,
                         "rearchitect": 0.65, "rebuild": 0.7}


def _right_size(cloud: str, vcpu_needed: float, memory_needed: float) -> tuple[str, float]:
    """(description, monthly price) of the cheapest sizes covering the need: one instance
    when one is big enough, else several of the biggest."""
    sizes = load_price_table().instances[cloud]
    for size in sizes:
        if size.vcpu >= vcpu_needed and size.memory_gib >= memory_needed:
            return f"{cloud} {size.name}", size.monthly_usd
    biggest = max(sizes, key=lambda s: (s.vcpu, s.memory_gib, -s.monthly_usd))
    count = max(math.ceil(vcpu_needed / biggest.vcpu),
                math.ceil(memory_needed / biggest.memory_gib))
    return f"{cloud} {count} x {biggest.name}", biggest.monthly_usd * count


@lru_cache(maxsize=65536)
def estimate_cost(strategy: str, cores: int | None, memory_gb: float | None,
                  storage_gb: float | None, cpu_pct: int | None, memory_pct: int | None,
                  cloud: str) -> FrozenDict:
    """{"currency", "current_monthly", "target_monthly", "target", "cloud", "basis"}."""
    prices = load_price_table()
    assumed = [what for what, value in (("cores", cores), ("memory", memory_gb),
                                        ("storage", storage_gb)) if value is None]
    cores_ = cores if cores is not None else DEFAULT_CORES
    memory = memory_gb if memory_gb is not None else DEFAULT_MEMORY_GB
    storage = storage_gb if storage_gb is not None else DEFAULT_STORAGE_GB
    current = round(cores_ * prices.onprem["per_core"]
                    + memory * prices.onprem["per_gib_memory"]
                    + storage * prices.onprem["per_gib_storage"], 2)
    basis = [f"current: {cores_} cores, {memory:g} GiB RAM, {storage:g} GiB storage at "
             "on-premises unit costs"]
    if assumed:
        basis.append(f"assumed {', '.join(assumed)} (not recorded)")
    target_name: str | None = None
    if strategy == "retire":
        target = 0.0
        basis.append("retired: no run cost")
    elif strategy == "retain":
        target = current
        basis.append("retained: run cost unchanged")
    elif strategy == "repurchase":
        target = current
        basis.append("SaaS subscription not priced: assumed equal to today's run cost")
    else:
        vcpu_needed = max(1.0, cores_ * (cpu_pct / 100 / CPU_HEADROOM
                                          if cpu_pct is not None else 1.0))
        memory_needed = max(1.0, memory * (memory_pct / 100 / MEMORY_HEADROOM
                                           if memory_pct is not None else 1.0))
        target_name, compute = _right_size(cloud, vcpu_needed, memory_needed)
        factor = TARGET_COMPUTE_FACTOR[strategy]
        target = round(compute * factor + storage * prices.storage_per_gib[cloud], 2)
        sizing = "right-sized to measured use" if cpu_pct is not None or \
            memory_pct is not None else "sized like today (utilisation unknown)"
        basis.append(f"target: {target_name} ({sizing}) x {factor:g} for {strategy}, plus "
                     f"{storage:g} GiB block storage; list prices, Linux, no OS licences or "
                     "discounts")
    return FrozenDict(currency="USD", current_monthly=current, target_monthly=target,
                      target=target_name, cloud=cloud, basis="; ".join(basis))


# ---------------------------------------------------------------------------------------
# Effort

STRATEGY_DAYS = {"rehost": 2.0, "replatform": 6.0, "refactor": 25.0, "rearchitect": 45.0,
                 "rebuild": 60.0, "repurchase": 15.0, "retire": 1.5, "retain": 0.5}
TYPE_FACTOR = {"server": 1.0, "database": 1.5, "application": 1.3, "network": 0.8,
               "storage": 0.8, "other": 1.0}
DAYS_PER_DEPENDENCY, DEPENDENCY_DAYS_CAP, CYCLE_DAYS = 0.5, 15.0, 3.0
DAYS_PER_TB = 0.5


def size_band(cores: int | None, memory_gb: float | None) -> str | None:
    """small (<= 4 cores and 16 GB), medium (<= 16 cores and 128 GB), large, or None."""
    if cores is None and memory_gb is None:
        return None
    cores_, memory = cores or 0, memory_gb or 0.0
    if cores_ <= 4 and memory <= 16:
        return "small"
    return "medium" if cores_ <= 16 and memory <= 128 else "large"


SIZE_FACTOR = {"small": 1.0, "medium": 1.3, "large": 1.6}


@lru_cache(maxsize=65536)
def estimate_effort(strategy: str, asset_type: str | None, cores: int | None,
                    memory_gb: float | None, storage_gb: float | None, links: int,
                    dependents: int, in_cycle: bool, complexity: int) -> FrozenDict:
    """{"person_days", "basis": [...]}: a strategy's base days scaled by asset type, size
    and complexity, plus data volume and dependency work."""
    days = STRATEGY_DAYS[strategy]
    basis = [f"{strategy}: {days:g} days base"]
    type_factor = TYPE_FACTOR.get(asset_type or "", 1.0)
    if type_factor != 1.0:
        days *= type_factor
        basis.append(f"x {type_factor:g} for a {asset_type}")
    band = size_band(cores, memory_gb)
    if band in ("medium", "large"):
        days *= SIZE_FACTOR[band]
        basis.append(f"x {SIZE_FACTOR[band]:g} for a {band} system")
    complexity_factor = 1 + complexity / 200
    days *= complexity_factor
    basis.append(f"x {complexity_factor:.2f} for complexity {complexity}")
    if strategy in MOVING:
        if storage_gb and storage_gb > 1024:
            data_days = round(storage_gb / 1024 * DAYS_PER_TB, 1)
            days += data_days
            basis.append(f"+ {data_days:g} days to move {storage_gb / 1024:.1f} TB of data")
        if links:
            link_days = min(DEPENDENCY_DAYS_CAP, links * DAYS_PER_DEPENDENCY)
            days += link_days
            basis.append(f"+ {link_days:g} days to re-point {links} dependencies")
        if in_cycle:
            days += CYCLE_DAYS
            basis.append(f"+ {CYCLE_DAYS:g} days to co-ordinate a dependency cycle")
    elif strategy == "retire" and dependents:
        cut_over = min(DEPENDENCY_DAYS_CAP, dependents * DAYS_PER_DEPENDENCY)
        days += cut_over
        basis.append(f"+ {cut_over:g} days to cut {dependents} dependents over")
    return FrozenDict(person_days=round(days * 2) / 2, basis=tuple(basis))


# ---------------------------------------------------------------------------------------
# Scores

_PLATFORM_COMPLEXITY = {"mainframe": 45, "midrange": 30, "x86": 10, "container": 5,
                        "other": 15, "unknown": 15}
_TYPE_COMPLEXITY = {"database": 10, "application": 8, "network": 5}
_CRITICALITY_RISK = {"critical": 35, "high": 25, "medium": 15, "low": 5}
_DEBT_RISK = {"unsupported": 20, "soon_unsupported": 12, "extended_support_only": 8,
              "supported": 0}


def complexity_score(facts: AssetFacts, platform: str) -> int:
    """0..100: platform (`facts.platform_of`), type, dependencies, cycle, technical debt
    and size."""
    score = _PLATFORM_COMPLEXITY[platform]
    score += _TYPE_COMPLEXITY.get((facts.asset_type or "").casefold(), 0)
    score += min(25.0, 1.5 * (facts.depends_on_count + facts.dependents_count))
    score += 10 if facts.in_cycle else 0
    score += 0.15 * (facts.tech_debt_score or 0.0)
    score += {"medium": 5, "large": 10}.get(size_band(facts.cpu_cores, facts.memory_gb)
                                            or "", 0)
    return int(round(min(100.0, score)))


def risk_score(facts: AssetFacts, regulated: bool, residency: bool) -> int:
    """0..100: criticality, technical debt, dependents, cycle, compliance, missing data."""
    score = float(_CRITICALITY_RISK.get((facts.business_criticality or "").casefold(), 15))
    score += _DEBT_RISK.get((facts.tech_debt_status or "").casefold(), 8)
    score += min(20, facts.dependents_count)
    score += 10 if facts.in_cycle else 0
    score += (10 if regulated else 0) + (5 if residency else 0)
    score += 15 * (1 - max(0.0, min(1.0, facts.completeness)))
    score += 5 if (facts.environment or "").casefold() == "production" else 0
    return int(round(min(100.0, score)))
