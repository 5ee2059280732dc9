"""The factors the 6R engine weighs and the criteria an engagement assesses with: seeded
from the account's agent preferences and editable per engagement."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.assessment.frozen import FrozenMap
from portal.client_accounts import (AUTOMATION_LEVELS, CLOUDS, COMPLIANCE_REQUIREMENTS,
                                    DISCOVERY_DEPTHS)

FACTOR_LABELS: dict[str, str] = {
    "platform_currency": "OS and platform currency",
    "platform": "Platform",
    "asset_type": "Asset type",
    "environment": "Environment",
    "criticality": "Business criticality",
    "dependencies": "Dependencies",
    "utilisation": "Utilisation",
    "power_state": "Power state",
    "data_completeness": "Data completeness",
    "compliance": "Compliance and data residency",
    "questionnaire": "Questionnaire answers",
    "risk_tolerance": "Risk tolerance",
    "learned_overrides": "Consultants' overrides in this account",
}
FACTORS: tuple[str, ...] = tuple(FACTOR_LABELS)

ASSESSMENT_TYPES = ("quick", "comprehensive", "targeted")
RISK_TOLERANCES = ("conservative", "moderate", "aggressive")
# The account settings use low/moderate/high for the same scale.
_ACCOUNT_RISK_WORDS = {"low": "conservative", "high": "aggressive"}
MAX_WEIGHT = 3.0
DEFAULT_WEIGHTS = FrozenMap({name: 1.0 for name in FACTORS})
_KEYS = ("assessment_type", "discovery_depth", "automation_level", "risk_tolerance",
         "preferred_clouds", "compliance_requirements", "weights")


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    text = value.strip().casefold() if isinstance(value, str) else value
    if text not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return text


def _subset(values: Any, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{what}s must be a list")
    chosen: list[str] = []
    for value in values:
        item = _choice(value, allowed, what)
        if item not in chosen:
            chosen.append(item)
    return tuple(chosen)


def _risk_tolerance(value: Any) -> str:
    text = value.strip().casefold() if isinstance(value, str) else value
    text = _ACCOUNT_RISK_WORDS.get(text, text)
    if text not in RISK_TOLERANCES:
        raise ValueError(f"risk tolerance {value!r} is not one of "
                         f"{', '.join(RISK_TOLERANCES)} (or the account's low, moderate, high)")
    return text


def _weights(value: Any) -> FrozenMap:
    """All factors with their multiplier: the given ones over the defaults (1.0)."""
    if not isinstance(value, Mapping):
        raise ValueError("weights must map factor names to numbers")
    merged = dict(DEFAULT_WEIGHTS)
    for name, weight in value.items():
        if name not in FACTOR_LABELS:
            raise ValueError(f"unknown factor {name!r} in weights; factors: "
                             f"{', '.join(FACTORS)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not 0.0 <= weight <= MAX_WEIGHT:
            raise ValueError(f"weight of {FACTOR_LABELS[name].lower()} must be a number "
                             f"from 0 to {MAX_WEIGHT:g}")
        merged[name] = float(weight)
    return FrozenMap(merged)


@dataclass(frozen=True)
class Criteria:
    """How an engagement assesses: validated on construction (ValueError with a message a
    user can act on), hashable so recommendations can be memoised per criteria.

    - assessment_type: quick (only the core facts are expected), comprehensive (sizes,
      utilisation and power state are expected too), targeted (questionnaire answers are
      expected too); what is expected and absent is listed as missing and lowers confidence.
    - risk_tolerance: conservative lowers refactor/rearchitect/rebuild, aggressive raises them.
    - automation_level: kept for the flow (auto-accepting results); the engine ignores it.
    - preferred_clouds: the first one the price table knows prices the target (else aws).
    - compliance_requirements: the account's obligations; they count at half strength for
      assets whose own compliance labels do not already name them.
    - weights: factor -> multiplier of its points (0 switches a factor off, up to 3)."""
    assessment_type: str = "comprehensive"
    risk_tolerance: str = "moderate"
    automation_level: str = "assisted"
    preferred_clouds: tuple[str, ...] = ()
    compliance_requirements: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default=DEFAULT_WEIGHTS)

    def __post_init__(self) -> None:
        values = {
            "assessment_type": _choice(self.assessment_type, ASSESSMENT_TYPES,
                                       "assessment type"),
            "risk_tolerance": _risk_tolerance(self.risk_tolerance),
            "automation_level": _choice(self.automation_level, AUTOMATION_LEVELS,
                                        "automation level"),
            "preferred_clouds": _subset(self.preferred_clouds, CLOUDS, "cloud"),
            "compliance_requirements": _subset(self.compliance_requirements,
                                               COMPLIANCE_REQUIREMENTS,
                                               "compliance requirement"),
            "weights": self.weights if self.weights is DEFAULT_WEIGHTS
            else _weights(self.weights),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_preferences(cls, preferences: Mapping | None, overrides: Mapping | None = None,
                         assessment_type: str = "comprehensive") -> Criteria:
        """Criteria from the account's `agent_preferences` with the engagement's
        `overrides` (same keys plus "weights", merged over the account's) on top.
        `assessment_type` applies unless either mapping names one.  `discovery_depth` is
        accepted (it is part of the account's preferences) and checked, but it steers
        discovery, not 6R.  Unknown keys or values raise ValueError."""
        settings: dict[str, Any] = {"assessment_type": assessment_type}
        weights: dict[str, Any] = {}
        for source in (preferences or {}, overrides or {}):
            if not isinstance(source, Mapping):
                raise ValueError("preferences must be a dictionary")
            unknown = sorted(set(source) - set(_KEYS))
            if unknown:
                raise ValueError(f"unknown setting {unknown[0]!r}; settings: "
                                 f"{', '.join(_KEYS)}")
            for key, value in source.items():
                if key == "weights":
                    if not isinstance(value, Mapping):
                        raise ValueError("weights must map factor names to numbers")
                    weights.update(value)
                elif key == "discovery_depth":
                    _choice(value, DISCOVERY_DEPTHS, "discovery depth")
                elif value is not None:
                    settings[key] = value
        return cls(weights=_weights(weights), **settings)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able; `Criteria.from_preferences(c.as_dict()) == c`."""
        return {"assessment_type": self.assessment_type,
                "risk_tolerance": self.risk_tolerance,
                "automation_level": self.automation_level,
                "preferred_clouds": list(self.preferred_clouds),
                "compliance_requirements": list(self.compliance_requirements),
                "weights": dict(self.weights)}
