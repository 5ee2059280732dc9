"""Cleansing discovered records (the `data_cleansing` phase; no database, no Flask).

Input: records as `validation.RowValidator.check` builds them (canonical fields from
`fields.FIELD_NAMES` with coerced values) plus `"_row"` (the source row number) and
`"_extra"` (unmapped source columns -> raw text), which are carried through untouched.
Output (`cleanse`): one record per real asset, in one vocabulary, plus the numbers that tell
how good the data was.

Vocabularies (values outside them are kept, lower-cased, so nothing is silently lost,
except asset types, which fall back to "other"):

- environment: production, staging, test, development, dr.  "PROD", "prd", "Live",
  "Production" -> production; "pre-prod", "stage", "stg" -> staging; "test", "tst", "QA",
  "UAT", "SIT", "acceptance" -> test (user acceptance is testing, whoever does it);
  "dev", "development", "sandbox" -> development; "DR", "disaster recovery", "BCP" -> dr
  (a "Prod DR" copy is dr: the DR word wins).  "Non-Prod" says what it is not: kept.
- asset_type: server, database, application, network, storage, other.  The most specific
  word wins: "Database Server" -> database, "Application Server" -> server (a machine),
  "Business Application" -> application.
- business_criticality: critical, high, medium, low.  Leading digits 1-4 (ServiceNow's
  "1 - most critical" ... "4 - not critical") and tiers ("Tier 0/1" -> critical,
  "Tier 2" -> high, "Tier 3" -> medium, "Tier 4" -> low), words ("mission critical",
  "moderate", "normal"...) and service levels (platinum, gold, silver, bronze).
- power_state: on, off, suspended ("poweredOn", "running", "true" -> on; "poweredOff",
  "stopped", "deallocated" -> off; "suspended", "paused" -> suspended).
- OS: `normalise_os` splits a family name and a version (see its docstring); the family
  names are the `product` names of the end-of-life table in `tech_debt`.
- booleans: no canonical field is boolean; "yes/no/true/false/1/0" in `power_state` read
  as on/off, and `parse_boolean` serves the inventory phase for boolean `_extra` columns
  (which cleansing itself leaves untouched).

Text fields get their whitespace collapsed; hostnames and FQDNs are lower-cased (DNS is
case-insensitive), lose a trailing dot, and a hostname written as an FQDN fills an empty
`fqdn` and keeps only its first label.  A record with no `name` gets `fields.derive_name`.

De-duplication: records sharing an external_id, a host (hostname, or an FQDN's first
label), an FQDN, an IP address or a normalised name are one asset.  A union-find joins
chains (A~B by IP, B~C by hostname).  Placeholder identities (loopback, unspecified and
link-local addresses, "localhost") join nothing.  The first record of a group is kept;
later non-empty values fill its gaps, different values keep the first and are listed as
conflicts; `depends_on` and `tags` are unioned; `_rows` lists every merged source row.
"""
from __future__ import annotations

import gc
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from portal.discovery import fields

ENVIRONMENTS = ("production", "staging", "test", "development", "dr")
ASSET_TYPES = ("server", "database", "application", "network", "storage", "other")
CRITICALITIES = ("critical", "high", "medium", "low")
POWER_STATES = ("on", "off", "suspended")

# Key fields and their weights in the quality score: identity, what the OS is (tech debt),
# which application it serves (move groups, 6R) count double.
KEY_FIELD_WEIGHTS: dict[str, int] = {
    "name": 2, "ip_address": 1, "os_name": 2, "os_version": 2, "cpu_cores": 1,
    "memory_gb": 1, "storage_gb": 1, "environment": 1, "application": 2,
    "business_criticality": 1,
}
DUPLICATE_PENALTY = 50   # score points lost when every record was a duplicate
INVALID_PENALTY = 50     # score points lost when every row had an invalid value
CONFLICTS_KEPT = 1_000   # conflicts listed in full; all of them are counted
MEMO_MAX_ENTRIES = 50_000


@dataclass
class CleansingResult:
    """What `cleanse` returns; `records` are new dicts in first-seen order (a merged one
    also carries `_rows`, every source row it came from)."""
    records: list[dict]
    duplicates_merged: int
    merges: list[dict]            # [{"kept_row", "merged_rows", "by"}]
    quality: dict
    conflicts: list[dict] = field(default_factory=list)  # first CONFLICTS_KEPT of them


