"""Reading the audit log (it is written only by database triggers and by
`record_auth_event`): filtered, keyset-paginated pages and readable field-by-field diffs.

No Flask in here.  Row-level security already limits a session to its tenant's entries
(platform admins see all); callers still name the account they mean (isolation twice).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.models import AuditLog, ClientAccount, User, UserAccountAssociation

DATA_OPERATIONS = ("INSERT", "UPDATE", "DELETE")
AUTH_OPERATIONS = ("LOGIN", "LOGIN_FAIL", "LOGOUT")
OPERATIONS = DATA_OPERATIONS + AUTH_OPERATIONS
AUTH_TABLE = "auth"  # what record_auth_event writes as table_name
# Bookkeeping columns that change on every UPDATE; showing them would bury the real change.
UPDATE_NOISE = frozenset({"updated_at", "lock_version"})
# The triggers never copy these; hiding them here too means a future trigger that forgets
# its redaction still cannot put a secret on the page.
SECRET_FIELDS = frozenset({"password_hash", "email_hash", "token_hash"})
SECRET_FIELDS_BY_TABLE = {"users": frozenset({"email"}),
                          "engagements": frozenset({"client_contact_email"})}
_AUDIT_TRIGGER_FUNCTIONS = ("audit_row_change", "audit_statement_change")


class InvalidCursor(DomainError):
    """A page cursor that this module did not make (edited, truncated or garbage)."""

    def __init__(self) -> None:
        super().__init__("That page link is invalid or was edited. Start again from the "
                         "newest entries.")


@dataclass(frozen=True)
class AuditFilter:
    """What to narrow the log to; every part is optional.  Dates are whole UTC days, both
    ends inclusive."""

    table_name: str | None = None
    operation: str | None = None
    user_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditLog]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    kind: str  # "added", "removed" or "changed"


# --- cursors --------------------------------------------------------------------------
# A cursor is the (timestamp, id) of the last row shown: 8 bytes of microseconds since
# the epoch, the 16 bytes of the id, and a 4-byte check digest so that an edited or
# truncated link is refused rather than silently starting somewhere else.  It is not a
# secret signature: any position is harmless, the query stays filtered by tenant and RLS.
_CURSOR = struct.Struct(">q16s")
_CHECK_BYTES = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _check_digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECK_BYTES, person=b"audit-cursor").digest()


def encode_cursor(timestamp: datetime, entry_id: uuid.UUID) -> str:
    """The opaque, URL-safe token for the position just after (older than) this entry."""
    micros = (timestamp - _EPOCH) // timedelta(microseconds=1)
    payload = _CURSOR.pack(micros, entry_id.bytes)
    return base64.urlsafe_b64encode(payload + _check_digest(payload)).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, uuid.UUID]:
    """(timestamp, id) from a token made by `encode_cursor`; InvalidCursor otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc
    payload, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if len(payload) != _CURSOR.size or check != _check_digest(payload):
        raise InvalidCursor()
    micros, id_bytes = _CURSOR.unpack(payload)
    try:
        return _EPOCH + timedelta(microseconds=micros), uuid.UUID(bytes=id_bytes)
    except OverflowError as exc:
        raise InvalidCursor() from exc


# --- pages ----------------------------------------------------------------------------
def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def audit_query(account_id: uuid.UUID | None, audit_filter: AuditFilter) -> Select:
    """The filtered log, newest first (timestamp, then id to break ties).  `account_id`
    None means every account the session may see: only platform admins see others'."""
    conditions = []
    if account_id is not None:
        conditions.append(AuditLog.client_account_id == account_id)
    if audit_filter.table_name:
        conditions.append(AuditLog.table_name == audit_filter.table_name)
    if audit_filter.operation:
        conditions.append(AuditLog.operation == audit_filter.operation)
    if audit_filter.user_id:
        conditions.append(AuditLog.user_id == audit_filter.user_id)
    if audit_filter.date_from:
        conditions.append(AuditLog.timestamp >= _day_start(audit_filter.date_from))
    if audit_filter.date_to:  # inclusive: everything before the next day starts
        conditions.append(AuditLog.timestamp < _day_start(audit_filter.date_to)
                          + timedelta(days=1))
    return select(AuditLog).where(*conditions).order_by(AuditLog.timestamp.desc(),
                                                        AuditLog.id.desc())


def page_query(account_id: uuid.UUID | None, audit_filter: AuditFilter, cursor: str | None,
               limit: int) -> Select:
    """The statement `audit_page` runs: up to `limit` + 1 entries older than `cursor` (the
    extra one says whether there is a next page).  Keyset pagination: the (timestamp, id)
    row comparison starts inside the (…, timestamp DESC, id DESC) indexes, so page 10,000
    costs what page 1 does (OFFSET would read and skip every row before it)."""
    query = audit_query(account_id, audit_filter)
    if cursor:
        query = query.where(tuple_(AuditLog.timestamp, AuditLog.id) < tuple_(
            *decode_cursor(cursor)))
    return query.limit(limit + 1)


