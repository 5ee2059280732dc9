"""The factor table of the 6R engine: what each fact about an asset is worth to each strategy.

A strategy's score is its base score (`BASE_SCORES`, the prior when nothing is known) plus the
points of every contribution, clamped to 0..100.  Each factor turns one kind of fact into
contributions; every table row below lists the points per strategy in `STRATEGIES` order:

    rehost  replatform  refactor  rearchitect  rebuild  repurchase  retire  retain

Points are multiplied by the factor's weight from the criteria (default 1.0) and recorded as
they count.  The choices a consultant might question, and why:

- An unsupported OS pushes toward replatform (move onto a supported OS) and away from plain
  rehost and retain: lifting an end-of-life OS into the cloud keeps the risk and usually
  needs paid extended security updates.
- A containerised service (tagged kubernetes/docker/openshift...) favours rehost: its images
  move unchanged onto managed Kubernetes.  Replatform would mean changing a platform it
  already has, refactor/rearchitect work it has mostly done.
- Mainframe and midrange platforms cannot be lifted onto cloud VMs: rehost is penalised and
  retain favoured; many dependents and a dependency cycle add to that.
- Powered off, idle, "decommissioned" and "retirement planned" are the retire signals; any
  dependents argue against retiring.
- Learned overrides add a capped bonus (`LEARNED_BONUS_CAP`): enough to settle a close call,
  never enough to outweigh decisive facts.

Contributions for a given fact are computed once and cached (exports repeat the same facts).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import NamedTuple

from portal.assessment.criteria import Criteria
from portal.assessment.facts import CONTAINER_TAGS, AssetFacts, platform_of
from portal.discovery.tech_debt import load_eol_table
from portal.models.assessment import STRATEGIES

Row = tuple[int, int, int, int, int, int, int, int]

BASE_SCORES: dict[str, float] = {
    "rehost": 50.0, "replatform": 45.0, "refactor": 35.0, "rearchitect": 30.0,
    "rebuild": 20.0, "repurchase": 25.0, "retire": 15.0, "retain": 35.0,
}


@dataclass(frozen=True, slots=True)
class Contribution:
    """One factor's signed points for one strategy, and the fact behind them in words."""
    factor: str
    strategy: str
    points: float
    detail: str


