"""Which source column feeds which canonical asset field (no Flask, no database in here).

`suggest_field_mappings` proposes, for every column of an inventory, a target field (or
none), a confidence, a unit and a one-sentence reason.  Candidates come from, in order of
strength:

* what the account taught before (`learned`, keyed by `normalise_header`): wins outright;
* the header equal to a field's name or label (`exact`, 0.98);
* the synonym dictionary below (`synonym`, 0.7-0.95, curated for AWS Migration Hub,
  Azure Migrate, RVTools vInfo, ServiceNow cmdb_ci_server, Konveyor Tackle and common
  CMDB spellings);
* fuzzy resemblance to those keys (`fuzzy`, rapidfuzz token-sort ratio, never above 0.85);
* the sample values alone (`values`, never above 0.75) for a header nothing recognises.

The sample values also weigh every header candidate: they choose its unit (header first,
then units written in the cells, then magnitude), lower or raise it, or veto it when they
contradict it (an "IP" column full of host names is not `ip_address`).

Decisions worth knowing:

* `name` is the asset's own name (RVTools "VM", "Server Name", ServiceNow "name");
  `hostname` is the OS host name ("host_name", "HostName", "Computer Name"); `fqdn` the
  DNS name ("DNS Name").  An inventory that has none of the three but an application
  name (Konveyor Tackle) names its assets after the applications.
* `hypervisor` holds the host the machine runs on (RVTools "Host", "ESX Host").
* Only one column feeds `location`: site/location beats datacenter beats cluster.
* `external_id`: an explicit external/CMDB id (sys_id) beats a VM UUID beats a VM id.
* `cpu_cores` counts what the guest sees (vCPUs, logical cores), which is what a cloud
  target is sized on: AWS "CPU.NumberOfLogicalCores" beats "CPU.NumberOfCores", and
  sockets ("NumberOfProcessors") are never cores.
* `storage_gb` from RVTools is "Total disk capacity MiB" (the disks), else
  "Provisioned MiB"; one disk of a numbered series ("Disk 1 size") is never a total.
* A "%" (in the header or the cells) turns a memory or CPU column into its utilisation.

Two columns never feed the same field: the strongest candidate wins (a learned one
before any other, ties to the leftmost column) and the other column takes its next
candidate if it has one, else stays unmapped saying who won.  A column whose best
candidate is below `MIN_CONFIDENCE` stays unmapped rather than corrupting a field.
"""
from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache

from rapidfuzz import fuzz, process

from portal.discovery.fields import (
    BINARY_UNITS, BYTES_PER_UNIT, FIELDS, FIELDS_BY_NAME, NULL_MARKERS, canonical_unit,
    parse_ip, split_quantity)

AUTO_ACCEPT_CONFIDENCE = 0.8   # mappings at or above this need no review
MIN_CONFIDENCE = 0.6           # below this a column stays unmapped
EXACT_CONFIDENCE = 0.98
LEARNED_CONFIDENCE = 0.95
FUZZY_CUTOFF = 70              # token-sort score below which there is no guess at all
FUZZY_MAX = 0.85
SAMPLE_LIMIT = 100             # values per column the evidence looks at


@dataclass(frozen=True)
class LearnedMapping:
    """What the account has taught before (the caller loads it from agent_memory)."""
    target: str | None           # None = "this column is deliberately left unmapped"
    unit: str | None
    confidence: float


@dataclass(frozen=True)
class ColumnMapping:
    """The suggestion for one source column."""
    source: str
    target: str | None
    confidence: float            # 0..1, rounded to 2 decimals
    unit: str | None             # "MB", "MiB", "GB", "percent", "fraction"... or None
    method: str                  # learned | exact | synonym | fuzzy | values | unmapped
    reason: str                  # one short sentence for the review page

    @property
    def needs_review(self) -> bool:
        """A mapped column the engine is not sure enough of to apply unseen."""
        return self.target is not None and self.confidence < AUTO_ACCEPT_CONFIDENCE


# ---------------------------------------------------------------------------------------
# Headers

_BRACKETED = re.compile(r"\(([^)]*)\)|\[([^\]]*)\]|\{([^}]*)\}")
_NON_WORD = re.compile(r"[\W_]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z]{2})(?=[A-Z][a-z]{2})")
_SIZE_WORDS = frozenset(u.lower() for u in BYTES_PER_UNIT) | {"byte", "bytes"}
_PERCENT_WORDS = frozenset({"pct", "percent", "percentage"})
_RATE = re.compile(r"\bper (?:second|sec|s)\b|\b(?:[kmgt]i?b|bytes?|iops)ps\b|/\s*s\b")


