"""Technical debt from end-of-life dates (the `tech_debt` phase; no database, no Flask).

The table `data/end_of_life.csv` ships with the portal: one row per product version with
its release date, `end_of_support` (end of the vendor's standard support: Microsoft
mainstream, Red Hat maintenance, Ubuntu standard security maintenance, Oracle Premier...)
and `end_of_life` (end of the last support phase the vendor sells: Microsoft extended,
Red Hat ELS, Ubuntu ESM, Oracle Extended...), the vendor page it comes from and when it was
checked; `note` says what each phase means for that vendor and marks uncertain dates.

`assess_tech_debt` matches each asset's OS (as `cleansing.normalise_os` names it) and,
when the record carries them (top level or `_extra`: columns such as "Database",
"DB Version", "Runtime", "Java Version"), its database and runtime against the table:

- unsupported: today is past `end_of_life`;
- soon_unsupported: `end_of_life` falls within the next 12 months;
- extended_support_only: past `end_of_support` (security fixes only, often paid);
- supported: none of the above (also when the vendor has announced no end);
- unknown: nothing matched; the reasons say why.

Score per component, 0..100 (higher is worse; the asset takes its worst component):
unsupported 90 + 2 per year past end of life (max 100); soon_unsupported 60..89 rising as
the end nears; extended_support_only 40 + 4 per year past end of support (max 59);
supported 3 per year since release, +10 when standard support ends within 12 months
(max 39); unknown has no score (None).

Versions match tolerantly: case and spaces do not matter ("2012R2" is "2012 R2"), extra
precision is dropped step by step ("8.6" -> "8", "22.04.3" -> "22.04", "15 SP4" -> "15"),
and a bare major matching several rows ("Solaris 11" -> 11.3 and 11.4) takes the one that
ends first, saying so.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from portal.discovery import fields
from portal.discovery.cleansing import collector_paused, normalise_os

EOL_TABLE_PATH = Path(__file__).with_name("data") / "end_of_life.csv"
STATUSES = ("unsupported", "soon_unsupported", "extended_support_only", "supported",
            "unknown")
_SEVERITY = {status: rank for rank, status in enumerate(reversed(STATUSES))}
SOON_MONTHS = 12
WORST_PRODUCTS_LISTED = 10


# ---------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class EolEntry:
    """One row of the end-of-life table."""
    product: str
    version: str
    release_date: date | None
    end_of_support: date | None
    end_of_life: date | None
    source: str
    source_url: str
    checked_on: date | None
    note: str


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text and text.strip() else None


def version_key(version: str) -> str:
    """The comparable form of a version: "2012 R2" and "2012r2" -> "2012r2",
    "15 SP4" -> "15sp4", "v18.17" -> "18.17"."""
    key = re.sub(r"\s+", "", version.casefold())
    return key[1:] if key[:1] == "v" and key[1:2].isdigit() else key


_LAST_PART = re.compile(r"^(.+?)(?:\.[^.]*|sp\d+)$")


def _less_precise(key: str) -> str | None:
    """The key without its last component ("22.04.3" -> "22.04", "15sp4" -> "15")."""
    match = _LAST_PART.match(key)
    return match.group(1) if match else None


class EolTable:
    """The end-of-life rows by product, with tolerant version matching."""

    def __init__(self, entries: Iterable[EolEntry]) -> None:
        self.entries = list(entries)
        self._rows: dict[str, dict[str, EolEntry]] = {}
        for entry in self.entries:
            by_version = self._rows.setdefault(entry.product.casefold(), {})
            by_version[version_key(entry.version)] = entry

    def products(self) -> list[str]:
        return sorted({entry.product for entry in self.entries})

    def match(self, product: str, version: str | None) -> tuple[EolEntry | None, str]:
        """(row, how it matched) or (None, why not)."""
        rows = self._rows.get(product.casefold())
        if rows is None:
            return None, f"no end-of-life entry for {product}"
        if not version:
            return None, f"{product}: version not recorded"
        key: str | None = version_key(version)
        while key:
            if key in rows:
                return rows[key], "exact" if key == version_key(version) else "by major version"
            key = _less_precise(key)
        return self._by_major(product, version, rows)

    @staticmethod
    def _by_major(product: str, version: str,
                  rows: Mapping[str, EolEntry]) -> tuple[EolEntry | None, str]:
        major = version_key(version)
        candidates = [entry for key, entry in rows.items() if key.startswith(major + ".")]
        if not candidates:
            return None, f"no end-of-life entry for {product} {version}"
        earliest = min(candidates, key=lambda e: (e.end_of_life or date.max, e.version))
        if len(candidates) == 1:
            return earliest, "by major version"
        others = ", ".join(sorted(e.version for e in candidates))
        return earliest, f"version ambiguous ({others}): the earliest to end was taken"


def read_eol_table(path: Path | str) -> EolTable:
    """An `EolTable` from a CSV file with the columns of `data/end_of_life.csv`."""
    with open(path, newline="", encoding="utf-8") as handle:
        return EolTable(
            EolEntry(product=row["product"].strip(), version=row["version"].strip(),
                     release_date=_date(row["release_date"]),
                     end_of_support=_date(row["end_of_support"]),
                     end_of_life=_date(row["end_of_life"]), source=row["source"].strip(),
                     source_url=row["source_url"].strip(),
                     checked_on=_date(row["checked_on"]), note=(row.get("note") or "").strip())
            for row in csv.DictReader(handle))


@lru_cache(maxsize=1)
def load_eol_table() -> EolTable:
    """The end-of-life table shipped with the portal (read once)."""
    return read_eol_table(EOL_TABLE_PATH)


# ---------------------------------------------------------------------------------------
# Databases and runtimes named in a record

_SQL_SERVER_BUILDS = {"10.0": "2008", "10.50": "2008 R2", "11.0": "2012", "12.0": "2014",
                      "13.0": "2016", "14.0": "2017", "15.0": "2019", "16.0": "2022",
                      "17.0": "2025"}
_SQL_SERVER_YEAR = re.compile(
    r"(?<![\d.])(2000|2005|2008|2012|2014|2016|2017|2019|2022|2025)(?![\d.])\s*(r2)?")
_BUILD = re.compile(r"(?<![\d.])(\d+\.\d+)")
_DOTTED = re.compile(r"(?<![\d.])(\d+(?:\.\d+)*)")
_ORACLE_RELEASE = re.compile(r"(?<![\d.])(\d+)\s*(?:[cgi]|ai)\s*(?:r(?:elease)?\s*(\d))?(?![a-z])")


def _dotted(text: str) -> str | None:
    match = _DOTTED.search(text)
    return match.group(1) if match else None


def _sql_server_version(text: str) -> str | None:
    year = _SQL_SERVER_YEAR.search(text)
    if year:
        return year.group(1) + (" R2" if year.group(2) else "")
    build = _BUILD.search(text)
    return _SQL_SERVER_BUILDS.get(build.group(1)) if build else None


def _oracle_version(text: str) -> str | None:
    release = _ORACLE_RELEASE.search(text)
    if release:
        return release.group(1) + (f".{release.group(2)}" if release.group(2) else "")
    return _dotted(text)


def _java_version(text: str) -> str | None:
    version = _dotted(re.sub(r"(\d)u\d+", r"\1", text))
    if version and version.startswith("1.") and version.count(".") >= 1:
        return version.split(".")[1]  # 1.8.0_292 is Java 8
    return version


# Checked in order on the lower-cased "name version" text of a database/runtime column.
SOFTWARE_RULES: tuple[tuple[str, re.Pattern[str], Callable[[str], str | None]], ...] = (
    ("SQL Server", re.compile(r"sql\s*server|\bmssql"), _sql_server_version),
    ("PostgreSQL", re.compile(r"postgres|\bpgsql"), _dotted),
    ("MySQL", re.compile(r"\bmysql"), _dotted),
    ("Oracle Database", re.compile(r"\boracle(?!\s*(?:linux|solaris|java|jdk))"),
     _oracle_version),
    (".NET Framework", re.compile(r"\.net\s*framework|dotnet\s*framework|\bnetfx"), _dotted),
    (".NET", re.compile(r"\.net\b|\bdotnet|\bnet\s*core"), _dotted),
    ("Java", re.compile(r"\bjava\b|\bjdk|\bjre\b|openjdk"), _java_version),
    ("Python", re.compile(r"\bpython"), _dotted),
    ("Node.js", re.compile(r"\bnode(?:\.?js)?\b"), _dotted),
)

# First word of a column name -> the group its columns form ("Database" and "DB Version"
# are one database); the kind each group reports; the product a runtime group implies.
_STEMS = {
    "database": "database", "db": "database", "dbms": "database", "rdbms": "database",
    "runtime": "runtime", "language": "runtime", "framework": "runtime",
    "middleware": "runtime", "java": "java", "jdk": "java", "jre": "java",
    "dotnet": ".net", "net": ".net", "python": "python", "node": "node", "nodejs": "node",
}
_KINDS = {"database": "database"}  # every other group is a runtime
_HINTS = {"java": "java", ".net": ".net", "python": "python", "node": "node"}
_VERSION_WORDS = frozenset({"version", "ver", "release", "level"})


def parse_software(text: str) -> tuple[str, str | None] | None:
    """("PostgreSQL", "13.4") from "PostgreSQL 13.4"; None when no known product."""
    lowered = text.casefold()
    for product, pattern, version in SOFTWARE_RULES:
        if pattern.search(lowered):
            return product, version(lowered)
    return None


@lru_cache(maxsize=4096)
def _software_column(column: str) -> tuple[str, str] | None:
    """(group, "name" or "version") when a column names a database or runtime: "DB Version"
    -> ("database", "version"), "Java Version" -> ("java", "version"); else None."""
    words = [word for word in re.split(r"[^a-z0-9]+", column.casefold()) if word]
    if not words or words[0] not in _STEMS:
        return None
    slot = "version" if words[-1] in _VERSION_WORDS and len(words) > 1 else "name"
    return _STEMS[words[0]], slot


@lru_cache(maxsize=4096)
def _software_slots(columns: tuple, extra_columns: tuple
                    ) -> tuple[tuple[bool, str, str, str], ...]:
    """(in _extra?, column, group, slot) of the database/runtime columns among a record's
    columns, in order.  Records of one import share their columns: this runs once per
    distinct set, not once per record."""
    return tuple((in_extra, column, *found)
                 for in_extra, names in ((False, columns), (True, extra_columns))
                 for column in names
                 if isinstance(column, str) and (found := _software_column(column)))


def _software_columns(record: Mapping) -> dict[str, dict[str, list[str]]]:
    """group -> {"name": [values], "version": [values]} for database/runtime columns."""
    groups: dict[str, dict[str, list[str]]] = {}
    extra = record.get("_extra") or {}
    for in_extra, column, group, slot in _software_slots(tuple(record), tuple(extra)):
        value = (extra if in_extra else record)[column]
        if isinstance(value, str) and value.strip():
            groups.setdefault(group, {"name": [], "version": []})[slot].append(value.strip())
    return groups


def software_mentions(record: Mapping) -> list[tuple[str, str]]:
    """(kind, "name version" text) for the database/runtime columns of a record, from its
    top level and its `_extra`: "Database"="PostgreSQL" and "DB Version"="13" make
    ("database", "PostgreSQL 13"); "Java Version"="1.8" makes ("runtime", "java 1.8").
    Of several name columns ("Database", "Database Name") the first naming a known
    product is taken."""
    mentions = []
    for group, slots in _software_columns(record).items():
        version = slots["version"][0] if slots["version"] else ""
        hint = _HINTS.get(group, "")
        texts = [" ".join(filter(None, (name, version))) for name in slots["name"]]
        if hint:
            texts.append(" ".join(filter(None, (hint, *slots["name"][:1], version))))
        chosen = next((text for text in texts if parse_software(text)), None)
        if chosen:
            mentions.append((_KINDS.get(group, "runtime"), chosen))
    return mentions


# ---------------------------------------------------------------------------------------
# Judging one component


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _years(start: date, end: date) -> float:
    return (end - start).days / 365.25


def judge(entry: EolEntry, today: date) -> tuple[str, int, str]:
    """(status, score, reason) of one matched product version on `today`."""
    label = f"{entry.product} {entry.version}"
    eos, eol = entry.end_of_support, entry.end_of_life
    if eol and today > eol:
        score = 90 + min(10, int(_years(eol, today) * 2))
        return "unsupported", score, f"{label}: support ended {eol.isoformat()}"
    if eol and eol <= _add_months(today, SOON_MONTHS):
        days_left = (eol - today).days
        score = 60 + round(29 * (1 - min(days_left, 365) / 365))
        return "soon_unsupported", score, f"{label}: support ends {eol.isoformat()}"
    if eos and today > eos:
        score = 40 + min(19, int(_years(eos, today) * 4))
        until = f", extended support until {eol.isoformat()}" if eol else ""
        return ("extended_support_only", score,
                f"{label}: standard support ended {eos.isoformat()}{until}")
    age = int(_years(entry.release_date, today) * 3) if entry.release_date else 0
    ending = eos is not None and eos <= _add_months(today, SOON_MONTHS)
    score = min(39, age + (10 if ending else 0))
    if eos:
        reason = f"{label}: supported, standard support until {eos.isoformat()}"
    else:
        reason = f"{label}: supported, no end of support announced"
    return "supported", score, reason


@dataclass(frozen=True)
class Finding:
    """The verdict on one component (OS, database or runtime) of an asset."""
    kind: str
    product: str | None
    version: str | None
    status: str
    score: int | None
    entry: EolEntry | None
    reasons: tuple[str, ...]

    def as_dict(self) -> dict:
        entry = self.entry
        return {
            "kind": self.kind, "product": entry.product if entry else self.product,
            "version": entry.version if entry else self.version,
            "status": self.status, "score": self.score,
            "end_of_support": _iso(entry.end_of_support) if entry else None,
            "end_of_life": _iso(entry.end_of_life) if entry else None,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _finding(kind: str, product: str | None, version: str | None, table: EolTable,
             today: date) -> Finding:
    if not product:
        return Finding(kind, None, version, "unknown", None, None, (f"no {kind} recorded",))
    entry, how = table.match(product, version)
    if entry is None:
        return Finding(kind, product, version, "unknown", None, None, (how,))
    status, score, reason = judge(entry, today)
    reasons = (reason,) if how in ("exact", "by major version") else (reason, how)
    return Finding(kind, product, version, status, score, entry, reasons)


# ---------------------------------------------------------------------------------------
# Assets


@dataclass
class TechDebtResult:
    """Per asset key: {"status", "score", "product", "version", "end_of_support",
    "end_of_life", "source", "reasons", "components"}; plus totals and the worst products.
    Assets with the same findings share one verdict dict: treat them as read-only."""
    per_asset: dict[str, dict]
    summary: dict
    worst_products: list[dict] = field(default_factory=list)


class _Assessor:
    """Judges assets, remembering the verdict per distinct OS and software text."""

    def __init__(self, table: EolTable, today: date) -> None:
        self.table, self.today = table, today
        self.memo: dict[tuple, Finding] = {}
        self.verdicts: dict[tuple[int, ...], dict] = {}

    def os_finding(self, record: Mapping) -> Finding:
        raw = (record.get("os_name"), record.get("os_version"))
        found = self.memo.get(("os", *raw))
        if found is None:
            name, version = normalise_os(*raw)
            found = _finding("OS", name, version, self.table, self.today)
            self.memo[("os", *raw)] = found
        return found

    def software_finding(self, kind: str, text: str) -> Finding:
        key = (kind, text)
        found = self.memo.get(key)
        if found is None:
            product, version = parse_software(text) or (None, None)
            found = self.memo[key] = _finding(kind, product, version, self.table, self.today)
        return found

    def assess(self, record: Mapping) -> tuple[dict, list[Finding]]:
        findings = [self.os_finding(record)]
        findings.extend(self.software_finding(kind, text)
                        for kind, text in software_mentions(record))
        # Findings are remembered objects, so equal findings are the same objects.
        key = tuple(map(id, findings))
        verdict = self.verdicts.get(key)
        if verdict is None:
            verdict = self.verdicts[key] = _asset_verdict(findings)
        return verdict, findings


def _asset_verdict(findings: list[Finding]) -> dict:
    known = [f for f in findings if f.status != "unknown"]
    worst = max(known, key=lambda f: (_SEVERITY[f.status], f.score or 0)) if known \
        else findings[0]
    entry = worst.entry
    return {
        "status": worst.status,
        "score": max((f.score for f in known if f.score is not None), default=None),
        "product": entry.product if entry else worst.product,
        "version": entry.version if entry else worst.version,
        "end_of_support": _iso(entry.end_of_support) if entry else None,
        "end_of_life": _iso(entry.end_of_life) if entry else None,
        "source": {"title": entry.source, "url": entry.source_url} if entry else None,
        "reasons": [reason for f in findings for reason in f.reasons],
        "components": [f.as_dict() for f in findings],
    }


def _asset_key(asset: Mapping, position: int) -> str:
    key = asset.get("key")
    if isinstance(key, str) and key:
        return key
    name = asset.get("name")
    return fields.normalise_name(name) if isinstance(name, str) and name.strip() \
        else f"#{position}"


def _worst_products(counts: Counter) -> list[dict]:
    ranked = sorted(counts.items(), key=lambda item: (-_SEVERITY[item[0][2]], -item[1],
                                                      item[0][0], item[0][1]))
    return [{"product": product, "version": version, "status": status, "assets": n,
             "end_of_life": _iso(end)}
            for (product, version, status, end), n in ranked[:WORST_PRODUCTS_LISTED]]


class _Tally:
    """Counts per status, the scores, and the assets per product version in debt."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.debt: Counter[tuple] = Counter()
        self.scores: list[int] = []

    def add(self, verdict: Mapping, findings: Iterable[Finding]) -> None:
        self.statuses[verdict["status"]] += 1
        if verdict["score"] is not None:
            self.scores.append(verdict["score"])
        for finding in findings:
            if finding.entry and finding.status in STATUSES[:3]:
                self.debt[(finding.entry.product, finding.entry.version, finding.status,
                           finding.entry.end_of_life)] += 1

    def summary(self, assets: int, today: date) -> dict:
        return {
            "assets": assets,
            "by_status": {status: self.statuses[status] for status in STATUSES},
            "average_score": (round(sum(self.scores) / len(self.scores), 1)
                              if self.scores else None),
            "today": today.isoformat(),
        }


