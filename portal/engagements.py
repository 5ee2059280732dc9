"""Managing the engagements of a client account: filtering, creating, editing, closing and
deactivating them (no Flask in here).

Edits are optimistically locked: every change names the `lock_version` it was based on,
and `session.flush()` runs before returning so a save that raced another one fails here
(StaleDataError) rather than at commit time.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import EMAIL_PATTERN, create_engagement
from portal.errors import DomainError
from portal.locking import check_version
from portal.models import STRATEGIES, ClientAccount, Engagement, User, UserAccountAssociation
from portal.summary import refresh_engagement_summary

ENGAGEMENT_TYPES = ("migration", "assessment", "modernization", "optimization")
STATUSES = ("planning", "active", "on_hold", "completed", "cancelled")
PRIORITIES = ("low", "medium", "high", "critical")
TARGET_CLOUDS = ("aws", "azure", "gcp", "oci", "ibm", "private")
MIGRATION_STRATEGIES = STRATEGIES
# The free-form lists of the migration scope (the other two keys have fixed choices).
SCOPE_LISTS = ("excluded_systems", "included_environments", "business_units",
               "geographic_scope")
SCOPE_KEYS = ("target_clouds", "migration_strategies", *SCOPE_LISTS)
# What a form may change; identity, tenancy, authorship and the active flag never come
# from a request.
EDITABLE_FIELDS = frozenset({
    "name", "description", "engagement_type", "status", "priority", "start_date",
    "target_completion_date", "actual_completion_date", "engagement_lead_id",
    "client_contact_name", "client_contact_email", "migration_scope"})
CHOICES = {"engagement_type": ENGAGEMENT_TYPES, "status": STATUSES, "priority": PRIORITIES}
WHAT = "engagement"  # how conflict messages name the record


@dataclass(frozen=True)
class EngagementFilter:
    """Optional equality filters of the engagement list (None: any)."""

    status: str | None = None
    priority: str | None = None
    engagement_type: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.status or self.priority or self.engagement_type)


def filtered_engagements(session: Session, account_id: uuid.UUID,
                         f: EngagementFilter) -> list[Engagement]:
    """The account's active engagements matching every filter that is set, by name."""
    query = select(Engagement).where(Engagement.client_account_id == account_id,
                                     Engagement.is_active.is_(True))
    for column, value in ((Engagement.status, f.status), (Engagement.priority, f.priority),
                          (Engagement.engagement_type, f.engagement_type)):
        if value:
            query = query.where(column == value)
    return list(session.scalars(query.order_by(Engagement.name, Engagement.id)))


def account_members(session: Session, account_id: uuid.UUID) -> list[User]:
    """Active users who belong to the account (who may lead its engagements), by name.
    Sorted here because the e-mail a nameless user displays is encrypted in the table."""
    users = session.scalars(
        select(User).join(UserAccountAssociation, UserAccountAssociation.user_id == User.id)
        .where(UserAccountAssociation.client_account_id == account_id,
               User.is_active.isnot(False)))
    return sorted(users, key=lambda user: user.display_name.casefold())


def check_engagement_lead(session: Session, account_id: uuid.UUID,
                          lead_id: uuid.UUID | None) -> None:
    """A lead, when chosen, must be a member of the engagement's account."""
    if lead_id is not None and lead_id not in {u.id for u in account_members(session,
                                                                               account_id)}:
        raise DomainError("The engagement lead must be a member of this client account.")


def engagement_lead(session: Session, engagement: Engagement) -> User | None:
    """The engagement's lead, if set and still visible (a member of the account)."""
    if engagement.engagement_lead_id is None:
        return None
    return session.get(User, engagement.engagement_lead_id)