def _words(text: str) -> list[str]:
    """Words of `text`, camelCase split ("cpuUtilizationPct" -> cpu Utilization Pct) but
    units ("MiB") and one-letter prefixes ("vCPUs", "vCenter") kept whole."""
    words: list[str] = []
    for word in _NON_WORD.split(text):
        if not word:
            continue
        if word.lower() in _SIZE_WORDS:
            words.append(word)
            continue
        pieces = _CAMEL.split(word)
        if len(pieces) > 1 and len(pieces[0]) == 1 and pieces[0].islower():
            pieces[:2] = [pieces[0] + pieces[1]]
        words.extend(pieces)
    return words


@lru_cache(maxsize=4096)
def normalise_header(header: str) -> str:
    """The comparable form of a header: bracketed units removed, asterisks, dots,
    underscores, hyphens and other punctuation turned into spaces, camelCase split,
    whitespace collapsed, casefolded.  `"*Memory [GiB]"` -> `"memory"`,
    `"location.name"` -> `"location name"`, `"cpuUtilizationPct"` -> `"cpu utilization pct"`."""
    text = _BRACKETED.sub(" ", unicodedata.normalize("NFKC", header))
    return " ".join(_words(text)).casefold()


def _unit_in_words(words: Iterable[str], allow_bytes: bool) -> str | None:
    for word in words:
        if word.lower() == "b" and not allow_bytes:
            continue  # a lone "B" outside brackets is more likely a letter than bytes
        unit = canonical_unit(word)
        if unit is not None and unit != "fraction":
            return unit
    return None


@lru_cache(maxsize=4096)
def header_unit(header: str) -> str | None:
    """The unit a header mentions: `"RAM (MB)"` -> "MB", `"Memory [GiB]"` -> "GiB",
    `"ram_mb"` -> "MB", `"Memory in GB"` -> "GB", `"CPU %"` / `"cpuPct"` -> "percent".
    Rates ("MB per second", "KBps") are no unit of any canonical field: None."""
    text = unicodedata.normalize("NFKC", header)
    if _RATE.search(" ".join(_words(text)).lower()) or _RATE.search(text.lower()):
        return None
    for match in _BRACKETED.finditer(text):
        inside = next(group for group in match.groups() if group is not None)
        unit = "percent" if "%" in inside else _unit_in_words(_words(inside), True)
        if unit:
            return unit
    outside = _BRACKETED.sub(" ", text)
    if "%" in outside:
        return "percent"
    return _unit_in_words(_words(outside), False)


def _bare(normalised: str) -> str:
    """A normalised header without its unit words ("ram total size in mb" -> "ram total
    size"): the unit is read separately, the rest says what the column is."""
    words = normalised.split()
    kept = [w for i, w in enumerate(words)
            if w not in _SIZE_WORDS and w not in _PERCENT_WORDS
            and not (w == "in" and i + 1 < len(words) and words[i + 1] in _SIZE_WORDS)]
    return " ".join(kept)


def _without_number(bare: str) -> str:
    """"tag 1" -> "tag": one column of a numbered series."""
    words = bare.split()
    while words and words[-1].isdigit():
        words.pop()
    return " ".join(words)


def _key(phrase: str) -> str:
    return _bare(normalise_header(phrase))


# ---------------------------------------------------------------------------------------
# The synonym dictionary: (target, confidence, phrases).  Phrases go through the same
# normalisation as headers, so they are written the way people write them.

