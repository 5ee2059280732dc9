"""The 6R engine: a strategy recommendation per asset and per application, explained.

`recommend(facts, criteria, learned)` scores every strategy of `STRATEGIES` from the factor
table in `factors.py`, picks the best, and says why: each factor's contribution, the
alternatives with their scores, the inputs that were missing (they lower the confidence), a
rationale written from the contributions, risk factors, and effort and cost estimates
(`estimates.py`).  No database, no Flask, no clock, no randomness: the same inputs always
give the same output.

Speed: results are memoised per asset *profile* (every fact but the asset's id and name)
with the criteria and the overrides that apply, since exports repeat the same facts many
times; the rationale never names the asset for that reason.  Each factor caches its own
contributions too, so even new profiles are cheap.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Any

from portal.assessment.criteria import FACTOR_LABELS, FACTORS, Criteria
from portal.assessment.estimates import (complexity_score, estimate_cost, estimate_effort,
                                         risk_score, target_cloud)
from portal.assessment.frozen import FrozenDict
from portal.assessment.facts import (ANSWER_KEYS, ANSWER_QUESTIONS, PROFILE_FIELDS,
                                     AssetFacts, LearnedChoices, os_family_word,
                                     similarity_key, validate_answers)
from portal.assessment.factors import (BASE_SCORES, Contribution, Situation,
                                       completeness_band, dependents_band,
                                       dependents_phrase, evaluate,
                                       learned_choice, situation_of)
from portal.models.assessment import STRATEGIES

__all__ = ["ANSWER_KEYS", "ANSWER_QUESTIONS", "FACTORS", "FACTOR_LABELS", "STRATEGIES",
           "ApplicationRecommendation", "AssetFacts", "Contribution", "Criteria",
           "LearnedChoices", "Recommendation", "clear_memo", "recommend",
           "recommend_application", "recommend_uncached", "similarity_key",
           "validate_answers"]

# Entries kept before a memo starts afresh.  Profiles repeat mostly among neighbours (an
# assessment reads application by application) and measured utilisation makes most of them
# unique, so their memo stays small: at 200,000 it held a quarter of a gigabyte of results
# that were never asked for again.  Decisions are few and each saves real work.
PROFILE_MEMO_LIMIT = 20_000
DECISION_MEMO_LIMIT = 200_000
DECIDING_FACTORS = 4  # contributions named in a rationale
# Inputs each assessment type expects; an absent one is listed and lowers confidence.
_CORE_INPUTS = ("asset_type", "environment", "os_name", "os_version",
                "business_criticality", "cpu_cores", "memory_gb", "storage_gb")
_MEASURED_INPUTS = ("cpu_utilization_pct", "memory_utilization_pct", "power_state")
EXPECTED_INPUTS = {"quick": _CORE_INPUTS,
                   "comprehensive": _CORE_INPUTS + _MEASURED_INPUTS,
                   "targeted": _CORE_INPUTS + _MEASURED_INPUTS}
_EXPECTED_GETTERS = {names: attrgetter(*names) for names in EXPECTED_INPUTS.values()}
MISSING_INPUT_PENALTY, MISSING_PENALTY_CAP = 0.05, 0.35
FULL_CONFIDENCE_MARGIN = 30.0  # score points between best and second for full confidence
RISKY = frozenset({"refactor", "rearchitect", "rebuild"})
_POSITION = {strategy: position for position, strategy in enumerate(STRATEGIES)}


@dataclass(frozen=True)
class Recommendation:
    """The engine's answer for one asset.  Mappings are read-only `FrozenDict`s."""
    asset_id: str
    primary: str
    confidence: float
    scores: Mapping[str, float]
    alternatives: tuple[dict, ...]
    contributions: tuple[Contribution, ...]
    missing_inputs: tuple[str, ...]
    rationale: str
    risk_factors: tuple[dict, ...]
    effort: Mapping[str, Any]
    cost: Mapping[str, Any]
    complexity_score: int
    risk_score: int
    learned: Mapping[str, Any] | None
    business_impact: Mapping[str, Any] | None = None
    technical_considerations: Mapping[str, Any] | None = None
    # What the decision was made from (situation, missing inputs, criteria, overrides
    # applied): recommendations with equal bases share primary, confidence, scores,
    # alternatives, contributions, missing inputs, rationale, risk factors and learning.
    basis: tuple | None = field(default=None, compare=False, repr=False)

    def sixr_row(self) -> dict:
        """Values for the `sixr_analysis` columns, all JSON-able."""
        return {
            "primary_recommendation": self.primary,
            "confidence_score": self.confidence,
            "alternative_options": [dict(option) for option in self.alternatives],
            "analysis_criteria": {
                "scores": dict(self.scores),
                "contributions": _by_factor(self.contributions),
                "missing_inputs": list(self.missing_inputs),
                "learned": _plain(self.learned),
            },
            "cost_estimation": _plain(self.cost),
            "effort_estimation": _plain(self.effort),
            "risk_factors": [dict(risk) for risk in self.risk_factors],
            "rationale": self.rationale,
            "business_impact": _plain(self.business_impact),
            "technical_considerations": _plain(self.technical_considerations),
        }