def audit_page(session: Session, account_id: uuid.UUID | None, audit_filter: AuditFilter,
               cursor: str | None = None, limit: int = 50) -> AuditPage:
    """One page of the log, newest first, continuing after `cursor` (InvalidCursor when
    the cursor was not made by this module)."""
    rows = list(session.scalars(page_query(account_id, audit_filter, cursor, limit)))
    entries = rows[:limit]
    more = len(rows) > limit and entries[-1].timestamp is not None
    return AuditPage(entries, encode_cursor(entries[-1].timestamp, entries[-1].id)
                     if more else None)


def latest_entries(session: Session, limit: int = 50) -> list[AuditLog]:
    """The newest entries the session may see (its tenant's, or all for platform admins)."""
    return audit_page(session, None, AuditFilter(), limit=limit).entries


# --- what the filter form offers --------------------------------------------------------
def audited_tables(session: Session) -> list[str]:
    """The table names the log can hold: every table with an audit trigger, plus 'auth'.
    Read from the catalog, not from audit_log, so it costs the same at any log size
    (a DISTINCT over millions of rows would not)."""
    names = session.scalars(text(
        "SELECT DISTINCT c.relname FROM pg_catalog.pg_trigger t "
        "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid "
        "WHERE p.proname = ANY(:functions) AND NOT t.tgisinternal "
        "AND pg_catalog.pg_table_is_visible(c.oid)"),
        {"functions": list(_AUDIT_TRIGGER_FUNCTIONS)})
    return sorted({AUTH_TABLE, *names})


def short_id(value: uuid.UUID | None) -> str:
    """The first eight hex digits: enough to tell entries apart on one page."""
    return str(value)[:8] if value else "—"


def user_labels(session: Session, user_ids) -> dict[uuid.UUID, str]:
    """Display names for these user ids in one query.  Users the session may not see
    (RLS: other accounts' people) are labelled with their shortened id."""
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    users = session.scalars(select(User).where(User.id.in_(wanted)))
    labels = {user.id: user.display_name for user in users}
    return {user_id: labels.get(user_id) or short_id(user_id) for user_id in wanted}


def account_labels(session: Session, account_ids) -> dict[uuid.UUID, str]:
    """Account names for these ids in one query (shortened id when not visible)."""
    wanted = {account_id for account_id in account_ids if account_id}
    if not wanted:
        return {}
    rows = session.execute(select(ClientAccount.id, ClientAccount.name)
                           .where(ClientAccount.id.in_(wanted)))
    names = {account_id: name for account_id, name in rows}
    return {account_id: names.get(account_id) or short_id(account_id) for account_id in wanted}


def account_people(session: Session, account_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(id, display name) of the account's members, for the user filter's suggestions."""
    users = session.scalars(select(User).join(
        UserAccountAssociation, UserAccountAssociation.user_id == User.id)
        .where(UserAccountAssociation.client_account_id == account_id))
    return sorted(((user.id, user.display_name) for user in users),
                  key=lambda pair: pair[1].casefold())


# --- diffs ----------------------------------------------------------------------------
_MISSING = object()


def _visible(values: dict[str, Any] | None, table_name: str) -> dict[str, Any]:
    hidden = SECRET_FIELDS | SECRET_FIELDS_BY_TABLE.get(table_name, frozenset())
    return {k: v for k, v in (values or {}).items() if k not in hidden}


def _same(before: Any, after: Any) -> bool:
    # Compared as JSON: in Python 1 == 1.0 == True, in the log they are different values.
    if before is _MISSING or after is _MISSING:
        return before is after
    return as_json(before) == as_json(after)


def field_changes(entry: AuditLog) -> list[FieldChange]:
    """What the entry changed, field by field, sorted by field name.  An INSERT (or an
    authentication event, which has only new values) lists every new field as added, a
    DELETE every old field as removed, an UPDATE only the fields whose value differs —
    ignoring `updated_at` and `lock_version`, which change on every update.  Secret
    fields never appear, even if a trigger wrote them."""
    old = _visible(entry.old_values, entry.table_name)
    new = _visible(entry.new_values, entry.table_name)
    if entry.old_values is None:
        return [FieldChange(k, None, new[k], "added") for k in sorted(new)]
    if entry.new_values is None:
        return [FieldChange(k, old[k], None, "removed") for k in sorted(old)]
    changes = []
    for key in sorted((old.keys() | new.keys()) - UPDATE_NOISE):
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        if _same(before, after):
            continue
        kind = "added" if before is _MISSING else "removed" if after is _MISSING else "changed"
        changes.append(FieldChange(key, None if before is _MISSING else before,
                                   None if after is _MISSING else after, kind))
    return changes


def as_json(value: Any) -> str:
    """A field value as the JSON it was stored as (keys sorted, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