_SYNONYM_TABLE: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("name", 0.95, ("server name", "servername", "vm", "vm name", "vmware vm name",
                    "virtual machine name", "virtual machine", "machine name", "asset name",
                    "ci name", "configuration item", "device name", "node name",
                    "system name", "instance name", "display name", "server")),
    ("name", 0.9, ("application name", "app name")),
    ("hostname", 0.95, ("host name", "server hostname", "computer name", "netbios name",
                        "short name", "machine hostname")),
    ("fqdn", 0.95, ("dns name", "fully qualified domain name", "full dns name",
                    "fully qualified name")),
    ("fqdn", 0.92, ("dns host name", "dns hostname")),
    ("ip_address", 0.95, ("ip", "ip addresses", "primary ip address", "primary ip",
                          "ipv4", "ipv4 address", "ipv4 addresses", "ip v4 address")),
    ("ip_address", 0.92, ("vm ip", "guest ip", "server ip")),
    ("ip_address", 0.9, ("private ip", "internal ip")),
    ("ip_address", 0.88, ("management ip", "mgmt ip", "ipv6 address", "ipv6")),
    ("mac_address", 0.95, ("mac", "mac addresses", "primary mac address",
                           "network adapter mac address")),
    ("mac_address", 0.9, ("physical address", "nic mac", "ethernet address")),
    ("asset_type", 0.93, ("ci type", "ci class", "asset class", "asset category")),
    ("asset_type", 0.92, ("sys class name", "server type", "device type", "machine type")),
    ("asset_type", 0.88, ("class", "system type")),
    ("asset_type", 0.85, ("type",)),
    ("environment", 0.95, ("env", "environment type", "environment name")),
    ("environment", 0.92, ("used for",)),
    ("environment", 0.85, ("stage", "lifecycle stage", "landscape")),
    ("os_name", 0.95, ("os", "operating system", "operating system name", "guest os",
                       "guest operating system", "os according to the configuration file")),
    ("os_name", 0.9, ("os according to the vmware tools", "os type")),
    ("os_name", 0.88, ("os family",)),
    ("os_name", 0.8, ("platform",)),
    ("os_version", 0.95, ("operating system version", "os release", "guest os version")),
    ("os_version", 0.85, ("os build",)),
    ("cpu_cores", 0.95, ("cpus", "vcpus", "vcpu", "vcpu count", "number of cores",
                         "cpu number of logical cores")),
    ("cpu_cores", 0.93, ("cores", "cpu count", "num cpu", "num cpus", "number of cpus",
                         "core count", "total cores", "allocated processor core count")),
    ("cpu_cores", 0.92, ("cpu number of cores",)),
    ("cpu_cores", 0.9, ("cpu", "logical processors", "logical cores",
                        "number of logical processors")),
    ("memory_gb", 0.95, ("ram", "memory size", "total memory", "ram total size", "ram size",
                         "total ram")),
    ("memory_gb", 0.93, ("physical memory", "installed memory", "memory capacity")),
    ("memory_gb", 0.9, ("mem", "memory allocated", "allocated memory", "configured memory")),
    ("storage_gb", 0.95, ("storage", "disk space", "total disk size", "total disk capacity",
                          "total storage")),
    ("storage_gb", 0.93, ("disk capacity", "storage size", "storage capacity", "total disk",
                          "disk total size")),
    ("storage_gb", 0.92, ("provisioned", "provisioned space", "provisioned storage",
                          "allocated storage")),
    ("storage_gb", 0.88, ("disk size", "hard disk size", "disk", "disk gb")),
    ("storage_gb", 0.85, ("hdd",)),
    ("cpu_utilization_pct", 0.95, ("cpu utilisation", "cpu usage", "cpu usage avg", "avg cpu",
                                   "average cpu", "cpu avg", "cpu utilization avg",
                                   "average cpu utilization", "avg cpu utilization")),
    ("cpu_utilization_pct", 0.93, ("cpu util", "processor utilization")),
    ("cpu_utilization_pct", 0.88, ("cpu load",)),
    ("cpu_utilization_pct", 0.85, ("cpu usage max", "peak cpu", "max cpu")),
    ("memory_utilization_pct", 0.95, ("memory utilisation", "memory usage", "ram usage",
                                      "ram utilization", "mem usage", "avg memory",
                                      "average memory utilization", "memory usage avg",
                                      "avg memory utilization")),
    ("memory_utilization_pct", 0.93, ("memory util", "mem util")),
    ("memory_utilization_pct", 0.85, ("memory usage max", "peak memory", "max memory")),
    ("application", 0.95, ("applications", "business service", "business application")),
    ("application", 0.93, ("app", "application service", "application name", "app name")),
    ("application", 0.85, ("service", "workload")),
    ("owner", 0.95, ("owned by", "application owner", "app owner", "system owner")),
    ("owner", 0.93, ("business owner", "it owner")),
    ("owner", 0.9, ("technical owner", "assigned to")),
    ("owner", 0.88, ("managed by",)),
    ("owner", 0.85, ("responsible", "primary contact", "custodian", "owner email",
                     "owner name")),
    ("business_criticality", 0.95, ("criticality", "criticality level")),
    ("business_criticality", 0.9, ("business impact", "business tier")),
    ("business_criticality", 0.88, ("service tier",)),
    ("business_criticality", 0.85, ("tier", "importance")),
    ("location", 0.95, ("site", "location name", "physical location")),
    ("location", 0.93, ("site name",)),
    ("location", 0.92, ("datacenter", "data center", "datacentre", "data centre")),
    ("location", 0.85, ("dc", "region", "cluster")),
    ("depends_on", 0.95, ("dependency", "dependencies")),
    ("depends_on", 0.93, ("dependent on", "depends")),
    ("depends_on", 0.9, ("upstream dependencies",)),
    ("depends_on", 0.85, ("upstream",)),
    ("external_id", 0.95, ("sys id", "cmdb id", "ci id", "configuration item id")),
    ("external_id", 0.93, ("asset id", "vm uuid", "instance uuid")),
    ("external_id", 0.9, ("uuid", "guid", "unique id", "vm id", "virtual machine id",
                          "server id", "machine id", "instance id")),
    ("external_id", 0.88, ("id", "resource id")),
    ("external_id", 0.85, ("asset tag", "object id")),
    ("tags", 0.95, ("tag",)),
    ("tags", 0.88, ("labels",)),
    ("tags", 0.85, ("label", "categories", "keywords")),
    ("description", 0.93, ("short description",)),
    ("description", 0.9, ("annotation", "annotations", "notes")),
    ("description", 0.88, ("note", "comments", "comment")),
    ("description", 0.85, ("remarks", "summary", "purpose")),
    ("manufacturer", 0.95, ("hardware manufacturer", "system manufacturer")),
    ("manufacturer", 0.93, ("vendor", "hardware vendor")),
    ("manufacturer", 0.9, ("make",)),
    ("manufacturer", 0.85, ("oem",)),
    ("model", 0.95, ("model name", "hardware model", "system model")),
    ("model", 0.93, ("model id", "model number")),
    ("serial_number", 0.95, ("serial", "serial no", "serial num", "system serial number")),
    ("serial_number", 0.93, ("bios serial number",)),
    ("serial_number", 0.9, ("service tag", "chassis serial")),
    ("serial_number", 0.85, ("sn",)),
    ("hypervisor", 0.95, ("esx host", "esxi host", "hypervisor host", "hyper v host")),
    ("hypervisor", 0.93, ("vm host", "physical host", "virtualization host",
                          "virtualisation host")),
    ("hypervisor", 0.9, ("host server", "virtual host", "host system")),
    ("hypervisor", 0.88, ("host",)),
    ("hypervisor", 0.85, ("hypervisor type", "virtualization platform")),
    ("power_state", 0.95, ("powerstate", "power status", "vm power state")),
    ("power_state", 0.9, ("power on state",)),
    ("power_state", 0.85, ("power", "running state", "vm state", "instance state")),
    ("power_state", 0.8, ("vm status",)),
    # Too generic alone: only values that look like power states carry these over.
    ("power_state", 0.7, ("state", "status")),
)

