"""Checking each row of an import against its field mapping (no Flask in here).

A row is valid when every mapped value coerces to its canonical field and the row has a
name (mapped, or derived from the hostname/FQDN).  Errors name the row, the source column
and the reason; `name_key` folds whitespace and case so variants of one name are one asset.

This runs for files with millions of rows, so staging checks rows a batch at a time,
column by column (`stage_batch`), doing per-row work in Python only where a value fails.
Each column remembers the outcome per distinct cell text: inventories repeat the same OS,
environment, size and location values endlessly.  A column whose values hardly repeat
(names, addresses) stops remembering once it has seen too many distinct values, so the
memo stays bounded; such columns are checked with one pattern match over the whole batch
when they can be (IPv4 addresses, whole numbers), value by value when that fails.
`stage_check` is the same check for one row.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from portal.discovery import fields
from portal.discovery.field_mapping import ColumnMapping

MISSING_NAME = "missing name (map a name, hostname or FQDN column)"
MEMO_MAX_ENTRIES = 10_000   # distinct values remembered per column
# Only these kinds of field can reject a value; text, enum and list cells always pass.
FALLIBLE_KINDS = frozenset({"integer", "number", "percent", "ip", "mac"})
NAME_FIELDS = frozenset({"name", "hostname", "fqdn"})  # what derive_name reads
# Batches of a column that pass without a look at each value, found with one match of
# the values one per line: IPv4 addresses as `fields` matches them (a cell with a line
# break splits into lines that are addresses, and passes on its first one anyway), and
# plain non-negative numbers (sizes in the column's unit; percentages up to 100, or
# fractions up to 1), a subset of what `fields` accepts.
_IPV4 = fields._IPV4.pattern.removeprefix("^").removesuffix("$")
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PERCENT = r"(?:100(?:\.0+)?|[0-9]{1,2}(?:\.[0-9]+)?)"
_FRACTION = r"(?:1(?:\.0+)?|0(?:\.[0-9]+)?)"
_LINES = {name: re.compile(rf"{pattern}(?:\n{pattern})*") for name, pattern in
          (("ip", _IPV4), ("number", _NUMBER), ("percent", _PERCENT),
           ("fraction", _FRACTION))}
_NAME_SEPARATOR = "\x00"  # joins a batch of names for normalising them in one call


@dataclass(frozen=True)
class RowCheck:
    errors: list[dict] | None   # [{"column", "field", "reason"}], None when valid
    name_key: str | None
    values: dict                # canonical field -> coerced value


class _ColumnCoercer:
    """`coerce` for one mapped column, remembering outcomes per distinct cell text until
    the column proves to have too many distinct values for that to pay."""

    __slots__ = ("index", "column", "field", "unit", "kind", "names", "can_fail", "memo",
                 "failing")

    def __init__(self, index: int, column: str, field: str, unit: str | None) -> None:
        self.index, self.column, self.field, self.unit = index, column, field, unit
        self.kind = fields.FIELDS_BY_NAME[field].kind
        self.names = field in NAME_FIELDS
        self.can_fail = self.kind in FALLIBLE_KINDS
        self.memo: dict | None = {}
        self.failing: set[str] = set()  # the remembered values that fail

    def __call__(self, raw: str):
        memo = self.memo
        if memo is None:
            return fields.coerce(self.field, raw, self.unit)
        outcome = memo.get(raw)
        if outcome is None:
            outcome = fields.coerce(self.field, raw, self.unit)
            memo[raw] = outcome
            if outcome[1]:
                self.failing.add(raw)
            if len(memo) > MEMO_MAX_ENTRIES:
                self.memo, self.failing = None, set()  # mostly distinct: stop remembering
        return outcome

    def failures(self, column: Sequence[str | None]) -> list[tuple[int, str]]:
        """(position, reason) of the cells of a batch of this column that fail."""
        present = [raw for raw in column if raw is not None] if None in column else column
        if self.memo is not None:
            distinct = set(present)
            for raw in distinct.difference(self.memo):
                self(raw)  # remembered, and noted in `failing` if it fails
            if self.memo is not None and self.failing.isdisjoint(distinct):
                return []
        elif _all_pass(self.kind, self.unit, present):
            return []
        return [(position, reason) for position, raw in enumerate(column)
                if raw is not None and (reason := self(raw)[1])]

    def values(self, column: Sequence[str | None]) -> list:
        """The coerced value of each cell of a batch of this column (None if it fails)."""
        if self.kind == "text" and None not in column:
            stripped = list(map(str.strip, column))
            if fields.NULL_MARKERS.isdisjoint(map(str.casefold, stripped)):
                return stripped
        return [None if raw is None else self(raw)[0] for raw in column]


def _all_pass(kind: str, unit: str | None, present: Sequence[str]) -> bool:
    """Whether a whole batch of values passes, found with one match (False when that
    cannot tell)."""
    if not present:
        return True
    if kind == "integer":
        digits = "".join(present)
        return digits.isascii() and digits.isdigit()
    if kind == "number":
        pattern = "number" if fields.canonical_unit(unit or "GB") in fields.BYTES_PER_UNIT \
            else None
    elif kind == "percent":
        pattern = {None: "percent", "percent": "percent", "fraction": "fraction"}.get(unit)
    else:
        pattern = "ip" if kind == "ip" else None
    if pattern is None:
        return False
    lines = "\n".join(present)
    if kind != "ip" and lines.count("\n") != len(present) - 1:
        return False  # a cell with a line break in it is no number
    return _LINES[pattern].fullmatch(lines) is not None


def _batch_names(naming: dict[str, list], count: int) -> list[str | None]:
    """`derive_name` for each row of a batch, from the batch's name, hostname and FQDN
    values; without a look at each row when every row has the first of them."""
    if not naming:
        return [None] * count
    first = naming.get("name", naming.get("hostname"))
    if first is not None and None not in first:
        return first
    return [fields.derive_name(dict(zip(naming, values, strict=True)))
            for values in zip(*naming.values(), strict=True)]


def _name_keys(names: list[str]) -> list[str]:
    """`normalise_name` of each of a batch of names, in one call when possible."""
    joined = _NAME_SEPARATOR.join(map(str.strip, names))
    if names and joined.count(_NAME_SEPARATOR) == len(names) - 1:
        return fields.normalise_name(joined).split(_NAME_SEPARATOR)
    return [fields.normalise_name(name) for name in names]


class RowValidator:
    """Built once per mapping: `stage_batch` checks the rows staging stores, `check` gives
    one row's canonical values as well (preview, cleansing)."""

    def __init__(self, columns: Sequence[str], mappings: Sequence[ColumnMapping]) -> None:
        by_source = {m.source: m for m in mappings}
        self._coercers = [_ColumnCoercer(i, column, by_source[column].target,
                                         by_source[column].unit)
                          for i, column in enumerate(columns)
                          if column in by_source and by_source[column].target]
        # Staging needs only the outcome: skip columns that can neither fail nor name.
        self._staged = [c for c in self._coercers if c.can_fail or c.names]

    def stage_batch(self, columns: Sequence[Sequence[str | None]], count: int,
                    problems: Sequence[str | None] | None = None
                    ) -> tuple[dict[int, list[dict]], list[str | None]]:
        """What staging stores for a batch of `count` rows, given column by column: the
        errors of the rows that have any (by position in the batch, as `check` gives
        them) and each row's name key."""
        errors: dict[int, list[dict]] = {}
        naming: dict[str, list] = {}
        for coercer in self._staged:
            column = columns[coercer.index]
            if coercer.can_fail:
                for position, reason in coercer.failures(column):
                    errors.setdefault(position, []).append(
                        {"column": coercer.column, "field": coercer.field, "reason": reason})
            if coercer.names:
                values = coercer.values(column)
                earlier = naming.get(coercer.field)
                naming[coercer.field] = values if earlier is None else [
                    earlier_value if value is None else value
                    for earlier_value, value in zip(earlier, values, strict=False)]
        names = _batch_names(naming, count)
        keys: list[str | None]
        if None in names:
            normalised = iter(_name_keys([name for name in names if name is not None]))
            keys = [None if name is None else next(normalised) for name in names]
            for position, name in enumerate(names):
                if name is None:
                    errors.setdefault(position, []).append(
                        {"column": None, "field": "name", "reason": MISSING_NAME})
        else:
            keys = _name_keys(names)  # type: ignore[arg-type]
        for position, problem in enumerate(problems or ()):
            if problem:
                errors.setdefault(position, []).append(
                    {"column": None, "field": None, "reason": problem})
        return errors, keys

    def check(self, values: Sequence[str | None], problem: str | None = None) -> RowCheck:
        errors: list[dict] = []
        coerced: dict = {}
        for coercer in self._coercers:
            raw = values[coercer.index]
            if raw is None:
                continue
            value, error = coercer(raw)
            if error:
                errors.append({"column": coercer.column, "field": coercer.field,
                               "reason": error})
            elif value is not None:
                coerced[coercer.field] = value
        name = coerced.get("name") or fields.derive_name(coerced)
        if not name:
            errors.append({"column": None, "field": "name", "reason": MISSING_NAME})
        if problem:
            errors.append({"column": None, "field": None, "reason": problem})
        return RowCheck(errors or None, fields.normalise_name(name) if name else None, coerced)