#                         rehost repl refac rearc rebld repur retir retain
PLATFORM_CURRENCY: dict[str, Row] = {
    "unsupported":           (-15, +25,  +8,  +4,   0,  +6,  +4, -25),
    "soon_unsupported":      ( -8, +18,  +5,  +3,   0,  +4,  +2, -12),
    "extended_support_only": ( -5, +12,  +4,  +2,   0,  +3,   0,  -8),
    "supported":             (+10,  -5,   0,   0,   0,   0,   0,  +5),
}
PLATFORM: dict[str, Row] = {
    "mainframe":             (-30,  +5, +10,  +5,   0,  +5,   0, +30),
    "midrange":              (-20, +15,  +5,   0,   0,  +5,   0, +18),
    "container":             (+20,  +5,  -5, -10, -15,  -5,   0,  -5),
    "x86":                   (+10,  +5,   0,   0,   0,   0,   0,   0),
    "other":                 ( -5,   0,   0,   0,   0,  +5,   0,  +5),
}
ASSET_TYPE: dict[str, Row] = {
    "server":                ( +8,  +4,   0,   0,   0,   0,   0,   0),
    "database":              ( +2, +15,  -5,  -5,  -8,   0,   0,  +3),
    "application":           (  0,  +5,  +8,  +5,   0, +10,   0,   0),
    "network":               (-10,   0, -10, -10, -10, +15,  +5, +10),
    "storage":               ( -5, +15, -10, -10, -10,  +5,   0,  +5),
}
ENVIRONMENT: dict[str, Row] = {
    "production":            ( +5,   0,  -5,  -5, -10,   0,  -5,  +5),
    "dr":                    ( +5,   0,  -5,  -5,  -5,   0, +12,  -5),
    "staging":               ( +3,  +3,  +3,  +3,   0,   0,   0,  -5),
    "test":                  ( +3,  +3,  +5,  +5,  +5,   0,  +3,  -8),
    "development":           ( +3,  +3,  +5,  +5,  +5,   0,  +3,  -8),
    "decommissioning":       (-20, -20, -20, -20, -20, -15, +45, -15),
}
CRITICALITY: dict[str, Row] = {
    "critical":              ( +3,   0, -10, -12, -15,  -8, -30, +15),
    "high":                  ( +3,   0,  -5,  -6,  -8,  -4, -20,  +8),
    "medium":                (  0,   0,   0,   0,   0,   0,  -5,   0),
    "low":                   (  0,   0,  -3,  -3,   0,  +5, +10,  -5),
}
DEPENDENTS: dict[str, Row] = {
    "none":                  (  0,   0,   0,   0,  +3,  +3, +12,  -3),
    "few":                   (  0,   0,   0,   0,   0,   0, -10,   0),
    "several":               ( -3,  -3,  -5,  -8,  -8,  -5, -20,  +8),
    "many":                  ( -8,  -8, -12, -15, -15, -10, -35, +20),
}
DEPENDS_ON_MANY: Row =       ( -3,  -3,  -5,  -5,   0,  -5,   0,  +5)
IN_CYCLE: Row =              ( -5,  -5,  -5,  -8,  -8,  -3, -10, +10)
UTILISATION: dict[str, Row] = {
    "idle":                  ( -5,  -5,  -5,  -5,  -5,   0, +18,  -8),
    "low":                   ( +5,  +3,   0,   0,   0,   0,  +3,  -3),
    "busy":                  (  0,  +5,  +5,  +8,  +3,   0,  -5,   0),
}
POWER_STATE: dict[str, Row] = {
    "off":                   (-10, -10, -10, -10, -10,  -5, +35, -10),
    "suspended":             ( -5,  -5,  -5,  -5,  -5,   0, +18,  -5),
    "on":                    (  0,   0,   0,   0,   0,   0,  -5,   0),
}
DATA_COMPLETENESS: dict[str, Row] = {
    "poor":                  ( +5,   0,  -5,  -5,  -5,   0,   0,  +5),
    "partial":               ( +2,   0,  -2,  -2,  -2,   0,   0,  +2),
}
REGULATED: Row =             ( +3,   0,   0,   0,   0, -15,   0,  +5)
RESIDENCY: Row =             ( +5,   0,   0,   0,   0, -20,   0, +10)
QUESTIONNAIRE: dict[tuple[str, str], Row] = {
    ("retirement_planned", "yes"):    (-15, -15, -15, -15, -15, -10, +40, -10),
    ("retirement_planned", "no"):     (  0,   0,   0,   0,   0,   0, -15,   0),
    ("saas_alternative", "yes"):      (  0,   0,  -5,  -5,  -5, +30,   0,  -5),
    ("saas_alternative", "no"):       (  0,   0,   0,   0,   0, -20,   0,   0),
    ("source_code_available", "yes"): (  0,   0,  +5,  +5,   0,   0,   0,   0),
    ("source_code_available", "no"):  (  0,   0, -30, -30,   0,  +5,   0,   0),
    ("business_value", "low"):        (  0,   0, -10, -10, -10,  +5, +15,   0),
    ("business_value", "high"):       (  0,   0,  +8,  +8,  +3,   0, -20,   0),
    ("change_frequency", "low"):      ( +5,   0,  -5,  -8,  -5,   0,   0,  +5),
    ("change_frequency", "high"):     ( -5,   0, +10, +12,  +5,   0,   0,  -8),
    ("cloud_native_target", "yes"):   (-10,   0, +10, +15,  +8,   0,   0, -10),
    ("cloud_native_target", "no"):    ( +5,  +5,  -5, -10,  -8,   0,   0,   0),
    ("team_cloud_skills", "low"):     ( +5,   0,  -5,  -8,  -5,  +3,   0,  +3),
    ("team_cloud_skills", "high"):    (  0,  +3,  +5,  +5,  +3,   0,   0,   0),
    ("hardware_refresh_due", "yes"):  ( +8,  +5,   0,   0,   0,   0,   0, -15),
    ("licence_constraints", "yes"):   (-10,  -5,   0,   0,   0,  +5,   0, +10),
}
RISK_TOLERANCE: dict[str, Row] = {
    "conservative":          ( +3,   0,  -8, -10, -12,   0,   0,  +5),
    "aggressive":            ( -3,   0,  +8, +10,  +8,   0,   0,  -5),
}
SOON = timedelta(days=400)  # "reaches end of life soon": within about a year of the check
LEARNED_BONUS_FIRST = 12    # points for one override toward a strategy ...
LEARNED_BONUS_STEP = 6      # ... plus this per further override ...
LEARNED_BONUS_CAP = 30      # ... never more than this

