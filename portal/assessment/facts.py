"""What the 6R engine knows about an asset, the questionnaire it understands, and what
"similar assets" means when it learns from consultants' overrides."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from portal.assessment.frozen import EMPTY, FrozenMap, frozen

# Questionnaire answers the engine uses: key -> allowed values (lower case); an empty tuple
# means free text.  `ANSWER_QUESTIONS` is the question a consultant answers for each key.
ANSWER_KEYS: dict[str, tuple[str, ...]] = {
    "retirement_planned": ("yes", "no"),
    "saas_alternative": ("yes", "no"),
    "source_code_available": ("yes", "no"),
    "business_value": ("low", "medium", "high"),
    "change_frequency": ("low", "medium", "high"),
    "cloud_native_target": ("yes", "no"),
    "team_cloud_skills": ("low", "medium", "high"),
    "hardware_refresh_due": ("yes", "no"),
    "licence_constraints": ("yes", "no"),
    "data_residency": (),
}
ANSWER_QUESTIONS: dict[str, str] = {
    "retirement_planned": "Is the application already scheduled for decommissioning?",
    "saas_alternative": "Does a SaaS product cover what it does well enough to replace it?",
    "source_code_available": "Does the organisation own and hold the source code?",
    "business_value": "How much business value does it deliver (low, medium, high)?",
    "change_frequency": "How often does the business ask for changes (low, medium, high)?",
    "cloud_native_target": "Should the target design be cloud-native (managed services, "
                           "autoscaling) rather than like-for-like?",
    "team_cloud_skills": "How experienced is the owning team with cloud platforms "
                         "(low, medium, high)?",
    "hardware_refresh_due": "Is its hardware or hosting contract due for renewal within "
                            "12 months?",
    "licence_constraints": "Does a licence tie it to its current hardware or hosting "
                           "(core-bound licences, dongles, vendor certification)?",
    "data_residency": "Where must its data stay (a country or region; blank when anywhere)?",
}


def validate_answers(answers: Mapping[str, str] | None) -> dict[str, str]:
    """Questionnaire answers cleaned for `AssetFacts.answers`: keys known, enumerated values
    lower-cased and allowed, blank answers dropped.  Raises ValueError saying what is wrong."""
    cleaned: dict[str, str] = {}
    for key, value in (answers or {}).items():
        if key not in ANSWER_KEYS:
            raise ValueError(f"unknown question {key!r}; known questions: "
                             f"{', '.join(ANSWER_KEYS)}")
        text = str(value).strip() if value is not None else ""
        if not text:
            continue
        allowed = ANSWER_KEYS[key]
        if allowed:
            text = text.casefold()
            if text not in allowed:
                raise ValueError(f"answer {value!r} to {key!r} is not one of "
                                 f"{', '.join(allowed)}")
        cleaned[key] = text
    return cleaned


def _label_tuple(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted({value.strip().casefold() for value in values if value and
                         value.strip()}))


@dataclass(frozen=True, slots=True)
class AssetFacts:
    """What the engine knows about one asset; None = not known (lowers confidence).

    Tags and compliance labels are lower-cased, de-duplicated and sorted, and answers are
    frozen, so equal facts compare and hash equal whatever order they arrived in."""
    asset_id: str
    name: str
    asset_type: str | None = None
    environment: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    business_criticality: str | None = None
    tech_debt_status: str | None = None
    tech_debt_score: float | None = None
    cpu_cores: int | None = None
    memory_gb: float | None = None
    storage_gb: float | None = None
    cpu_utilization_pct: float | None = None
    memory_utilization_pct: float | None = None
    power_state: str | None = None
    application: str | None = None
    hypervisor: str | None = None
    depends_on_count: int = 0
    dependents_count: int = 0
    in_cycle: bool = False
    completeness: float = 1.0
    compliance: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    answers: Mapping[str, str] = field(default=EMPTY)

    def __post_init__(self) -> None:
        if self.compliance:
            object.__setattr__(self, "compliance", _label_tuple(self.compliance))
        if self.tags:
            object.__setattr__(self, "tags", _label_tuple(self.tags))
        if not isinstance(self.answers, FrozenMap):
            object.__setattr__(self, "answers", frozen(self.answers))


# Every field but the identity: two assets with equal profiles get the same recommendation.
PROFILE_FIELDS: tuple[str, ...] = tuple(name for name in AssetFacts.__dataclass_fields__
                                        if name not in ("asset_id", "name"))


# ---------------------------------------------------------------------------------------
# Platforms and OS families

_MAINFRAME_WORDS = ("z/os", "zos", "os/390", "mvs", "z/vm", "z/vse", "vse", "tpf")
_MIDRANGE_WORDS = ("ibm i", "os/400", "as/400", "as400", "iseries", "i5/os")
_UNIX_WORDS = ("aix", "solaris", "sunos", "hp-ux", "hpux", "unix", "bsd", "tru64")
_LINUX_WORDS = ("linux", "ubuntu", "debian", "centos", "suse", "sles", "fedora", "rhel",
                "red hat", "alma", "rocky")
CONTAINER_TAGS = frozenset({"kubernetes", "k8s", "docker", "container", "containerized",
                            "containerised", "openshift", "eks", "aks", "gke"})


@lru_cache(maxsize=1024)
def os_family_word(os_name: str | None) -> str:
    """The broad family of an OS name: windows, linux, unix, midrange, mainframe, other,
    or unknown when there is no name."""
    if not os_name or not os_name.strip():
        return "unknown"
    lowered = os_name.casefold()
    if any(word in lowered for word in _MAINFRAME_WORDS):
        return "mainframe"
    if any(word in lowered for word in _MIDRANGE_WORDS):
        return "midrange"
    if "windows" in lowered:
        return "windows"
    if any(word in lowered for word in _LINUX_WORDS):
        return "linux"
    if any(word in lowered for word in _UNIX_WORDS):
        return "unix"
    return "other"


def platform_of(facts: AssetFacts) -> str:
    """mainframe, midrange (IBM i and proprietary Unix), container (tagged as such), x86
    (Windows or Linux), other, or unknown."""
    family = os_family_word(facts.os_name)
    if family == "mainframe":
        return "mainframe"
    if family in ("midrange", "unix"):
        return "midrange"
    if CONTAINER_TAGS.intersection(facts.tags):
        return "container"
    if family in ("windows", "linux"):
        return "x86"
    return family


def similarity_key(facts: AssetFacts) -> tuple[str, str, str]:
    """(OS family word, asset type, environment), "unknown" for what is not known: the
    assets that count as similar when the engine learns from consultants' overrides."""
    return (os_family_word(facts.os_name),
            (facts.asset_type or "unknown").casefold(),
            (facts.environment or "unknown").casefold())


@dataclass(frozen=True)
class LearnedChoices:
    """Consultants' overrides in this account: similarity key -> {strategy: count}.

    The engine moves an asset toward the most-chosen strategy for its key (ties go to the
    earlier strategy in `STRATEGIES`) with a bonus that grows with the count and is capped
    (`factors.learned_bonus`: 12 points for one override, 6 more per further one, at most
    30), so that consultants' habits settle close calls but never
    outweigh a decisive fact such as a powered-off box or a mainframe with 40 dependents."""
    by_key: Mapping[tuple[str, str, str], Mapping[str, int]] = field(default=EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", FrozenMap(
            {tuple(key): frozen(counts) for key, counts in self.by_key.items()}))

    def choices_for(self, key: tuple[str, str, str]) -> FrozenMap:
        """The {strategy: count} of overrides for assets like this (empty when none)."""
        return self.by_key.get(key, EMPTY)