def _by_factor(contributions: Sequence[Contribution]) -> list[dict]:
    """Contributions as stored: one entry per factor and finding, with its points per
    strategy ({"factor", "detail", "points": {strategy: points}}); the same finding moves
    several strategies, and saying it once keeps a hundred thousand rows small."""
    grouped: dict[tuple[str, str], dict[str, float]] = {}
    for c in contributions:
        grouped.setdefault((c.factor, c.detail), {})[c.strategy] = c.points
    return [{"factor": factor, "detail": detail, "points": points}
            for (factor, detail), points in grouped.items()]


def _plain(value: Any) -> Any:
    """`value` with read-only mappings and tuples turned into dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------
# One asset

_profile = attrgetter(*PROFILE_FIELDS)
_MEMO: dict[tuple, tuple] = {}       # profile, criteria, overrides -> all but the id
_DECISIONS: dict[tuple, tuple] = {}  # situation, missing, criteria, overrides -> decision
_NO_LEARNING = LearnedChoices()


def clear_memo() -> None:
    """Forget memoised results (tests; after the price or end-of-life table changes)."""
    _MEMO.clear()
    _DECISIONS.clear()


def recommend(facts: AssetFacts, criteria: Criteria,
              learned: LearnedChoices = _NO_LEARNING) -> Recommendation:
    """The recommendation for one asset (memoised per profile, criteria and overrides)."""
    applied = _learned_for(facts, learned)
    key = (_profile(facts), criteria, applied)
    core = _MEMO.get(key)
    if core is None:
        if len(_MEMO) >= PROFILE_MEMO_LIMIT:
            _MEMO.clear()
        core = _MEMO[key] = _assess(facts, criteria, applied)
    return Recommendation(facts.asset_id, *core)


def recommend_uncached(facts: AssetFacts, criteria: Criteria,
                       learned: LearnedChoices = _NO_LEARNING) -> Recommendation:
    """`recommend` without the per-profile memo (to check that both agree)."""
    return Recommendation(facts.asset_id, *_assess(facts, criteria,
                                                   _learned_for(facts, learned)))


def _learned_for(facts: AssetFacts,
                 learned: LearnedChoices) -> tuple[str, int, tuple[str, str, str]] | None:
    if not learned.by_key:
        return None
    key = similarity_key(facts)
    choice = learned_choice(learned.choices_for(key))
    return None if choice is None else (choice[0], choice[1], key)


def _assess(facts: AssetFacts, criteria: Criteria,
            applied: tuple[str, int, tuple[str, str, str]] | None) -> tuple:
    """Everything of a Recommendation but the asset id, in field order: the decision
    (memoised per situation), the estimates for this asset's sizes, and the decision's
    basis."""
    situation = situation_of(facts)
    missing = _missing_inputs(facts, criteria)
    decision_key = (situation, missing, criteria, applied)
    decision = _DECISIONS.get(decision_key)
    if decision is None:
        if len(_DECISIONS) >= DECISION_MEMO_LIMIT:
            _DECISIONS.clear()
        decision = _DECISIONS[decision_key] = _decide(situation, missing, criteria, applied)
    primary = decision[0]
    complexity = complexity_score(facts, situation.platform)
    cost = estimate_cost(primary, facts.cpu_cores, facts.memory_gb, facts.storage_gb,
                         _percent(facts.cpu_utilization_pct),
                         _percent(facts.memory_utilization_pct),
                         target_cloud(criteria.preferred_clouds))
    effort = estimate_effort(primary, situation.asset_type, facts.cpu_cores, facts.memory_gb,
                             facts.storage_gb, facts.depends_on_count + facts.dependents_count,
                             facts.dependents_count, facts.in_cycle, complexity)
    regulated = bool(situation.compliance or criteria.compliance_requirements)
    return (
        *decision[:-1], effort, cost, complexity,
        risk_score(facts, regulated, situation.residency is not None), decision[-1],
        FrozenDict(criticality=facts.business_criticality, environment=facts.environment,
                   application=facts.application, dependents=facts.dependents_count,
                   monthly_saving=round(cost["current_monthly"] - cost["target_monthly"], 2)),
        _technical_considerations(situation.platform, facts.os_name, facts.os_version,
                                  facts.tech_debt_status, facts.depends_on_count,
                                  facts.in_cycle, cost["target"]),
        decision_key,
    )


# Shared between assets with the same values, and so serialised once per batch for them
# all (see `store.Preparer`).
@lru_cache(maxsize=65536)
def _technical_considerations(platform: str, os_name: str | None, os_version: str | None,
                              tech_debt_status: str | None, depends_on: int, in_cycle: bool,
                              target: str | None) -> FrozenDict:
    return FrozenDict(platform=platform, os_family=os_family_word(os_name),
                      os=" ".join(p for p in (os_name, os_version) if p) or None,
                      tech_debt_status=tech_debt_status, depends_on=depends_on,
                      in_cycle=in_cycle, target=target)


def _decide(situation: Situation, missing: tuple[str, ...], criteria: Criteria,
            applied: tuple[str, int, tuple[str, str, str]] | None) -> tuple:
    """(primary, confidence, scores, alternatives, contributions, missing, rationale,
    risk factors, learned) for assets in this situation."""
    contributions = evaluate(situation, criteria, applied)
    totals = dict(BASE_SCORES)
    for contribution in contributions:
        totals[contribution.strategy] += contribution.points
    scores = FrozenDict({strategy: round(min(100.0, max(0.0, totals[strategy])), 1)
                         for strategy in STRATEGIES})
    ranked = sorted(STRATEGIES, key=lambda s: (-totals[s], _POSITION[s]))
    primary, runner_up = ranked[0], ranked[1]
    confidence = _confidence(totals[primary] - totals[runner_up], missing,
                             situation.completeness)
    learned = None if applied is None else FrozenDict(
        strategy=applied[0], count=applied[1], key=tuple(applied[2]),
        points=next((c.points for c in contributions if c.factor == "learned_overrides"), 0.0))
    return (
        primary, confidence, scores,
        tuple(_option(s, scores[s]) for s in ranked[1:]),
        contributions, missing,
        _rationale(primary, runner_up, scores, contributions, learned, missing, confidence),
        _risk_factors(situation, primary, missing),
        learned,
    )


@lru_cache(maxsize=16384)
def _option(strategy: str, score: float) -> FrozenDict:
    return FrozenDict(strategy=strategy, score=score)


@lru_cache(maxsize=4096)
def _risk(factor: str, severity: str, detail: str) -> FrozenDict:
    return FrozenDict(factor=factor, severity=severity, detail=detail)


def _percent(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _missing_inputs(facts: AssetFacts, criteria: Criteria) -> tuple[str, ...]:
    expected = EXPECTED_INPUTS[criteria.assessment_type]
    values = _EXPECTED_GETTERS[expected](facts)
    missing = [name for name, value in zip(expected, values, strict=True)
               if value is None or value == ""]
    if (facts.tech_debt_status or "unknown") == "unknown":
        missing.append("tech_debt_status")
    if criteria.assessment_type == "targeted" and not facts.answers:
        missing.append("questionnaire")
    return tuple(missing)


def _confidence(margin: float, missing: tuple[str, ...], completeness: float) -> float:
    """From the margin between the best two scores (0.5 for a tie, 1.0 from
    `FULL_CONFIDENCE_MARGIN`), lowered per missing input and by low completeness."""
    decisiveness = 0.5 + 0.5 * min(1.0, max(0.0, margin) / FULL_CONFIDENCE_MARGIN)
    penalty = min(MISSING_PENALTY_CAP, MISSING_INPUT_PENALTY * len(missing))
    completeness = max(0.0, min(1.0, completeness))
    return round(max(0.0, min(1.0, decisiveness * (1 - penalty) * (0.5 + 0.5 * completeness))),
                 3)


def _signed(points: float) -> str:
    return f"{points:+.0f}" if points == round(points) else f"{points:+.1f}"


def _by_points_down(contribution: Contribution) -> float:
    return -contribution.points


def _by_points_up(contribution: Contribution) -> float:
    return contribution.points


def _rationale(primary: str, runner_up: str, scores: Mapping[str, float],
               contributions: tuple[Contribution, ...], learned: Mapping | None,
               missing: tuple[str, ...], confidence: float) -> str:
    """Prose from the contributions: what decided the primary, what held the runner-up
    back, learned overrides, and what was missing.  Never names the asset (memoised)."""
    positives: list[Contribution] = []
    against: list[Contribution] = []
    for c in contributions:
        if c.strategy == primary:
            if c.points > 0 and c.factor != "learned_overrides":
                positives.append(c)
        elif c.strategy == runner_up and c.points < 0:
            against.append(c)
    # contributions come in FACTORS order and sorts are stable: ties keep that order
    for_primary = sorted(positives, key=_by_points_down)[:DECIDING_FACTORS]
    against = sorted(against, key=_by_points_up)[:2]
    sentences = [f"Recommended {primary} (score {scores[primary]:g} of 100, confidence "
                 f"{confidence:.2f})."]
    if for_primary:
        sentences.append("Deciding factors: " + "; ".join(
            f"{c.detail} ({FACTOR_LABELS[c.factor]}, {_signed(c.points)})"
            for c in for_primary) + ".")
    else:
        sentences.append(f"No factor argued strongly for any strategy; {primary} is the "
                         "default when little is known.")
    runner = f"Next best: {runner_up} at {scores[runner_up]:g}"
    if against:
        runner += ", held back because " + "; ".join(
            f"{c.detail} ({_signed(c.points)})" for c in against)
    sentences.append(runner + ".")
    if learned is not None:
        sentences.append(
            f"Consultants in this account chose {learned['strategy']} for "
            f"{learned['count']} similar asset{'s' if learned['count'] != 1 else ''} "
            f"({' / '.join(learned['key'])}), which added {learned['points']:g} points to "
            f"{learned['strategy']}.")
    if missing:
        sentences.append(f"Confidence is lowered by missing inputs: {', '.join(missing)}.")
    return " ".join(sentences)


_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def _risk_factors(situation: Situation, primary: str,
                  missing: tuple[str, ...]) -> tuple[dict, ...]:
    found: list[tuple[str, str, str]] = []
    status = situation.tech_debt_status
    if status in ("unsupported", "soon_unsupported", "extended_support_only"):
        score = situation.tech_debt_score
        found.append(("platform_currency", "high" if status == "unsupported" else "medium",
                      f"technical debt: {status.replace('_', ' ')}"
                      + (f" (score {score:.0f})" if score is not None else "")))
    if situation.platform in ("mainframe", "midrange"):
        found.append(("platform", "high" if situation.platform == "mainframe" else "medium",
                      f"{situation.platform} platform: scarce skills and tooling for any "
                      "move"))
    if situation.criticality in ("critical", "high"):
        found.append(("criticality", "high" if situation.criticality == "critical"
                      else "medium",
                      f"business criticality is {situation.criticality}: outages are costly"))
    band = dependents_band(situation.dependents)
    if band in ("several", "many"):
        found.append(("dependencies", "high" if band == "many" else "medium",
                      f"{dependents_phrase(situation.dependents)} depend on it"))
    if situation.in_cycle:
        found.append(("dependencies", "medium", "part of a dependency cycle: move the "
                      "cycle as one wave"))
    if primary == "retire" and situation.dependents:
        found.append(("dependencies", "high", f"retiring it affects "
                      f"{dependents_phrase(situation.dependents)} that depend on it"))
    if situation.compliance:
        found.append(("compliance", "medium",
                      f"regulated: {', '.join(situation.compliance)}"))
    if situation.residency:
        found.append(("compliance", "medium", f"data residency: {situation.residency}"))
    if primary in RISKY and situation.environment == "production":
        found.append(("environment", "medium", f"{primary} changes a production system"))
    completeness = completeness_band(situation.completeness)
    if completeness:
        found.append(("data_completeness", "high" if completeness == "poor" else "medium",
                      f"only {situation.completeness:.0%} of its fields are known"))
    if missing:
        found.append(("data_completeness", "low", f"decided without {', '.join(missing)}"))
    found.sort(key=lambda item: _SEVERITY_RANK[item[1]])  # stable: keeps the order above
    return tuple(_risk(*item) for item in found)


# ---------------------------------------------------------------------------------------
# An application: its assets move as a group

CRITICALITY_WEIGHT = {"critical": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
UNKNOWN_CRITICALITY_WEIGHT = 2.0


@dataclass(frozen=True)
class ApplicationRecommendation:
    """One strategy for all assets of an application, from their weighted scores."""
    application: str
    primary: str
    confidence: float
    scores: Mapping[str, float]
    asset_count: int
    strategy_counts: Mapping[str, int]
    effort_person_days: float
    current_monthly: float
    target_monthly: float
    rationale: str


def member_weight(facts: AssetFacts) -> float:
    """How much a member's scores count in its group: criticality (critical 4 .. low 1)
    times size (1 + cores/16, at most 3)."""
    criticality = CRITICALITY_WEIGHT.get((facts.business_criticality or "").casefold(),
                                         UNKNOWN_CRITICALITY_WEIGHT)
    return criticality * (1 + min(32, facts.cpu_cores or 0) / 16)


def recommend_application(application: str,
                          members: Sequence[tuple[AssetFacts, Recommendation]]
                          ) -> ApplicationRecommendation:
    """The application's strategy: member scores averaged with `member_weight`, best
    wins (ties: earlier in STRATEGIES); effort and cost are the members' for that strategy.
    Confidence is the members' weighted mean confidence, scaled down by disagreement."""
    if not members:
        raise ValueError(f"application {application!r} has no assets to assess")
    weights = [member_weight(facts) for facts, _ in members]
    total_weight = sum(weights)
    scores = {strategy: round(sum(w * rec.scores[strategy] for w, (_, rec)
                                  in zip(weights, members, strict=False)) / total_weight, 1)
              for strategy in STRATEGIES}
    ranked = sorted(STRATEGIES, key=lambda s: (-scores[s], STRATEGIES.index(s)))
    primary = ranked[0]
    counts = {strategy: 0 for strategy in STRATEGIES}
    for _, rec in members:
        counts[rec.primary] += 1
    weighted = list(zip(weights, members, strict=True))
    agreeing = sum(w for w, (_, rec) in weighted if rec.primary == primary)
    mean_confidence = sum(w * rec.confidence for w, (_, rec) in weighted) / total_weight
    confidence = round(mean_confidence * (0.5 + 0.5 * agreeing / total_weight), 3)
    effort = current = target = 0.0
    for facts, rec in members:
        member_effort, member_cost = _member_estimates(facts, rec, primary)
        effort += member_effort
        current += member_cost["current_monthly"]
        target += member_cost["target_monthly"]
    return ApplicationRecommendation(
        application=application, primary=primary, confidence=confidence,
        scores=FrozenDict(scores), asset_count=len(members),
        strategy_counts=FrozenDict((s, n) for s, n in counts.items() if n),
        effort_person_days=round(effort * 2) / 2, current_monthly=round(current, 2),
        target_monthly=round(target, 2),
        rationale=_application_rationale(primary, ranked[1], scores, counts, members,
                                          weights))