# Environment words that mean the asset is on its way out.
_RETIRING_WORDS = ("decom", "retir", "sunset", "obsolete", "archiv", "end of life", "eol",
                   "to be removed", "shutdown")
_RESIDENCY_LABELS = ("data-residency", "residency", "sovereignty", "data-sovereignty")
_ANSWER_PHRASES = {
    "retirement_planned": {"yes": "retirement is already planned",
                           "no": "no retirement is planned"},
    "saas_alternative": {"yes": "a SaaS product can replace it",
                         "no": "no SaaS product covers it"},
    "source_code_available": {"yes": "the source code is available",
                              "no": "the source code is not available"},
    "business_value": {"low": "business value is low", "high": "business value is high"},
    "change_frequency": {"low": "the business rarely asks for changes",
                         "high": "the business asks for frequent changes"},
    "cloud_native_target": {"yes": "a cloud-native target design is wanted",
                            "no": "a like-for-like target is wanted"},
    "team_cloud_skills": {"low": "the owning team has little cloud experience",
                          "high": "the owning team is experienced with cloud"},
    "hardware_refresh_due": {"yes": "its hardware or hosting contract is due for renewal"},
    "licence_constraints": {"yes": "a licence ties it to its current hosting"},
}


def _contributions(factor: str, detail: str, row: Row,
                   weight: float) -> tuple[Contribution, ...]:
    return tuple(Contribution(factor, strategy, points * weight, detail)
                 for strategy, points in zip(STRATEGIES, row, strict=False) if points and weight)


@lru_cache(maxsize=4096)
def _word(value: str | None) -> str | None:
    return value.strip().casefold() if value and value.strip() else None


# ---------------------------------------------------------------------------------------
# One function per factor, each cached on the facts it reads and its weight.


@lru_cache(maxsize=2048)
def _currency_detail(status: str, os_name: str | None, os_version: str | None,
                     score: float | None) -> str:
    """Words for the tech-debt status, with end-of-life dates from the shipped table when
    the OS itself explains the status (a database or runtime may be what is out of date)."""
    label = " ".join(part for part in (os_name, os_version) if part) or "its platform"
    entry = load_eol_table().match(os_name, os_version)[0] if os_name else None
    scored = f" (tech-debt score {score:.0f})" if score is not None else ""
    if entry and entry.checked_on:
        eol, eos = entry.end_of_life, entry.end_of_support
        if status == "unsupported" and eol and eol <= entry.checked_on:
            return f"{label} is past end of life ({eol.isoformat()})"
        if status == "soon_unsupported" and eol and entry.checked_on < eol <= \
                entry.checked_on + SOON:
            return f"{label} reaches end of life on {eol.isoformat()}"
        if status == "extended_support_only" and eos and eos <= entry.checked_on:
            until = f"; paid extended support until {eol.isoformat()}" if eol else ""
            return f"{label} is past end of standard support ({eos.isoformat()}){until}"
        if status == "supported":
            until = f" (end of life {eol.isoformat()})" if eol and eol > entry.checked_on \
                else ""
            return f"{label} is a supported platform{until}"
    return {
        "unsupported": f"{label} or a component on it is past end of life{scored}",
        "soon_unsupported": f"{label} or a component on it reaches end of life within a "
                            f"year{scored}",
        "extended_support_only": f"{label} or a component on it is on extended support "
                                 f"only{scored}",
        "supported": f"{label} is a supported platform",
    }[status]


@lru_cache(maxsize=2048)
def _platform_currency(status: str | None, os_name: str | None, os_version: str | None,
                       score: float | None, weight: float) -> tuple[Contribution, ...]:
    row = PLATFORM_CURRENCY.get(status or "")
    if row is None:
        return ()
    return _contributions("platform_currency",
                          _currency_detail(status, os_name, os_version, score), row, weight)