# ---------------------------------------------------------------------------------------
# Small vocabulary helpers

_WHITESPACE = re.compile(r"\s+")
_WORDS = re.compile(r"[a-z]+")
_NOT_LETTERS = re.compile(r"[^a-z]+")


def collapse_whitespace(text: str) -> str:
    """`"  Web   01 "` -> `"Web 01"`."""
    return _WHITESPACE.sub(" ", text).strip()


def _compact(text: str) -> str:
    return _NOT_LETTERS.sub("", text.casefold())


_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on", "enabled", "active"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off", "disabled", "inactive"})


def parse_boolean(value: object) -> bool | None:
    """`"Yes"`, `"TRUE"`, `"1"`, `"on"` -> True; `"No"`, `"false"`, `"0"`, `"off"` ->
    False; anything else (including blanks) -> None.  For the boolean columns inventories
    carry in `_extra` ("virtual", "Template"), which the inventory phase may read."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().casefold()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    return None


def _first_match(words: Iterable[str], table: Mapping[str, str]) -> str | None:
    for word in words:
        found = table.get(word)
        if found is not None:
            return found
    return None


def _invert(groups: Mapping[str, Iterable[str]]) -> dict[str, str]:
    return {word: canonical for canonical, words in groups.items() for word in words}


# ---------------------------------------------------------------------------------------
# Environment

_ENVIRONMENT_WORDS = _invert({
    "production": ("prod", "prd", "production", "live", "prodn", "prods"),
    "staging": ("staging", "stage", "stg", "preprod", "preproduction", "pprd", "pprod"),
    "test": ("test", "tst", "testing", "qa", "qas", "uat", "sit", "acceptance", "acc",
             "tests", "quality"),
    "development": ("dev", "development", "devel", "develop", "sandbox", "sbx"),
    "dr": ("dr", "bcp", "drp", "disaster"),
})
_ENVIRONMENT_PHRASES = {  # letters only, as `_compact` makes them
    "preprod": "staging", "preproduction": "staging", "disasterrecovery": "dr",
    "useracceptance": "test", "useracceptancetest": "test", "useracceptancetesting": "test",
    "qualityassurance": "test",
}
_NEGATIONS = frozenset({"non", "not"})


def normalise_environment(value: str) -> str:
    """One of `ENVIRONMENTS`, or the value lower-cased when it names none of them."""
    compact = _compact(value)
    phrase = _ENVIRONMENT_PHRASES.get(compact)
    if phrase:
        return phrase
    words = _WORDS.findall(value.casefold())
    if words and words[0] not in _NEGATIONS:
        if any(_ENVIRONMENT_WORDS.get(word) == "dr" for word in words):
            return "dr"
        found = _first_match(words, _ENVIRONMENT_WORDS)
        if found:
            return found
    return collapse_whitespace(value).casefold()


# ---------------------------------------------------------------------------------------
# Asset type

_ASSET_TYPE_WORDS: tuple[tuple[str, frozenset[str]], ...] = (  # most specific first
    ("database", frozenset({"database", "databases", "db", "dbms", "rdbms", "sql", "mssql",
                            "mysql", "postgres", "postgresql", "mongodb", "dbinstance"})),
    ("storage", frozenset({"storage", "san", "nas", "array", "netapp", "filer", "disk",
                           "volume"})),
    ("network", frozenset({"network", "switch", "router", "firewall", "loadbalancer",
                           "balancer", "lb", "gateway", "vpn", "wan", "lan", "f5"})),
    ("server", frozenset({"server", "servers", "vm", "vms", "virtual", "machine", "host",
                          "physical", "esx", "esxi", "hypervisor", "instance", "ec2",
                          "computer", "node", "baremetal", "mainframe", "lpar"})),
    ("application", frozenset({"application", "applications", "app", "apps", "service",
                               "software", "webapp", "saas", "business"})),
)


def normalise_asset_type(value: str) -> str:
    """One of `ASSET_TYPES`; "other" when no word of the value names one."""
    words = set(_WORDS.findall(value.casefold()))
    for canonical, vocabulary in _ASSET_TYPE_WORDS:
        if words & vocabulary:
            return canonical
    return "other"


# ---------------------------------------------------------------------------------------
# Business criticality

_CRITICALITY_BY_RANK = {0: "critical", 1: "critical", 2: "high", 3: "medium", 4: "low",
                        5: "low"}
_CRITICALITY_PHRASES: tuple[tuple[str, str], ...] = (  # checked in order, on letters only
    ("notcritical", "low"), ("noncritical", "low"), ("somewhatcritical", "high"),
    ("lesscritical", "medium"), ("missioncritical", "critical"),
    ("businesscritical", "critical"), ("veryhigh", "critical"), ("verylow", "low"),
)
_CRITICALITY_WORDS = _invert({
    "critical": ("critical", "highest", "platinum", "crit", "vital"),
    "high": ("high", "gold", "important", "major"),
    "medium": ("medium", "moderate", "med", "normal", "silver", "average", "mid"),
    "low": ("low", "bronze", "minor", "lowest", "minimal"),
})
_RANK = re.compile(r"^\s*(?:tier|t|p|level|sev)?\s*[-_ ]?\s*(\d)\b", re.IGNORECASE)


def normalise_criticality(value: str) -> str:
    """One of `CRITICALITIES`, or the value lower-cased when it names none of them."""
    rank = _RANK.match(value)
    if rank and int(rank.group(1)) in _CRITICALITY_BY_RANK:
        return _CRITICALITY_BY_RANK[int(rank.group(1))]
    compact = _compact(value)
    for phrase, canonical in _CRITICALITY_PHRASES:
        if phrase in compact:
            return canonical
    found = _first_match(_WORDS.findall(value.casefold()), _CRITICALITY_WORDS)
    return found or collapse_whitespace(value).casefold()


# ---------------------------------------------------------------------------------------
# Power state

_POWER_WORDS = _invert({
    "on": ("poweredon", "on", "running", "started", "up", "active", "online", "poweron",
           "true", "yes", "run"),
    "off": ("poweredoff", "off", "stopped", "down", "deallocated", "terminated",
            "shutdown", "halted", "false", "no", "offline", "poweroff", "stopping",
            "notrunning"),
    "suspended": ("suspended", "paused", "hibernated", "saved", "suspend"),
})


def normalise_power_state(value: str) -> str:
    """One of `POWER_STATES`, or the value lower-cased when it names none of them."""
    return _POWER_WORDS.get(_compact(value)) or collapse_whitespace(value).casefold()


# ---------------------------------------------------------------------------------------
# Operating systems

_NOISE = re.compile(
    r"\((?:32|64)[- ]?bit\)|\b(?:32|64)[- ]?bit\b|\bx86[_-]64\b|\bx64\b|\bamd64\b|"
    r"\baarch64\b|\(x86\)|\u00ae|\(r\)|\(tm\)|\u2122", re.IGNORECASE)
# VMware's guest labels "CentOS 4/5/6/7" and "Windows Server 2016 or later" name no version.
_AMBIGUOUS_VERSIONS = re.compile(r"\d+(?:\.x)?\s*/\s*\d+|\bor\s+later\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)")
_MAJOR = re.compile(r"(?<![\d.])(\d+)")
_WINDOWS_YEAR = re.compile(
    r"(?<!\d)(2000|2003|2008|2012|2016|2019|2022|2025)\s*(r2)?(?![\da-z])")
_WINDOWS_2K = re.compile(r"\b(?:w|win)?2k(3|8|12|16|19|22|25)\s*(r2)?", re.IGNORECASE)
_WINDOWS_BUILD = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?:\.(\d+))?")
_WINDOWS_SERVER_BUILDS = {
    "5.0": "2000", "5.2": "2003", "6.0": "2008", "6.1": "2008 R2", "6.2": "2012",
    "6.3": "2012 R2", "10.0.14393": "2016", "10.0.17763": "2019", "10.0.20348": "2022",
    "10.0.26100": "2025",
}
_WINDOWS_CLIENT = re.compile(r"\b(xp|vista|7|8\.1|8|10|11)\b")
_WINDOWS_CLIENT_BUILDS = {"5.1": "XP", "6.0": "Vista", "6.1": "7", "6.2": "8", "6.3": "8.1"}
_SLES_VERSION = re.compile(r"(?<![\d.])(\d+)(?:[\s._-]*sp\s*(\d+)|\.(\d+))?")
_AIX_OSLEVEL = re.compile(r"\b(\d)(\d)00-\d\d")
_HPUX_VERSION = re.compile(r"11i\s*v(?:ersion)?\s*(\d)|(?:b\.)?11\.(11|23|31)")
_HPUX_NAMES = {"11": "11i v1", "23": "11i v2", "31": "11i v3",
               "1": "11i v1", "2": "11i v2", "3": "11i v3"}
_ZOS_VERSION = re.compile(r"v\s*(\d+)\s*r\s*(\d+)|(?<![\d.])(\d+)\.(\d+)")
_UBUNTU_VERSION = re.compile(r"(?<![\d.])(\d{1,2}\.\d{2})")


def _major_minor(text: str) -> str | None:
    if _AMBIGUOUS_VERSIONS.search(text):
        return None
    match = _NUMBER.search(text)
    return match.group(1) if match else None


def _major(text: str) -> str | None:
    if _AMBIGUOUS_VERSIONS.search(text):
        return None
    match = _MAJOR.search(text)
    return match.group(1) if match else None


def _windows_server_version(text: str) -> str | None:
    if _AMBIGUOUS_VERSIONS.search(text):
        return None
    year = _WINDOWS_YEAR.search(text)
    if year:
        return year.group(1) + (" R2" if year.group(2) else "")
    short = _WINDOWS_2K.search(text)
    if short:
        return f"20{int(short.group(1)):02d}" + (" R2" if short.group(2) else "")
    build = _WINDOWS_BUILD.search(text)
    if build:
        major_minor = f"{build.group(1)}.{build.group(2)}"
        full = f"{major_minor}.{build.group(3)}" if build.group(3) else major_minor
        return _WINDOWS_SERVER_BUILDS.get(full) or _WINDOWS_SERVER_BUILDS.get(major_minor)
    return None


def _windows_client_version(text: str) -> str | None:
    build = _WINDOWS_BUILD.search(text)
    if build and build.group(3):
        major_minor = f"{build.group(1)}.{build.group(2)}"
        if major_minor == "10.0":
            return "11" if int(build.group(3)) >= 22000 else "10"
        return _WINDOWS_CLIENT_BUILDS.get(major_minor)
    match = _WINDOWS_CLIENT.search(text)
    if not match:
        return None
    return match.group(1).upper() if match.group(1).isalpha() else match.group(1)


def _sles_version(text: str) -> str | None:
    match = _SLES_VERSION.search(text)
    if not match:
        return None
    pack = match.group(2) or match.group(3)
    return f"{match.group(1)} SP{int(pack)}" if pack and pack != "0" else match.group(1)


def _ubuntu_version(text: str) -> str | None:
    match = _UBUNTU_VERSION.search(text)
    return match.group(1) if match else _major(text)


def _aix_version(text: str) -> str | None:
    oslevel = _AIX_OSLEVEL.search(text)
    if oslevel:
        return f"{oslevel.group(1)}.{oslevel.group(2)}"
    return _major_minor(text)


def _solaris_version(text: str) -> str | None:
    version = _major_minor(text)
    if version and version.startswith("5."):
        return version[2:]  # SunOS 5.10 is Solaris 10; no Solaris was ever numbered 5.x
    return version


def _hpux_version(text: str) -> str | None:
    match = _HPUX_VERSION.search(text)
    if not match:
        return None
    return _HPUX_NAMES[match.group(1) or match.group(2)]


def _zos_version(text: str) -> str | None:
    match = _ZOS_VERSION.search(text)
    if not match:
        return None
    if match.group(1):
        return f"{match.group(1)}.{match.group(2)}"
    return f"{match.group(3)}.{match.group(4)}"


@dataclass(frozen=True)
class _OsFamily:
    name: str
    pattern: re.Pattern[str]
    version: Callable[[str], str | None]


def _family(name: str, pattern: str, version: Callable[[str], str | None]) -> _OsFamily:
    return _OsFamily(name, re.compile(pattern), version)


# Checked in order on the lower-cased text: the more specific name comes first.
OS_FAMILIES: tuple[_OsFamily, ...] = (
    _family("Windows Server",
            r"\bwin(?:dows)?\b.*(?:server|20[0-2]\d)|\b(?:w|win)?2k(?:3|8|12|16|19|22|25)\b"
            r"|\bwindows\s*nt\b", _windows_server_version),
    _family("Windows", r"\bwindows\b", _windows_client_version),
    _family("Red Hat Enterprise Linux", r"red\s*hat|\brhel", _major_minor),
    _family("CentOS Stream", r"centos\s*stream", _major),
    _family("CentOS", r"\bcentos", _major_minor),
    _family("Oracle Linux",
            r"oracle\s*(?:enterprise\s*)?linux|\boel\d*\b|\bol\d+\b", _major_minor),
    _family("Rocky Linux", r"\brocky", _major_minor),
    _family("AlmaLinux", r"\balma\s*linux|\balmalinux", _major_minor),
    _family("Amazon Linux", r"amazon\s*linux", _major_minor),
    _family("Ubuntu", r"\bubuntu", _ubuntu_version),
    _family("Debian", r"\bdebian", _major_minor),
    _family("SUSE Linux Enterprise Server",
            r"\bsles|\bsuse\b", _sles_version),
    _family("AIX", r"\baix\b", _aix_version),
    _family("Solaris", r"\bsolaris|\bsunos", _solaris_version),
    _family("HP-UX", r"\bhp[-/ ]?ux", _hpux_version),
    _family("z/OS", r"\bz/?os\b", _zos_version),
)


def _clean_os_text(text: str) -> str:
    return collapse_whitespace(_NOISE.sub(" ", text))


def os_family(text: str) -> _OsFamily | None:
    """The `OS_FAMILIES` entry whose pattern names the OS in `text`, or None."""
    lowered = text.casefold()
    for family in OS_FAMILIES:
        if family.pattern.search(lowered):
            return family
    return None


def _more_precise(from_name: str | None, from_field: str | None) -> str | None:
    """The name's version unless the separate field refines it ("8" and "8.6" -> "8.6")."""
    if from_name and from_field:
        refines = from_field == from_name or from_field.startswith((from_name + ".",
                                                                   from_name + " "))
        return from_field if refines else from_name
    return from_name or from_field