# Columns the five formats (and CMDBs at large) carry that have no canonical field: named
# here so that no fuzzy guess or value pattern drags them onto one.
_KNOWN_UNMAPPED: frozenset[str] = frozenset(_key(h) for h in (
    "record type", "dependency direction", "tag category", "tag type", "contributors",
    "binary", "binary group", "binary artifact", "binary version", "binary packaging",
    "repository type", "repository url", "repository branch", "repository path",
    "archetype", "template", "srm placeholder", "config status", "connection state",
    "guest state", "heartbeat", "consolidation needed", "suspend time",
    "creation date", "change version", "PowerOn", "SMBiosId", "nics", "disks", "network", "resource pool",
    "folder", "folder id", "vapp", "in use", "unshared", "ha restart priority",
    "hardware version", "vi sdk server", "vi sdk uuid", "vi sdk server type",
    "vi sdk api version", "smbios uuid", "application wave", "wave", "number of disks",
    "number of network adapters", "network adapters", "os architecture", "architecture",
    "boot type", "firmware", "virtual machine manager id", "install status",
    "operational status", "support group", "virtual", "sys updated on", "sys created on",
    "ram used size avg", "ram used size max", "cpu number of processors", "cpu speed",
    "dns domain", "domain", "VMware.MoRefId", "VMware.VCenterId",
    "network in throughput", "network out throughput", "rack", "rack slot",
))


def _build_synonyms() -> dict[str, tuple[tuple[str, float], ...]]:
    found: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for target, confidence, phrases in _SYNONYM_TABLE:
        for phrase in phrases:
            found[_key(phrase)].append((target, confidence))
    return {key: tuple(sorted(pairs, key=lambda p: -p[1])) for key, pairs in found.items()}


SYNONYMS: dict[str, tuple[tuple[str, float], ...]] = _build_synonyms()
_EXACT: dict[str, str] = {key: f.name for f in FIELDS for key in (_key(f.name), _key(f.label))}
_FUZZY_KEYS: tuple[str, ...] = tuple(sorted(
    key for key in {*SYNONYMS, *_EXACT} if len(key) >= 4))
_TWINS = {"cpu_cores": "cpu_utilization_pct", "memory_gb": "memory_utilization_pct"}
_AGGREGATES = frozenset({"cpu_cores", "memory_gb", "storage_gb"})
_FIELD_ORDER = {f.name: i for i, f in enumerate(FIELDS)}


# ---------------------------------------------------------------------------------------
# Evidence from the sample values

