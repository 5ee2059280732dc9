"""Optimistic locking of edits: a form carries the version it was rendered from, and saving
over a newer version is a conflict rather than a silent overwrite.

Models opt in with a `lock_version` column declared as the mapper's `version_id_col`, so
SQLAlchemy also checks the version in the UPDATE itself (a race between two saves that both
passed `check_version` still ends in `StaleDataError`, which the web layer answers with 409
as well)."""
from __future__ import annotations

from portal.errors import DomainError

CONFLICT_MESSAGE = ("Someone else saved this {what} while you were editing it. "
                    "Reload to see their changes, then make yours again.")


class EditConflict(DomainError):
    """The record changed since the form was rendered."""


def check_version(record, submitted_version: int | str | None, what: str = "record") -> None:
    """Raise EditConflict unless the form was rendered from the record's current version."""
    try:
        submitted = int(submitted_version) if submitted_version is not None else None
    except (TypeError, ValueError):
        submitted = None
    if submitted != record.lock_version:
        raise EditConflict(CONFLICT_MESSAGE.format(what=what))