def normalise_os(os_name: str | None, os_version: str | None) -> tuple[str | None, str | None]:
    """`(family name, version)` from an OS name and an optional separate version.

    Known families (`OS_FAMILIES`) get their canonical name and a version in the form the
    end-of-life table uses: "Microsoft Windows Server 2019 Datacenter" + "10.0.17763" ->
    ("Windows Server", "2019"); "Red Hat Enterprise Linux 8 (64-bit)" + "8.6" ->
    ("Red Hat Enterprise Linux", "8.6"); "Ubuntu 22.04.3 LTS" -> ("Ubuntu", "22.04");
    "SLES 15 SP4" or SLES "15.4" -> ("SUSE Linux Enterprise Server", "15 SP4");
    "SunOS 5.10" -> ("Solaris", "10"); "HP-UX B.11.31" -> ("HP-UX", "11i v3").
    Unknown OSes keep their name without bitness noise and their version as written.
    A name that lists versions ("CentOS 4/5/6/7") gives no version.  Idempotent.
    """
    name_text = _clean_os_text(os_name) if os_name else ""
    version_text = _clean_os_text(os_version) if os_version else ""
    family = os_family(name_text) if name_text else None
    if family is None and not name_text and version_text:
        family = os_family(version_text)  # the whole OS written in the version column
    if family is None:
        return name_text or None, version_text or None
    from_name = family.version(name_text.casefold()) if name_text else None
    from_field = family.version(version_text.casefold()) if version_text else None
    version = _more_precise(from_name, from_field)
    if version is None and version_text and not _AMBIGUOUS_VERSIONS.search(name_text):
        version = version_text  # unparsed, but not ours to drop
    return family.name, version