_MAC = re.compile(r"^(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}$|^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$",
                  re.IGNORECASE)
_FQDN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                   r"[a-z][a-z0-9-]{0,61}[a-z0-9]$", re.IGNORECASE)
_OS = re.compile(
    r"\b(?:windows|win ?20\d\d|ubuntu|rhel|red ?hat|centos|suse|sles|debian|oracle linux|"
    r"aix|solaris|hp-?ux|z/?os|freebsd|linux|rocky|almalinux|amazon linux|fedora|esxi|"
    r"photon os|os/400|ibm i)\b", re.IGNORECASE)
_POWER_STATES = frozenset({
    "poweredon", "poweredoff", "powered on", "powered off", "suspended", "on", "off",
    "running", "stopped", "shutdown", "shut down", "deallocated", "paused", "standby"})
_ADDRESS_SPLIT = re.compile(r"[,;\s]+")


@dataclass
class _Evidence:
    """What the sample values of one column look like."""
    count: int = 0
    ips: int = 0
    macs: int = 0
    fqdns: int = 0
    os_names: int = 0
    power_states: int = 0
    numbers: list[Decimal] = field(default_factory=list)
    percent_signs: int = 0
    decimals: int = 0
    size_units: list[str] = field(default_factory=list)

    def share(self, hits: int) -> float:
        return hits / self.count if self.count else 0.0

    @property
    def numeric_share(self) -> float:
        return self.share(len(self.numbers))

    def median(self) -> Decimal:
        return statistics.median(self.numbers)

    def add(self, value: str) -> None:
        self.count += 1
        quantity = split_quantity(value)
        if quantity is not None:
            self._add_number(value, *quantity)
            return
        first = _ADDRESS_SPLIT.split(value, 1)[0]
        if parse_ip(first) is not None:
            self.ips += 1
        elif _MAC.match(first):
            self.macs += 1
        elif _FQDN.match(value):
            self.fqdns += 1
        if value.casefold() in _POWER_STATES:
            self.power_states += 1
        elif len(value) <= 80 and _OS.search(value):
            self.os_names += 1

    def _add_number(self, value: str, number: Decimal, unit: str | None) -> None:
        self.numbers.append(number)
        if "." in value:
            self.decimals += 1
        if unit == "%":
            self.percent_signs += 1
        elif unit is not None and canonical_unit(unit) in BYTES_PER_UNIT:
            self.size_units.append(canonical_unit(unit))


def _evidence(index: int, rows: Sequence[Sequence[str | None]]) -> _Evidence:
    evidence = _Evidence()
    for row in rows:
        if index >= len(row) or row[index] is None:
            continue
        value = str(row[index]).strip()
        if value.casefold() in NULL_MARKERS:
            continue
        evidence.add(value)
        if evidence.count >= SAMPLE_LIMIT:
            break
    return evidence


# ---------------------------------------------------------------------------------------
# Candidates


@dataclass(frozen=True)
class _Candidate:
    target: str
    confidence: float
    method: str
    notes: tuple[str, ...]       # the parts of the reason, joined with "; "
    unit: str | None = None

    def but(self, note: str, delta: float = 0.0, **changes) -> _Candidate:
        """This candidate with one more note, its confidence moved by `delta` (a boost
        never lifts it above 0.97: only an exact or learned match is surer)."""
        confidence = self.confidence + delta
        if delta > 0:
            confidence = min(confidence, max(self.confidence, 0.97))
        return replace(self, confidence=max(confidence, 0.0), notes=(*self.notes, note),
                       **changes)


class _Veto(Exception):
    """The values contradict a header candidate; the message says how."""


@dataclass
class _Column:
    index: int
    source: str
    usable: list[_Candidate] = field(default_factory=list)   # best first, >= MIN_CONFIDENCE
    unsure: list[_Candidate] = field(default_factory=list)
    vetoes: list[str] = field(default_factory=list)
    known: bool = False
    learned_none: LearnedMapping | None = None


def _header_candidates(source: str) -> tuple[list[_Candidate], bool]:
    """Candidates from the header alone, and whether it is a known column with no field."""
    bare = _bare(normalise_header(source))
    numless = _without_number(bare)
    said = f"Header '{source}'"
    if bare in _EXACT:
        return [_Candidate(_EXACT[bare], EXACT_CONFIDENCE, "exact",
                           (f"{said} is the field {_EXACT[bare]}",))], False
    if bare in SYNONYMS:
        return [_Candidate(t, c, "synonym", (f"{said} is a synonym of {t}",))
                for t, c in SYNONYMS[bare]], False
    if bare in _KNOWN_UNMAPPED or numless in _KNOWN_UNMAPPED:
        return [], True
    if numless != bare and numless in SYNONYMS:
        return [_Candidate(t, round(c - 0.05, 2), "synonym",
                           (f"{said} is one of a numbered series of {t}",))
                for t, c in SYNONYMS[numless]], False
    return _fuzzy_candidates(said, bare), False