def _check_choices(changes: dict) -> None:
    for field, allowed in CHOICES.items():
        if changes.get(field) is not None and changes[field] not in allowed:
            raise DomainError(f"Invalid {field.replace('_', ' ')} {changes[field]!r}: "
                              f"choose one of {', '.join(allowed)}.")
    scope = changes.get("migration_scope") or {}
    for key, allowed in (("target_clouds", TARGET_CLOUDS),
                         ("migration_strategies", MIGRATION_STRATEGIES)):
        unknown = set(scope.get(key) or ()) - set(allowed)
        if unknown:
            raise DomainError(f"Unknown {key.replace('_', ' ')}: {', '.join(sorted(unknown))}.")


def _check_timeline(start, target, actual) -> None:
    if start and target and target < start:
        raise DomainError("The target completion date cannot be before the start date.")
    if start and actual and actual < start:
        raise DomainError("The actual completion date cannot be before the start date.")


def _check_contact(email: str | None) -> None:
    if email and not EMAIL_PATTERN.match(email):
        raise DomainError(f"Invalid client contact e-mail address {email!r}.")


def _allowed(changes: dict) -> dict:
    return {key: value for key, value in changes.items() if key in EDITABLE_FIELDS}


def new_engagement(session: Session, account: ClientAccount, slug: str,
                   changes: dict, created_by: uuid.UUID | None = None) -> Engagement:
    """Create an engagement from form values (only the editable fields are taken), after
    the same checks as an edit; slug, name and quota rules are create_engagement's."""
    fields = _allowed(changes)
    _check_choices(fields)
    _check_timeline(fields.get("start_date"), fields.get("target_completion_date"),
                    fields.get("actual_completion_date"))
    _check_contact(fields.get("client_contact_email"))
    check_engagement_lead(session, account.id, fields.get("engagement_lead_id"))
    name = fields.pop("name", "") or ""
    return create_engagement(session, account, name, slug, created_by=created_by, **fields)


def _check_still_active(engagement: Engagement) -> None:
    if not engagement.is_active:
        raise DomainError("This engagement has been deactivated; it can no longer be changed.")


def update_engagement(session: Session, engagement: Engagement,
                      submitted_version: int | str | None, changes: dict) -> Engagement:
    """Apply the editable fields of `changes` if the form was rendered from the current
    version (EditConflict otherwise).  The migration scope keeps keys it does not know."""
    check_version(engagement, submitted_version, WHAT)
    _check_still_active(engagement)
    fields = _allowed(changes)
    if "name" in fields and not (fields["name"] or "").strip():
        raise DomainError("engagement name is required")
    _check_choices(fields)
    merged = {key: fields.get(key, getattr(engagement, key))
              for key in ("start_date", "target_completion_date", "actual_completion_date")}
    _check_timeline(*merged.values())
    _check_contact(fields.get("client_contact_email"))
    if "engagement_lead_id" in fields and \
            fields["engagement_lead_id"] != engagement.engagement_lead_id:
        # A lead who has since left the account may stay; a new one must be a member.
        check_engagement_lead(session, engagement.client_account_id,
                              fields.get("engagement_lead_id"))
    if "migration_scope" in fields:
        fields["migration_scope"] = {**(engagement.migration_scope or {}),
                                     **fields["migration_scope"]}
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    for key, value in fields.items():
        setattr(engagement, key, value)
    session.flush()
    return engagement


def close_engagement(session: Session, engagement: Engagement,
                     submitted_version: int | str | None) -> Engagement:
    """Mark the engagement completed, stamping the actual completion date unless set."""
    check_version(engagement, submitted_version, WHAT)
    _check_still_active(engagement)
    engagement.status = "completed"
    if engagement.actual_completion_date is None:
        engagement.actual_completion_date = datetime.now(timezone.utc)
    session.flush()
    return engagement


def deactivate_engagement(session: Session, engagement: Engagement,
                          submitted_version: int | str | None) -> Engagement:
    """Hide the engagement from lists, switchers and dashboards (its data stays)."""
    check_version(engagement, submitted_version, WHAT)
    _check_still_active(engagement)
    engagement.is_active = False
    session.flush()
    refresh_engagement_summary(session)
    return engagement
