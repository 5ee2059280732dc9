"""Cells written to CSV/XLSX exports must never run as formulas in a spreadsheet."""
from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> object:
    """Neutralise a text cell that a spreadsheet would read as a formula (or DDE) by
    prefixing a single quote; numbers and empty cells pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