def _words_agree(a: str, b: str) -> bool:
    """Every word of each side resembles a word of the other: a typo ("opertaing") or a
    reordering passes, a shared long word with a different other word ("application
    tier" / "application owner") does not.  Numbers (of a series) are left aside."""
    def covered(xs: list[str], ys: list[str]) -> bool:
        return all(max(fuzz.ratio(x, y) for y in ys) >= FUZZY_CUTOFF for x in xs)
    words_a = [w for w in a.split() if not w.isdigit()]
    words_b = [w for w in b.split() if not w.isdigit()]
    return bool(words_a and words_b) and covered(words_a, words_b) and covered(words_b, words_a)


def _fuzzy_candidates(said: str, bare: str) -> list[_Candidate]:
    if len(bare) < 4:
        return []
    matches = process.extract(bare, _FUZZY_KEYS, scorer=fuzz.token_sort_ratio,
                              score_cutoff=FUZZY_CUTOFF, limit=5)
    match = next((m for m in matches if _words_agree(bare, m[0])), None)
    if match is None:
        return []
    key, score, _ = match
    if key in _EXACT:
        target, ceiling, what = _EXACT[key], EXACT_CONFIDENCE, "the field"
    else:
        (target, ceiling), what = SYNONYMS[key][0], "a synonym of"
    confidence = round(min(FUZZY_MAX - (100 - score) * 0.0125, ceiling), 2)
    return [_Candidate(target, confidence, "fuzzy",
                       (f"{said} resembles '{key}' (score {score:.0f}), {what} {target}",))]


def _magnitude_unit(target: str, median: Decimal, binary: bool) -> str:
    """The unit a size column is most plausibly in, from the median of its values:
    servers have 0.5 GB-2 TB of memory and 5 GB-100 TB of disk."""
    limits = ((256, "GB"), (2 * 10**6, "MB"), (2 * 10**9, "KB")) if target == "memory_gb" \
        else ((5000, "GB"), (2 * 10**8, "MB"), (2 * 10**11, "KB"))
    unit = next((u for limit, u in limits if median < limit), "B")
    return unit.replace("B", "iB") if binary and unit != "B" else unit


def _size_unit(c: _Candidate, ev: _Evidence, unit: str | None, binary: bool) -> _Candidate:
    if unit in BYTES_PER_UNIT:
        return c.but(f"unit {unit} taken from the header", unit=unit)
    if unit is not None:
        raise _Veto(f"its unit {unit} is not a size")
    if ev.size_units and len(ev.size_units) * 2 >= ev.count:
        written = Counter(ev.size_units).most_common(1)[0][0]
        return c.but(f"unit {written} taken from the values", unit=written)
    if ev.numeric_share < 0.5:
        if ev.count:
            raise _Veto("its values are not numbers")
        return c.but("no unit given: read as GB", -0.05, unit="GB")
    median = ev.median()
    inferred = _magnitude_unit(c.target, median, binary)
    why = " and the file's binary units" if binary and inferred in BINARY_UNITS else ""
    return c.but(f"unit {inferred} inferred from the values (median {median}){why}", -0.03,
                 unit=inferred)


def _percent_unit(c: _Candidate, ev: _Evidence, unit: str | None) -> _Candidate:
    if unit is not None and unit != "percent":
        raise _Veto(f"its unit {unit} is not a percentage")
    if ev.count and ev.numeric_share < 0.5:
        raise _Veto("its values are not numbers")
    if unit == "percent" or ev.percent_signs:
        source = "header" if unit == "percent" else "values"
        return c.but(f"unit percent taken from the {source}", unit="percent")
    if ev.numbers and ev.decimals and all(0 <= n <= 1 for n in ev.numbers):
        return c.but("values are fractions of 1", unit="fraction")
    above = sum(1 for n in ev.numbers if n > 100)
    if above and above * 2 >= len(ev.numbers):
        raise _Veto(f"{above} of {len(ev.numbers)} sample values are above 100")
    return c.but("values read as percent", unit="percent")


def _redirect_percentages(c: _Candidate, ev: _Evidence, unit: str | None) -> _Candidate:
    if c.target in _TWINS and (unit == "percent" or
                               (ev.percent_signs and ev.percent_signs * 2 >= ev.count)):
        twin = _TWINS[c.target]
        return c.but(f"a percentage, so {twin}", target=twin)
    return c