# ---------------------------------------------------------------------------------------
# One record


class Normaliser:
    """Normalises records one at a time, remembering outcomes per distinct value (exports
    repeat the same environments and OS strings endlessly)."""

    ENUMS: dict[str, Callable[[str], str]] = {
        "environment": normalise_environment,
        "asset_type": normalise_asset_type,
        "business_criticality": normalise_criticality,
        "power_state": normalise_power_state,
    }
    TEXT = frozenset({"name", "application", "owner", "location", "manufacturer", "model",
                      "serial_number", "hypervisor", "external_id"})
    LISTS = frozenset({"depends_on", "tags"})

    def __init__(self) -> None:
        self.memo: dict[str, dict] = {name: {} for name in (*self.ENUMS, "os")}

    def _enum(self, key: str, value):
        memo = self.memo[key]
        found = memo.get(value)
        if found is None:
            found = self.ENUMS[key](value) if isinstance(value, str) else value
            if len(memo) < MEMO_MAX_ENTRIES:
                memo[value] = found
        return found

    def record(self, source: Mapping) -> dict:
        """A new dict with every canonical value normalised and empty values dropped."""
        out = dict(source)
        if not all(out.values()):  # one C pass; zeros come here too, and stay
            out = {key: value for key, value in out.items()
                   if value is not None and value != "" and value != []}
        keys = out.keys()
        for key in keys & self.TEXT:
            out[key] = _text(out[key])
        for key in keys & self.ENUMS.keys():
            out[key] = self._enum(key, out[key])
        for key in keys & self.LISTS:
            items = _distinct_items(out[key])
            if items:
                out[key] = items
            else:
                del out[key]
        description = out.get("description")
        if isinstance(description, str):
            out["description"] = description.strip()
        if "os_name" in out or "os_version" in out:
            self._os(out)
        if "hostname" in out or "fqdn" in out:
            _hosts(out)
        if "name" not in out or not out["name"]:
            out.pop("name", None)
            name = fields.derive_name(out)
            if name:
                out["name"] = name
        return out

    def _os(self, out: dict) -> None:
        raw = (out.get("os_name"), out.get("os_version"))
        memo = self.memo["os"]
        found = memo.get(raw)
        if found is None:
            found = normalise_os(*raw)
            if len(memo) < MEMO_MAX_ENTRIES:
                memo[raw] = found
        for key, value in zip(("os_name", "os_version"), found, strict=True):
            if value:
                out[key] = value
            else:
                out.pop(key, None)