_PLATFORM_DETAILS = {
    "mainframe": "{os} is a mainframe platform: it cannot be lifted onto cloud VMs",
    "midrange": "{os} is a midrange platform: moving it means porting to x86 Linux",
    "container": "it already runs in containers ({tags}): the images move to managed "
                 "Kubernetes as they are",
    "x86": "{os} runs on x86: cloud VMs can host it",
    "other": "{os} is not a general-purpose server OS",
}


@lru_cache(maxsize=1024)
def _platform(platform: str, os_name: str | None, tags: tuple[str, ...],
              weight: float) -> tuple[Contribution, ...]:
    template = _PLATFORM_DETAILS.get(platform)
    if template is None:
        return ()
    container_tags = ", ".join(tag for tag in tags if tag in CONTAINER_TAGS)
    detail = template.format(os=os_name or "its OS", tags=container_tags)
    return _contributions("platform", detail, PLATFORM[platform], weight)


_TYPE_DETAILS = {
    "server": "a server: infrastructure moves are straightforward",
    "database": "a database: a managed database service is the natural target",
    "application": "an application: code-level options and SaaS replacements are open",
    "network": "a network device: cloud-native network services replace appliances",
    "storage": "a storage system: managed storage services replace arrays",
}


@lru_cache(maxsize=256)
def _asset_type(asset_type: str | None, weight: float) -> tuple[Contribution, ...]:
    row = ASSET_TYPE.get(asset_type or "")
    if row is None:
        return ()
    return _contributions("asset_type", f"it is {_TYPE_DETAILS[asset_type]}", row, weight)


def _environment_kind(environment: str | None) -> str | None:
    if environment is None:
        return None
    if environment in ENVIRONMENT:
        return environment
    if any(word in environment for word in _RETIRING_WORDS):
        return "decommissioning"
    return None


_ENVIRONMENT_DETAILS = {
    "production": "it runs in production: disruption is costly",
    "dr": "it is a disaster-recovery system: cloud DR can replace a standby site",
    "staging": "it is a staging system: a low-risk place to change the platform",
    "test": "it is a test system: a low-risk place to modernise",
    "development": "it is a development system: a low-risk place to modernise",
    "decommissioning": "its environment is \"{environment}\": it is being decommissioned",
}


@lru_cache(maxsize=256)
def _environment(environment: str | None, weight: float) -> tuple[Contribution, ...]:
    kind = _environment_kind(environment)
    if kind is None:
        return ()
    detail = _ENVIRONMENT_DETAILS[kind].format(environment=environment)
    return _contributions("environment", detail, ENVIRONMENT[kind], weight)


@lru_cache(maxsize=64)
def _criticality(criticality: str | None, weight: float) -> tuple[Contribution, ...]:
    row = CRITICALITY.get(criticality or "")
    if row is None:
        return ()
    return _contributions("criticality", f"business criticality is {criticality}", row,
                          weight)


def dependents_band(count: int) -> str:
    """none (0), few (1-4), several (5-19) or many (20 and more) dependents."""
    return "none" if count <= 0 else "few" if count < 5 else "several" if count < 20 \
        else "many"


DEPENDS_ON_MANY_FROM = 10


_DEPENDENT_STEPS = (50, 20, 10)  # above nine, counts read as ranges (memo-friendly)


def dependents_step(count: int) -> int:
    """The count as the engine reads it: exact up to 9, else 10, 20 or 50 (lower bounds
    of 10-19, 20-49, 50 and more)."""
    if count < 10:
        return max(0, count)
    return next(step for step in _DEPENDENT_STEPS if count >= step)


def dependents_phrase(step: int) -> str:
    """"no other asset", "1 other asset", "10 to 19 other assets", "50 or more other
    assets" for a `dependents_step`."""
    if step == 0:
        return "no other asset"
    if step < 10:
        return f"{step} other asset{'s' if step != 1 else ''}"
    return {10: "10 to 19", 20: "20 to 49", 50: "50 or more"}[step] + " other assets"