def _check_values(c: _Candidate, ev: _Evidence) -> _Candidate:
    """Raise `_Veto` when the values contradict the target; adjust the confidence when
    they support or weaken it."""
    target, kind = c.target, FIELDS_BY_NAME[c.target].kind
    if not ev.count:
        return c
    if kind == "ip":
        if not ev.ips:
            raise _Veto("no sample value is an IP address")
        if ev.share(ev.ips) < 0.5:
            return c.but(f"only {ev.ips} of {ev.count} sample values are IP addresses", -0.2)
    elif kind == "mac" and not ev.macs:
        raise _Veto("no sample value is a MAC address")
    elif target in ("fqdn", "hostname") and ev.share(ev.ips) >= 0.8:
        raise _Veto("its sample values are IP addresses")
    elif kind == "integer":
        if ev.numeric_share < 0.5:
            raise _Veto("its values are not numbers")
        if ev.numbers and max(ev.numbers) > 1024:
            raise _Veto(f"values up to {max(ev.numbers)} are too large for a core count")
        fractional = sum(1 for n in ev.numbers if n != n.to_integral_value())
        if fractional * 2 > len(ev.numbers):
            raise _Veto("its values are not whole numbers")
    elif target == "os_name" and ev.numeric_share >= 0.8:
        raise _Veto("its values are numbers, not OS names")
    elif target == "power_state":
        if ev.share(ev.power_states) >= 0.8:
            return c.but("values look like power states", 0.15)
        if not ev.power_states:
            return c.but("no value looks like a power state", -0.15)
    return c


def _weigh(c: _Candidate, ev: _Evidence, unit: str | None, binary: bool,
           series: bool) -> _Candidate:
    """A header candidate checked against the header's unit and the sample values."""
    c = _redirect_percentages(c, ev, unit)
    field_ = FIELDS_BY_NAME[c.target]
    if series and c.target in _AGGREGATES:
        raise _Veto("it is one item of a numbered series, not a total")
    if field_.unit_kind is None and unit is not None:
        raise _Veto(f"its unit {unit} does not fit {c.target}")
    c = _check_values(c, ev)
    if field_.unit_kind in ("memory", "storage"):
        return _size_unit(c, ev, unit, binary)
    if field_.unit_kind == "percent":
        return _percent_unit(c, ev, unit)
    return c


def _value_candidates(ev: _Evidence) -> list[_Candidate]:
    """For a header nothing recognises: what the values alone say."""
    found = []
    for hits, target, base, threshold, what in (
            (ev.ips, "ip_address", 0.6, 0.8, "are IP addresses"),
            (ev.macs, "mac_address", 0.6, 0.8, "are MAC addresses"),
            (ev.fqdns, "fqdn", 0.55, 0.8, "look like fully qualified domain names"),
            (ev.os_names, "os_name", 0.55, 0.6, "name operating systems"),
            (ev.power_states, "power_state", 0.55, 0.8, "look like power states")):
        share = ev.share(hits)
        if hits and share >= threshold:
            found.append(_Candidate(target, round(base + 0.15 * share, 2), "values",
                                    (f"{hits} of {ev.count} sample values {what}",)))
    return found


def _learned_candidate(source: str, learned: LearnedMapping, ev: _Evidence,
                       binary: bool) -> _Candidate:
    c = _Candidate(learned.target, max(learned.confidence, LEARNED_CONFIDENCE), "learned",
                   (f"Learned for this account: '{source}' is {learned.target}",))
    unit_kind = FIELDS_BY_NAME[learned.target].unit_kind
    if unit_kind is None:
        return c
    if learned.unit is not None:
        return c.but(f"unit {learned.unit} as taught", unit=learned.unit)
    try:
        if unit_kind == "percent":
            return _percent_unit(c, ev, None)
        return _size_unit(c, ev, None, binary)
    except _Veto:
        return c


def _analyse(index: int, source: str, ev: _Evidence, learned: LearnedMapping | None,
             binary: bool) -> _Column:
    column = _Column(index, source)
    if learned is not None and learned.target is None:
        column.learned_none = learned
        return column
    if learned is not None and learned.target in FIELDS_BY_NAME:
        column.usable.append(_learned_candidate(source, learned, ev, binary))
        return column
    header_candidates, column.known = _header_candidates(source)
    unit = header_unit(source)
    series = any(w.isdigit() for w in _bare(normalise_header(source)).split())
    weighed = []
    for c in header_candidates:
        try:
            weighed.append(_weigh(c, ev, unit, binary, series))
        except _Veto as veto:
            column.vetoes.append(f"header '{source}' suggests {c.target}, but {veto}")
    if not column.known and not any(c.confidence >= MIN_CONFIDENCE for c in weighed):
        weighed += [c.but(column.vetoes[0]) if column.vetoes else c
                    for c in _value_candidates(ev)]
    weighed.sort(key=lambda c: (-c.confidence, _FIELD_ORDER[c.target]))
    column.usable = [c for c in weighed if c.confidence >= MIN_CONFIDENCE]
    column.unsure = [c for c in weighed if c.confidence < MIN_CONFIDENCE]
    return column