def _untidy(text: str) -> bool:
    """Whether `text` has whitespace to collapse (tabs and newlines are not printable)."""
    return "  " in text or not text.isprintable() or text[:1] == " " or text[-1:] == " "


def _text(value):
    if type(value) is str and _untidy(value):
        return collapse_whitespace(value)
    return value


def _distinct_items(value) -> list | None:
    if type(value) is list and len(value) == 1:  # the common case: one clean item
        item = value[0]
        if type(item) is str and item and not _untidy(item):
            return value
    items = value if isinstance(value, (list, tuple)) else [value]
    seen: dict[str, str] = {}
    for item in items:
        text = collapse_whitespace(str(item))
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values()) or None


def _hosts(out: dict) -> None:
    """Lower-case host names; an FQDN in the hostname column fills `fqdn`."""
    fqdn = out.get("fqdn")
    if isinstance(fqdn, str):
        fqdn = fqdn.strip().rstrip(".").casefold()
        if fqdn:
            out["fqdn"] = fqdn
        else:
            del out["fqdn"]
    hostname = out.get("hostname")
    if not isinstance(hostname, str):
        return
    hostname = hostname.strip().rstrip(".").casefold()
    if not hostname:
        del out["hostname"]
        return
    if "." in hostname and _ip_in_name(hostname) is None:
        out.setdefault("fqdn", hostname)
        hostname = hostname.split(".", 1)[0]
    out["hostname"] = hostname