@lru_cache(maxsize=256)
def _dependencies(dependents: int, depends_on_many: bool, in_cycle: bool,
                  weight: float) -> tuple[Contribution, ...]:
    band = dependents_band(dependents)
    verb = "depends" if dependents in (0, 1) else "depend"
    detail = f"{dependents_phrase(dependents)} {verb} on it"
    found = _contributions("dependencies", detail, DEPENDENTS[band], weight)
    if depends_on_many:
        found += _contributions("dependencies", f"it depends on {DEPENDS_ON_MANY_FROM} or "
                                "more other assets: they have to move with it",
                                DEPENDS_ON_MANY, weight)
    if in_cycle:
        found += _contributions("dependencies", "it is part of a dependency cycle: it "
                                "cannot move alone", IN_CYCLE, weight)
    return found


def utilisation_band(cpu: float | None, memory: float | None) -> str | None:
    """idle, low, normal or busy from average CPU and memory use (None when unknown)."""
    if cpu is None and memory is None:
        return None
    if (cpu is not None and cpu > 75) or (memory is not None and memory > 85):
        return "busy"
    if cpu is not None and cpu < 5 and (memory is None or memory < 30):
        return "idle"
    if (cpu is None or cpu < 30) and (memory is None or memory < 50):
        return "low"
    return "normal"


_UTILISATION_DETAILS = {
    "idle": "average CPU under 5%: barely used",
    "low": "average CPU under 30% and memory under 50%: room to right-size",
    "busy": "average CPU over 75% or memory over 85%: busy, elastic scaling pays off",
}


@lru_cache(maxsize=64)
def _utilisation(band: str | None, weight: float) -> tuple[Contribution, ...]:
    if band not in UTILISATION:
        return ()
    return _contributions("utilisation", _UTILISATION_DETAILS[band], UTILISATION[band],
                          weight)


_POWER_DETAILS = {"off": "it is powered off", "suspended": "it is suspended",
                  "on": "it is powered on"}


@lru_cache(maxsize=64)
def _power_state(power_state: str | None, weight: float) -> tuple[Contribution, ...]:
    row = POWER_STATE.get(power_state or "")
    if row is None:
        return ()
    return _contributions("power_state", _POWER_DETAILS[power_state], row, weight)


def completeness_band(completeness: float) -> str | None:
    """poor (under half the fields known), partial (under 80%) or None (enough)."""
    return "poor" if completeness < 0.5 else "partial" if completeness < 0.8 else None


@lru_cache(maxsize=256)
def _data_completeness(completeness: float, weight: float) -> tuple[Contribution, ...]:
    band = completeness_band(completeness)
    if band is None:
        return ()
    detail = f"only {completeness:.0%} of its fields are known: reversible moves are safer"
    return _contributions("data_completeness", detail, DATA_COMPLETENESS[band], weight)


def residency_of(facts: AssetFacts) -> str | None:
    """Where the asset's data must stay, from the questionnaire or a residency label."""
    answer = facts.answers.get("data_residency")
    if answer:
        return answer
    if any(label in _RESIDENCY_LABELS for label in facts.compliance):
        return "its jurisdiction"
    return None


@lru_cache(maxsize=1024)
def _compliance(own: tuple[str, ...], account: tuple[str, ...], residency: str | None,
                weight: float) -> tuple[Contribution, ...]:
    regulated = tuple(label for label in own if label not in _RESIDENCY_LABELS)
    extra = tuple(label for label in account if label not in own)
    found: tuple[Contribution, ...] = ()
    if regulated:
        found += _contributions("compliance", f"it is subject to {', '.join(regulated)}: "
                                "SaaS would put regulated data with a third party",
                                REGULATED, weight)
    if extra:
        found += _contributions("compliance", f"the account must meet {', '.join(extra)}",
                                REGULATED, weight * 0.5)
    if residency:
        found += _contributions("compliance", f"its data must stay in {residency}",
                                RESIDENCY, weight)
    return found


@lru_cache(maxsize=2048)
def _questionnaire(answers: tuple[tuple[str, str], ...],
                   weight: float) -> tuple[Contribution, ...]:
    found: tuple[Contribution, ...] = ()
    for key, value in answers:
        row = QUESTIONNAIRE.get((key, value))
        if row is not None:
            found += _contributions("questionnaire", _ANSWER_PHRASES[key][value], row,
                                    weight)
    return found