# ---------------------------------------------------------------------------------------
# Resolution: every field from one column at most

_NAME_SOURCES = ("name", "hostname", "fqdn")


def _assign(columns: list[_Column], name_first: bool
            ) -> tuple[dict[int, _Candidate], dict[int, list[tuple[_Candidate, int]]]]:
    """Greedy, strongest first: learned before all, then (when asked) `name`, then by
    confidence, ties to the leftmost column and then the column's own order."""
    pairs = sorted(
        ((column.index, rank, c) for column in columns for rank, c in enumerate(column.usable)),
        key=lambda p: (p[2].method != "learned", not (name_first and p[2].target == "name"),
                       -p[2].confidence, p[0], p[1]))
    chosen: dict[int, _Candidate] = {}
    holder: dict[str, int] = {}
    lost: dict[int, list[tuple[_Candidate, int]]] = defaultdict(list)
    for index, _, c in pairs:
        if index in chosen:
            continue
        if c.target in holder:
            lost[index].append((c, holder[c.target]))
            continue
        chosen[index] = c
        holder[c.target] = index
    return chosen, lost


def _sentence(parts: Iterable[str]) -> str:
    text = "; ".join(p for p in parts if p)
    return text[:1].upper() + text[1:] + "."


def _mapped(column: _Column, c: _Candidate, lost: list[tuple[_Candidate, int]],
            sources: Sequence[str], name_first: bool) -> ColumnMapping:
    notes = [*c.notes, *(f"{other.target} went to column '{sources[winner]}'"
                         for other, winner in lost)]
    if name_first and c.target == "name":
        notes.append("no name, hostname or FQDN column, so it names the assets")
    return ColumnMapping(column.source, c.target, round(c.confidence, 2), c.unit, c.method,
                         _sentence(notes))


def _unmapped(column: _Column, lost: list[tuple[_Candidate, int]],
              sources: Sequence[str]) -> ColumnMapping:
    if column.learned_none is not None:
        confidence = max(column.learned_none.confidence, LEARNED_CONFIDENCE)
        return ColumnMapping(column.source, None, round(confidence, 2), None, "learned",
                             "Left unmapped, as taught for this account.")
    if lost:
        c, winner = lost[0]
        return ColumnMapping(column.source, None, round(c.confidence, 2), None, "unmapped",
                             _sentence([f"also matches {c.target}, but column "
                                        f"'{sources[winner]}' matches it better"]))
    parts: list[str] = []
    confidence = 0.0
    if column.unsure:
        best = column.unsure[0]
        confidence = best.confidence
        why = f" ({'; '.join(best.notes[1:])})" if best.notes[1:] else ""
        parts.append(f"unsure: best guess {best.target} at {best.confidence:.2f}{why}")
    parts += column.vetoes
    if column.known and not parts:
        parts.append(f"'{column.source}' is a known column with no canonical field")
    if not parts:
        parts.append("no canonical field matches this header")
    return ColumnMapping(column.source, None, round(confidence, 2), None, "unmapped",
                         _sentence(parts))


def suggest_field_mappings(columns: list[str], sample_rows: list[Sequence[str | None]],
                           learned: Mapping[str, LearnedMapping] | None = None
                           ) -> list[ColumnMapping]:
    """One `ColumnMapping` per column, in the same order.  `sample_rows` are rows of raw
    cells aligned with `columns` (a few dozen are plenty); `learned` maps
    `normalise_header(source)` to what the account taught before.  Deterministic."""
    learned = learned or {}
    binary = any(header_unit(c) in BINARY_UNITS for c in columns)
    analysed = [_analyse(i, source, _evidence(i, sample_rows),
                         learned.get(normalise_header(source)), binary)
                for i, source in enumerate(columns)]
    name_first = False
    chosen, lost = _assign(analysed, name_first)
    if not any(c.target in _NAME_SOURCES for c in chosen.values()) and any(
            c.target == "name" for column in analysed for c in column.usable):
        # Name is required: with no name, hostname or FQDN column, a column that can name
        # the asset (an application name in an application inventory) gets it first.
        name_first = True
        chosen, lost = _assign(analysed, name_first)
    return [_mapped(column, chosen[column.index], lost.get(column.index, []), columns,
                    name_first)
            if column.index in chosen else _unmapped(column, lost.get(column.index, []), columns)
            for column in analysed]