class TechDebtAssessor:
    """Judges assets one at a time (so a caller may stream them), counting as it goes."""

    def __init__(self, today: date, table: EolTable | None = None) -> None:
        self.today = today
        self._assessor = _Assessor(table or load_eol_table(), today)
        self._tally = _Tally()
        self.judged = 0

    def judge(self, asset: Mapping) -> tuple[str, dict]:
        """(the asset's key, its verdict); verdicts are shared between assets with the
        same findings: treat them as read-only."""
        verdict, findings = self._assessor.assess(asset)
        self._tally.add(verdict, findings)
        key = _asset_key(asset, self.judged)
        self.judged += 1
        return key, verdict

    def summary(self, assets: int | None = None) -> dict:
        return self._tally.summary(self.judged if assets is None else assets, self.today)

    def worst_products(self) -> list[dict]:
        return _worst_products(self._tally.debt)


def assess_tech_debt(assets: Iterable[Mapping], today: date,
                     table: EolTable | None = None) -> TechDebtResult:
    """Judge every asset's OS, database and runtime against the end-of-life table.

    `assets` are cleansed records (or inventory rows) with "key" (else the normalised
    name identifies them), "os_name", "os_version" and optionally database/runtime columns
    at the top level or in "_extra".  `today` is explicit so results are reproducible.
    """
    assessor = TechDebtAssessor(today, table)
    with collector_paused():
        per_asset = dict(map(assessor.judge, assets))
    return TechDebtResult(per_asset, assessor.summary(len(per_asset)),
                          assessor.worst_products())