def _member_estimates(facts: AssetFacts, rec: Recommendation,
                      strategy: str) -> tuple[float, Mapping[str, Any]]:
    """A member's effort and cost if it follows the group's strategy."""
    if rec.primary == strategy:
        return rec.effort["person_days"], rec.cost
    cost = estimate_cost(strategy, facts.cpu_cores, facts.memory_gb, facts.storage_gb,
                         _percent(facts.cpu_utilization_pct),
                         _percent(facts.memory_utilization_pct),
                         rec.cost["cloud"])
    effort = estimate_effort(strategy, situation_of(facts).asset_type, facts.cpu_cores,
                             facts.memory_gb,
                             facts.storage_gb, facts.depends_on_count + facts.dependents_count,
                             facts.dependents_count, facts.in_cycle, rec.complexity_score)
    return effort["person_days"], cost


def _application_rationale(primary: str, runner_up: str, scores: Mapping[str, float],
                           counts: Mapping[str, int],
                           members: Sequence[tuple[AssetFacts, Recommendation]],
                           weights: Sequence[float]) -> str:
    size = len(members)
    if counts[primary] == size:
        return (f"All {size} asset{'s' if size != 1 else ''} of the application recommend "
                f"{primary} (group score {scores[primary]:g}; next {runner_up} at "
                f"{scores[runner_up]:g}).")
    split = ", ".join(f"{strategy} {count}" for strategy, count in
                      sorted(counts.items(), key=lambda i: (-i[1], STRATEGIES.index(i[0])))
                      if count)
    dissent = sorted(((w, facts, rec) for w, (facts, rec) in zip(weights, members, strict=False)
                      if rec.primary != primary),
                     key=lambda item: (-item[0], item[1].name, item[1].asset_id))
    named = "; ".join(f"{facts.name} ({facts.business_criticality or 'criticality unknown'}, "
                      f"{facts.cpu_cores or '?'} cores) recommends {rec.primary}"
                      for _, facts, rec in dissent[:3])
    more = f" and {len(dissent) - 3} more" if len(dissent) > 3 else ""
    return (f"The {size} assets disagree ({split}). The application moves as one: {primary} "
            f"has the best score weighted by criticality and size ({scores[primary]:g}, next "
            f"{runner_up} at {scores[runner_up]:g}). Members that differ: {named}{more}; "
            f"their effort and cost are counted for {primary}.")