# ---------------------------------------------------------------------------------------
# Identities and the union-find

IDENTITY_KINDS = ("external_id", "hostname", "fqdn", "ip_address", "name")
_PLACEHOLDER_HOSTS = frozenset({"localhost", "localhost.localdomain", "unknown", "none"})


def _usable_ip(address: str) -> bool:
    """False for addresses many unrelated machines report: loopback, unspecified,
    link-local (APIPA)."""
    return not (address.startswith(("127.", "169.254.", "0.")) or address in ("::1", "::")
                or address.casefold().startswith("fe80:"))


def _ip_in_name(value: str) -> str | None:
    """The address when a host column holds one (names rarely start with a digit)."""
    if value[0].isdigit() or ":" in value:
        return fields.parse_ip(value)
    return None


def _host_identities(value, kind: str, found: list[tuple[str, str]]) -> None:
    if not isinstance(value, str) or value in _PLACEHOLDER_HOSTS:
        return
    address = _ip_in_name(value)
    if address is not None:
        if _usable_ip(address):
            found.append(("ip_address", address))
        return
    if kind == "fqdn":
        found.append(("fqdn", value))
        value = value.split(".", 1)[0]
        if found[-2:-1] == [("hostname", value)]:
            return  # the record's hostname already says so
    found.append(("hostname", value))


