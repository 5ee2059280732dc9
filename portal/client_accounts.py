"""Administration of client accounts: search, create, edit, deactivate (no Flask in here).

Edits are optimistic-locked (`lock_version`): an edit names the version it was made from,
and saving over a newer one raises `EditConflict` instead of overwriting someone's work.

`changes` are column values; the JSONB columns take partial dictionaries that are merged
into the stored ones key by key, so the seed's shapes (`BUSINESS_OBJECTIVES_DEFAULT`,
`AGENT_PREFERENCES_DEFAULT`) and any keys this module does not manage are kept.  Every value
is validated here, whatever form it came from: a colour that reaches `branding` is always
`#rrggbb`, which is what lets `branding_stylesheet` write it into CSS.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.accounts import create_account
from portal.errors import DomainError, NotFound
from portal.locking import CONFLICT_MESSAGE, EditConflict, check_version
from portal.models import ClientAccount
from portal.models.tenancy import AGENT_PREFERENCES_DEFAULT, BUSINESS_OBJECTIVES_DEFAULT

INDUSTRIES = ("Financial services", "Healthcare", "Retail", "Manufacturing", "Public sector",
              "Energy", "Telecommunications", "Technology", "Other")
COMPANY_SIZES = ("1-100", "100-1,000", "1,000-5,000", "5,000-10,000", "10,000+")
SUBSCRIPTION_TIERS = ("trial", "standard", "professional", "enterprise")
FEATURES = ("discovery", "collection", "assessment", "dependency_analysis", "tech_debt",
            "sixr_overrides", "exports")
DISCOVERY_DEPTHS = ("quick", "standard", "comprehensive")
AUTOMATION_LEVELS = ("manual", "assisted", "automatic")
RISK_TOLERANCES = ("low", "moderate", "high")
CLOUDS = ("aws", "azure", "gcp", "oci", "ibm", "private")
COMPLIANCE_REQUIREMENTS = ("gdpr", "hipaa", "pci-dss", "sox", "iso27001", "fedramp", "nis2")
QUOTA_FIELDS = ("max_users", "max_engagements", "storage_quota_gb", "api_quota_monthly")

# Account admins shape how their organisation works; what it pays for is the platform's.
ACCOUNT_ADMIN_FIELDS = frozenset({"name", "description", "industry", "company_size",
                                  "branding", "business_objectives", "agent_preferences"})
PLATFORM_ADMIN_FIELDS = ACCOUNT_ADMIN_FIELDS | {"subscription_tier", "features_enabled",
                                                *QUOTA_FIELDS}

COLOUR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
MAX_QUOTA = 2**31 - 1  # the columns are 32-bit integers
MAX_LIST_ITEMS = 50
MAX_ITEM_LENGTH = 200
BRANDING_NAME_LENGTH = 100
TIMEFRAME_LENGTH = 100
DESCRIPTION_LENGTH = 5000


# --- field validators: each returns the value to store or raises DomainError -----------------

def _name(value: Any) -> str:
    name = _text(value, "account name", 255)
    if not name:
        raise DomainError("account name is required")
    return name


def _text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DomainError(f"{what} must be text")
    value = value.strip()
    if len(value) > limit:
        raise DomainError(f"{what} is longer than {limit} characters")
    return value


def _choice(choices: tuple[str, ...], what: str, *, required: bool = False) -> Callable:
    def validate(value: Any) -> str | None:
        if value in (None, "") and not required:
            return None
        if value not in choices:
            raise DomainError(f"invalid {what} {value!r}: choose one of {', '.join(choices)}")
        return value
    return validate


def _subset(value: Any, choices: tuple[str, ...], what: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise DomainError(f"{what} must be a list")
    unknown = [item for item in value if item not in choices]
    if unknown:
        raise DomainError(f"invalid {what} {unknown[0]!r}: choose from {', '.join(choices)}")
    return list(dict.fromkeys(value))


def _text_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise DomainError(f"{what} must be a list")
    items = list(dict.fromkeys(_text(item, what, MAX_ITEM_LENGTH) for item in value))
    items = [item for item in items if item]
    if len(items) > MAX_LIST_ITEMS:
        raise DomainError(f"{what}: at most {MAX_LIST_ITEMS} entries")
    return items


def _quota(what: str) -> Callable:
    def validate(value: Any) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or \
                not 0 <= value <= MAX_QUOTA:
            raise DomainError(f"{what} must be a whole number from 0 to {MAX_QUOTA}, "
                              "or empty for no limit")
        return value
    return validate


def valid_colour(value: Any) -> str | None:
    """The colour as lower-case `#rrggbb`, or None when it is anything else."""
    if isinstance(value, str) and COLOUR_PATTERN.fullmatch(value):
        return value.lower()
    return None


def _colour(value: Any) -> str | None:
    if value in (None, ""):
        return None
    colour = valid_colour(value)
    if colour is None:
        raise DomainError(f"invalid colour {value!r}: use the form #rrggbb")
    return colour


def _checked_keys(value: Any, what: str, validators: dict[str, Callable]) -> dict[str, Any]:
    """Validate a partial dictionary for a JSONB column, key by key."""
    if not isinstance(value, dict):
        raise DomainError(f"{what} must be a dictionary")
    unknown = sorted(set(value) - set(validators))
    if unknown:
        raise DomainError(f"unknown {what} setting {unknown[0]!r}")
    return {key: validators[key](item) for key, item in value.items()}


def _features(value: Any) -> dict[str, bool]:
    if isinstance(value, dict) and not all(isinstance(v, bool) for v in value.values()):
        raise DomainError("enabled features must be true or false")
    return _checked_keys(value, "feature", {feature: bool for feature in FEATURES})


def _branding(value: Any) -> dict[str, str | None]:
    """Name and `#rrggbb` colour; an empty one is removed (None) rather than stored."""
    return _checked_keys(value, "branding", {
        "name": lambda v: _text(v, "branding name", BRANDING_NAME_LENGTH) or None,
        "colour": _colour})


def _business_objectives(value: Any) -> dict[str, Any]:
    return _checked_keys(value, "business objectives", {
        "primary_goals": lambda v: _text_list(v, "primary goals"),
        "timeframe": lambda v: _text(v, "timeframe", TIMEFRAME_LENGTH),
        "success_metrics": lambda v: _text_list(v, "success metrics"),
        "constraints": lambda v: _text_list(v, "constraints")})


def _agent_preferences(value: Any) -> dict[str, Any]:
    return _checked_keys(value, "agent preferences", {
        "discovery_depth": _choice(DISCOVERY_DEPTHS, "discovery depth", required=True),
        "automation_level": _choice(AUTOMATION_LEVELS, "automation level", required=True),
        "risk_tolerance": _choice(RISK_TOLERANCES, "risk tolerance", required=True),
        "preferred_clouds": lambda v: _subset(v, CLOUDS, "cloud"),
        "compliance_requirements": lambda v: _subset(v, COMPLIANCE_REQUIREMENTS,
                                                     "compliance requirement")})


FIELD_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "description": lambda v: _text(v, "description", DESCRIPTION_LENGTH) or None,
    "industry": _choice(INDUSTRIES, "industry"),
    "company_size": _choice(COMPANY_SIZES, "company size"),
    "subscription_tier": _choice(SUBSCRIPTION_TIERS, "subscription tier", required=True),
    **{field: _quota(field.replace("_", " ")) for field in QUOTA_FIELDS},
    "features_enabled": _features,
    "branding": _branding,
    "business_objectives": _business_objectives,
    "agent_preferences": _agent_preferences,
}
JSON_FIELDS = ("features_enabled", "branding", "business_objectives", "agent_preferences")
JSON_DEFAULTS = {"business_objectives": json.loads(BUSINESS_OBJECTIVES_DEFAULT),
                 "agent_preferences": json.loads(AGENT_PREFERENCES_DEFAULT)}


def _merged(current: dict | None, changes: dict[str, Any]) -> dict[str, Any]:
    """`current` with `changes` applied; a change to None removes its key."""
    merged = {**(current or {}), **changes}
    return {key: value for key, value in merged.items() if value is not None}


def _validated(changes: dict[str, Any], allowed: Iterable[str],
               current: Callable[[str], Any]) -> dict[str, Any]:
    """The allowed changes, validated, with JSONB columns merged into `current(field)`."""
    values = {}
    for field in sorted(allowed):  # sorted: the same input always reports the same error
        if field not in changes:
            continue
        value = FIELD_VALIDATORS[field](changes[field])
        values[field] = _merged(current(field), value) if field in JSON_FIELDS else value
    return values


# --- queries ---------------------------------------------------------------------------------

def _like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in `text` taken literally (escape character `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_accounts(session: Session, query: str = "",
                    include_inactive: bool = False) -> list[ClientAccount]:
    """Accounts whose name, slug or industry contains `query` (case-insensitive, taken
    literally), by name; deactivated ones only when asked for."""
    statement = select(ClientAccount).order_by(ClientAccount.name, ClientAccount.slug)
    if query.strip():
        pattern = _like_pattern(query.strip())
        statement = statement.where(or_(
            *(column.ilike(pattern, escape="\\") for column in
              (ClientAccount.name, ClientAccount.slug, ClientAccount.industry))))
    if not include_inactive:
        statement = statement.where(ClientAccount.is_active.is_(True))
    return list(session.scalars(statement))


def account_by_id(session: Session, account_id: uuid.UUID) -> ClientAccount:
    """An account the session may see (active or not); NotFound otherwise."""
    account = session.get(ClientAccount, account_id)
    if account is None:
        raise NotFound("no such client account")
    return account


# --- changes ---------------------------------------------------------------------------------

def create_client_account(session: Session, slug: str, changes: dict[str, Any], *,
                          created_by: uuid.UUID | None = None) -> ClientAccount:
    """A new account from validated `changes` (every platform-admin field may be given)."""
    values = _validated(changes, PLATFORM_ADMIN_FIELDS, lambda field: JSON_DEFAULTS.get(field))
    name = values.pop("name", "")
    return create_account(session, name, (slug or "").strip(), created_by=created_by, **values)


def update_account(session: Session, account: ClientAccount, submitted_version: int | str | None,
                   changes: dict[str, Any], *, platform_admin: bool) -> ClientAccount:
    """Apply `changes` made from version `submitted_version` of the account.

    Only the fields the editor's role may change are applied: account admins never change
    the subscription tier, quotas or features, whatever they send.  Raises EditConflict
    when someone saved the account in the meantime (also when that happens between the
    check and the UPDATE: the version is part of the UPDATE's WHERE clause)."""
    check_version(account, submitted_version, "client account")
    allowed = PLATFORM_ADMIN_FIELDS if platform_admin else ACCOUNT_ADMIN_FIELDS
    values = _validated(changes, allowed, lambda field: getattr(account, field))
    for field, value in values.items():
        setattr(account, field, value)
    _flush_version_checked(session)
    return account


def deactivate_account(session: Session, account: ClientAccount,
                       submitted_version: int | str | None) -> ClientAccount:
    """Hide the account from switchers and lists; its data stays."""
    return _set_active(session, account, submitted_version, False)


def reactivate_account(session: Session, account: ClientAccount,
                       submitted_version: int | str | None) -> ClientAccount:
    """Bring a deactivated account back, with everything it had."""
    return _set_active(session, account, submitted_version, True)


def _set_active(session: Session, account: ClientAccount, submitted_version: int | str | None,
                active: bool) -> ClientAccount:
    check_version(account, submitted_version, "client account")
    account.is_active = active
    _flush_version_checked(session)
    return account


def _flush_version_checked(session: Session) -> None:
    """Flush now, so a save that lost the race to another one surfaces as EditConflict
    here (the caller must roll the session back before using it again)."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise EditConflict(CONFLICT_MESSAGE.format(what="client account")) from exc


# --- branding --------------------------------------------------------------------------------

def _is_light(colour: str) -> bool:
    """Whether dark text reads better than white on `colour` (WCAG relative luminance)."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179


LIGHT_BACKGROUND_RULES = """
.portal-nav.navbar { --bs-navbar-color: rgba(0, 0, 0, .7); --bs-navbar-hover-color: #000;
  --bs-navbar-active-color: #000; --bs-navbar-brand-color: #000;
  --bs-navbar-brand-hover-color: #000; }
.portal-nav .btn-outline-light { --bs-btn-color: #000; --bs-btn-border-color: rgba(0, 0, 0, .5); }
"""


def branding_stylesheet(branding: dict[str, Any] | None) -> str:
    """CSS that colours the header with the account's branding colour: only a colour that
    is exactly `#rrggbb` is ever written (checked again here, not trusted from storage);
    otherwise a valid stylesheet with no rules."""
    colour = valid_colour((branding or {}).get("colour"))
    if colour is None:
        return "/* No branding colour for this client account. */\n"
    css = (f"/* Branding colour of the active client account. */\n"
           f":root {{ --portal-brand: {colour}; }}\n"
           f".portal-nav.navbar {{ background-color: {colour} !important; }}\n")
    return css + (LIGHT_BACKGROUND_RULES if _is_light(colour) else "")
