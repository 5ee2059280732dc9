"""Checking each row of an import against its field mapping (no Flask in here).

A row is valid when every mapped value coerces to its canonical field and the row has a
name (mapped, or derived from the hostname/FQDN).  Errors name the row, the source column
and the reason; `name_key` folds whitespace and case so variants of one name are one asset.

This runs once per row of files with millions of rows, so each column remembers the
outcome per distinct cell text: inventories repeat the same OS, environment, size and
location values endlessly.  A column whose values hardly repeat (names, addresses) stops
remembering once it has seen too many distinct values, so the memo stays bounded.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.discovery import fields
from portal.discovery.field_mapping import ColumnMapping

MISSING_NAME = "missing name (map a name, hostname or FQDN column)"
MEMO_MAX_ENTRIES = 10_000   # distinct values remembered per column
# Only these kinds of field can reject a value; text, enum and list cells always pass.
FALLIBLE_KINDS = frozenset({"integer", "number", "percent", "ip", "mac"})
NAME_FIELDS = frozenset({"name", "hostname", "fqdn"})  # what derive_name reads


@dataclass(frozen=True)
class RowCheck:
    errors: list[dict] | None   # [{"column", "field", "reason"}], None when valid
    name_key: str | None
    values: dict                # canonical field -> coerced value


class _ColumnCoercer:
    """`coerce` for one mapped column, remembering outcomes per distinct cell text until
    the column proves to have too many distinct values for that to pay."""

    __slots__ = ("index", "column", "field", "unit", "names", "can_fail", "memo")

    def __init__(self, index: int, column: str, field: str, unit: str | None) -> None:
        self.index, self.column, self.field, self.unit = index, column, field, unit
        self.names = field in NAME_FIELDS
        self.can_fail = fields.FIELDS_BY_NAME[field].kind in FALLIBLE_KINDS
        self.memo: dict | None = {}

    def __call__(self, raw: str):
        memo = self.memo
        if memo is None:
            return fields.coerce(self.field, raw, self.unit)
        outcome = memo.get(raw)
        if outcome is None:
            outcome = fields.coerce(self.field, raw, self.unit)
            memo[raw] = outcome
            if len(memo) > MEMO_MAX_ENTRIES:
                self.memo = None  # mostly distinct values: stop remembering
        return outcome


class RowValidator:
    """Built once per mapping; `check` runs per row on the hot path of staging."""

    def __init__(self, columns: Sequence[str], mappings: Sequence[ColumnMapping]) -> None:
        by_source = {m.source: m for m in mappings}
        self._coercers = [_ColumnCoercer(i, column, by_source[column].target,
                                         by_source[column].unit)
                          for i, column in enumerate(columns)
                          if column in by_source and by_source[column].target]
        # Staging needs only the outcome: skip columns that can neither fail nor name.
        self._staged = [c for c in self._coercers if c.can_fail or c.names]

    def stage_check(self, values: Sequence[str | None],
                    problem: str | None = None) -> tuple[list[dict] | None, str | None]:
        """(errors or None, name_key): what staging stores, without building the row's
        canonical values beyond the fields a name comes from."""
        errors = None
        naming: dict = {}
        for coercer in self._staged:
            raw = values[coercer.index]
            if raw is None:
                continue
            value, error = coercer(raw)
            if error:
                errors = errors or []
                errors.append({"column": coercer.column, "field": coercer.field,
                               "reason": error})
            elif coercer.names:
                naming[coercer.field] = value
        name = naming.get("name") or fields.derive_name(naming)
        if not name:
            errors = errors or []
            errors.append({"column": None, "field": "name", "reason": MISSING_NAME})
        if problem:
            errors = errors or []
            errors.append({"column": None, "field": None, "reason": problem})
        return errors, fields.normalise_name(name) if name else None

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