def identities(record: Mapping) -> list[tuple[str, str]]:
    """(kind, key) pairs that identify the record; kinds name the field that matched.
    Host names are already lower-case (`_hosts`)."""
    found: list[tuple[str, str]] = []
    external_id = record.get("external_id")
    if isinstance(external_id, str):
        found.append(("external_id", external_id.casefold()))
    hostname, fqdn = record.get("hostname"), record.get("fqdn")
    if hostname is not None:
        _host_identities(hostname, "hostname", found)
    if fqdn is not None and fqdn != hostname:
        _host_identities(fqdn, "fqdn", found)
    address = record.get("ip_address")
    if isinstance(address, str) and _usable_ip(address):
        found.append(("ip_address", address.casefold()))
    name = record.get("name")
    if isinstance(name, str):
        found.append(("name", fields.normalise_name(name)))
    return found


class _UnionFind:
    """Disjoint sets over record positions; a set's root is its first-seen member."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.links: list[tuple[int, str]] = []   # (record, kind that joined it)
        self.touched: set[int] = set()

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int, kind: str) -> None:
        self.links.append((a, kind))
        self.touched.update((a, b))
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def _group(records: list[dict]) -> _UnionFind:
    """Join records that share any identity.  One dict per kind of identity keeps the keys
    plain strings (this loop runs once per record of million-row files)."""
    sets = _UnionFind()
    first_with: dict[str, dict[str, int]] = {kind: {} for kind in IDENTITY_KINDS}
    for position, record in enumerate(records):
        sets.parent.append(position)
        for kind, key in identities(record):
            seen = first_with[kind].setdefault(key, position)
            if seen != position:
                sets.union(position, seen, kind)
    return sets


# ---------------------------------------------------------------------------------------
# Merging


def _same(a, b) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return fields.normalise_name(a) == fields.normalise_name(b)
    return False


def merge_group(group: list[dict], conflicts: list[dict]) -> dict:
    """The group's first record with gaps filled from the later ones, in order."""
    kept = dict(group[0])
    extra = dict(kept.get("_extra") or {})
    for later in group[1:]:
        for key, value in later.items():
            if key in ("_row", "_extra"):
                continue
            if key in Normaliser.LISTS:
                kept[key] = _distinct_items([*kept.get(key, ()), *value])
            elif key not in kept:
                kept[key] = value
            elif not _same(kept[key], value):
                conflicts.append({"row": kept.get("_row"), "merged_row": later.get("_row"),
                                  "field": key, "kept": kept[key], "dropped": value})
        for column, raw in (later.get("_extra") or {}).items():
            if extra.get(column) in (None, ""):
                extra[column] = raw
    if extra or "_extra" in kept:
        kept["_extra"] = extra
    kept["_rows"] = [member.get("_row") for member in group]
    return kept


def _merge_groups(records: list[dict], sets: _UnionFind) -> tuple[list[dict], list[dict],
                                                                  list[dict], int]:
    members: dict[int, list[int]] = {}
    for position in sorted(sets.touched):
        members.setdefault(sets.find(position), []).append(position)
    joined_by: dict[int, set[str]] = {}
    for position, kind in sets.links:
        joined_by.setdefault(sets.find(position), set()).add(kind)
    merged: list[dict] = []
    merges: list[dict] = []
    conflicts: list[dict] = []
    for position, record in enumerate(records):
        group = members.get(position)
        if group is None:
            if position not in sets.touched:
                merged.append(record)
            continue
        kept = merge_group([records[i] for i in group], conflicts)
        merged.append(kept)
        merges.append({"kept_row": record.get("_row"), "merged_rows": kept["_rows"][1:],
                       "by": sorted(joined_by.get(position, ()))})
    return merged, merges, conflicts[:CONFLICTS_KEPT], len(conflicts)