@lru_cache(maxsize=64)
def _risk_tolerance(tolerance: str, weight: float) -> tuple[Contribution, ...]:
    row = RISK_TOLERANCE.get(tolerance)
    if row is None:
        return ()
    return _contributions("risk_tolerance", f"the engagement's risk tolerance is "
                          f"{tolerance}", row, weight)


def learned_bonus(count: int) -> int:
    """Points toward the consultants' choice after `count` overrides (capped)."""
    if count <= 0:
        return 0
    return min(LEARNED_BONUS_CAP, LEARNED_BONUS_FIRST + LEARNED_BONUS_STEP * (count - 1))


@lru_cache(maxsize=1024)
def learned_choice(choices: Mapping[str, int]) -> tuple[str, int] | None:
    """The most-chosen strategy and its count (ties: earlier in STRATEGIES), or None."""
    best: tuple[str, int] | None = None
    for strategy in STRATEGIES:
        count = choices.get(strategy, 0)
        if count > 0 and (best is None or count > best[1]):
            best = (strategy, count)
    return best


@lru_cache(maxsize=1024)
def _learned(strategy: str, count: int, key: tuple[str, str, str],
             weight: float) -> tuple[Contribution, ...]:
    detail = (f"consultants in this account chose {strategy} for {count} similar "
              f"asset{'s' if count != 1 else ''} ({' / '.join(key)})")
    return (Contribution("learned_overrides", strategy, learned_bonus(count) * weight,
                         detail),) if weight else ()


class Situation(NamedTuple):
    """The facts of an asset as the factors read them (normalised words, bands).  Assets
    with equal situations get equal contributions, so decisions are memoised on it."""
    tech_debt_status: str | None
    os_name: str | None
    os_version: str | None
    tech_debt_score: float | None
    platform: str
    tags: tuple[str, ...]
    asset_type: str | None
    environment: str | None
    criticality: str | None
    dependents: int  # a dependents_step
    depends_on_many: bool
    in_cycle: bool
    utilisation: str | None
    power_state: str | None
    completeness: float
    compliance: tuple[str, ...]
    residency: str | None
    answers: tuple[tuple[str, str], ...]


def situation_of(facts: AssetFacts) -> Situation:
    """The asset's `Situation`."""
    return Situation(
        _word(facts.tech_debt_status), facts.os_name, facts.os_version, facts.tech_debt_score,
        platform_of(facts), facts.tags, _word(facts.asset_type), _word(facts.environment),
        _word(facts.business_criticality), dependents_step(facts.dependents_count),
        facts.depends_on_count >= DEPENDS_ON_MANY_FROM, facts.in_cycle,
        utilisation_band(facts.cpu_utilization_pct, facts.memory_utilization_pct),
        _word(facts.power_state), round(facts.completeness, 2), facts.compliance,
        residency_of(facts), tuple(facts.answers.items()))


def evaluate(situation: Situation, criteria: Criteria,
             learned: tuple[str, int, tuple[str, str, str]] | None) -> tuple[Contribution, ...]:
    """Every factor's contributions for an asset in this situation, in `FACTORS` order.
    `learned` is the (strategy, count, similarity key) of overrides that apply, if any."""
    weights = criteria.weights
    contributions = (
        _platform_currency(situation.tech_debt_status, situation.os_name,
                           situation.os_version, situation.tech_debt_score,
                           weights["platform_currency"])
        + _platform(situation.platform, situation.os_name, situation.tags,
                    weights["platform"])
        + _asset_type(situation.asset_type, weights["asset_type"])
        + _environment(situation.environment, weights["environment"])
        + _criticality(situation.criticality, weights["criticality"])
        + _dependencies(situation.dependents, situation.depends_on_many, situation.in_cycle,
                        weights["dependencies"])
        + _utilisation(situation.utilisation, weights["utilisation"])
        + _power_state(situation.power_state, weights["power_state"])
        + _data_completeness(situation.completeness, weights["data_completeness"])
        + _compliance(situation.compliance, criteria.compliance_requirements,
                      situation.residency, weights["compliance"])
        + _questionnaire(situation.answers, weights["questionnaire"])
        + _risk_tolerance(criteria.risk_tolerance, weights["risk_tolerance"])
    )
    if learned is not None:
        contributions += _learned(*learned, weights["learned_overrides"])
    return contributions