# ---------------------------------------------------------------------------------------
# Quality


def keys_with_values(record: Mapping) -> tuple[str, ...]:
    if all(record.values()):
        return tuple(record)
    return tuple(key for key, value in record.items()
                 if value is not None and value != "" and value != [])


def data_quality_metrics(records: list[dict], *, records_in: int, duplicates_merged: int = 0,
                         conflicts: int = 0, invalid_counts: Mapping[str, int] | None = None,
                         rows_total: int | None = None) -> dict:
    """Completeness per canonical field, duplicates, invalid values and a 0..100 score.

    score = 100 x key-field completeness (weighted by `KEY_FIELD_WEIGHTS`)
            - DUPLICATE_PENALTY x duplicates_merged / records_in
            - INVALID_PENALTY x min(1, invalid values / rows_total),
    clamped to 0..100 and rounded to one decimal.  `rows_total` (source rows including those
    validation rejected) defaults to `records_in`.
    """
    # Records of one import share a handful of key sets: count those, then their keys.
    return quality_of_key_sets(Counter(map(keys_with_values, records)), records_in=records_in,
                               duplicates_merged=duplicates_merged, conflicts=conflicts,
                               invalid_counts=invalid_counts, rows_total=rows_total)


def quality_of_key_sets(key_sets: Mapping[tuple[str, ...], int], *, records_in: int,
                        duplicates_merged: int = 0, conflicts: int = 0,
                        invalid_counts: Mapping[str, int] | None = None,
                        rows_total: int | None = None) -> dict:
    """`data_quality_metrics` from how many records have each set of filled fields
    (`keys_with_values`), for callers that stream the records instead of keeping them."""
    present: Counter[str] = Counter()
    count = 0
    for keys, times in key_sets.items():
        count += times
        for key in keys:
            present[key] += times
    completeness = {name: round(present[name] / count, 4) if count else 0.0
                    for name in fields.FIELD_NAMES}
    weights = sum(KEY_FIELD_WEIGHTS.values())
    key_completeness = sum(weight * (present[name] / count if count else 0.0)
                           for name, weight in KEY_FIELD_WEIGHTS.items()) / weights
    invalid = {name: int(n) for name, n in (invalid_counts or {}).items() if n}
    invalid_total = sum(invalid.values())
    rows = rows_total if rows_total is not None else records_in
    duplicate_rate = duplicates_merged / records_in if records_in else 0.0
    invalid_rate = min(1.0, invalid_total / rows) if rows else 0.0
    score = (100 * key_completeness - DUPLICATE_PENALTY * duplicate_rate
             - INVALID_PENALTY * invalid_rate)
    return {
        "records_in": records_in, "records_out": count,
        "duplicates_merged": duplicates_merged, "duplicate_rate": round(duplicate_rate, 4),
        "conflicts": conflicts,
        "completeness": completeness,
        "key_field_completeness": round(key_completeness, 4),
        "invalid_values": invalid, "invalid_total": invalid_total,
        "invalid_rate": round(invalid_rate, 4),
        "score": round(min(100.0, max(0.0, score)), 1),
    }


# ---------------------------------------------------------------------------------------
# The phase's engine


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of dicts: they hold no
    cycles, and each automatic collection would walk all of them again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cleanse(records: Iterable[Mapping], invalid_counts: Mapping[str, int] | None = None,
            rows_total: int | None = None) -> CleansingResult:
    """Normalise every record, merge duplicates and measure the data's quality.

    `records` is consumed once (a generator keeps memory to the output); input dicts are not
    modified.  `invalid_counts` (field -> invalid cells, from validation) and `rows_total`
    feed the quality score (see `data_quality_metrics`).
    """
    normaliser = Normaliser()
    with collector_paused():
        normalised = [normaliser.record(record) for record in records]
        sets = _group(normalised)
        merged, merges, conflicts, conflict_count = _merge_groups(normalised, sets)
    duplicates = len(normalised) - len(merged)
    quality = data_quality_metrics(merged, records_in=len(normalised),
                                   duplicates_merged=duplicates, conflicts=conflict_count,
                                   invalid_counts=invalid_counts, rows_total=rows_total)
    return CleansingResult(merged, duplicates, merges, quality, conflicts)
