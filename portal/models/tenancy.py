"""Client accounts, engagements, users and their memberships."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, DateTime, ForeignKey,
                        Index, Integer, String, Text, UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column

from portal.crypto import EncryptedText
from portal.models.base import (Base, Timestamps, created_at_column, json_object,
                                tenant_foreign_keys, uuid_pk)

ROLES = ("admin", "member", "viewer")

BUSINESS_OBJECTIVES_DEFAULT = (
    '{"primary_goals": [], "timeframe": "", "success_metrics": [], "constraints": []}')
AGENT_PREFERENCES_DEFAULT = (
    '{"discovery_depth": "comprehensive", "automation_level": "assisted", '
    '"risk_tolerance": "moderate", "preferred_clouds": [], "compliance_requirements": []}')
MIGRATION_SCOPE_DEFAULT = (
    '{"target_clouds": [], "migration_strategies": [], "excluded_systems": [], '
    '"included_environments": [], "business_units": [], "geographic_scope": []}')


def active_flag() -> Any:
    return mapped_column(Boolean, server_default=text("true"))


class ClientAccount(Timestamps, Base):
    __tablename__ = "client_accounts"
    __table_args__ = (
        UniqueConstraint("slug", name="client_accounts_slug_unique"),
        Index("idx_client_accounts_active", "is_active"),
        Index("idx_client_accounts_subscription", "subscription_tier"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[str | None] = mapped_column(String(50))
    subscription_tier: Mapped[str | None] = mapped_column(
        String(50), server_default=text("'standard'"))
    max_users: Mapped[int | None] = mapped_column(Integer)
    max_engagements: Mapped[int | None] = mapped_column(Integer)
    storage_quota_gb: Mapped[int | None] = mapped_column(Integer)
    api_quota_monthly: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any] | None] = json_object()
    features_enabled: Mapped[dict[str, Any] | None] = json_object()
    agent_configuration: Mapped[dict[str, Any] | None] = json_object()
    branding: Mapped[dict[str, Any] | None] = json_object()
    business_objectives: Mapped[dict[str, Any] | None] = json_object(BUSINESS_OBJECTIVES_DEFAULT)
    agent_preferences: Mapped[dict[str, Any] | None] = json_object(AGENT_PREFERENCES_DEFAULT)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    is_active: Mapped[bool | None] = active_flag()
    lock_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": lock_version}  # optimistic locking of edits


class User(Timestamps, Base):
    """A person who can log in.  `email` is encrypted at rest; `email_hash` (keyed hash of
    the normalised address) is what login looks up and what keeps addresses unique."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email_hash", name="users_email_unique"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(EncryptedText)
    email_hash: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool | None] = active_flag()
    is_verified: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    is_admin: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    default_client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("client_accounts.id", ondelete="SET NULL", use_alter=True))
    default_engagement_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("engagements.id", ondelete="SET NULL", use_alter=True))
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on password change and deactivation: sessions that remember an older value end.
    session_generation: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    # The user protocol Flask-Login expects (is_active is the column above).
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def display_name(self) -> str:
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.email


class UserAccountAssociation(Base):
    """Membership of a user in a client account, with the role held there."""

    __tablename__ = "user_account_associations"
    __table_args__ = (
        UniqueConstraint("user_id", "client_account_id", name="user_client_unique"),
        CheckConstraint(f"role IN {ROLES!r}", name="valid_role"),
        Index("idx_user_associations_user", "user_id"),
        Index("idx_user_associations_client", "client_account_id"),
        *tenant_foreign_keys(engagement=False),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    role: Mapped[str] = mapped_column(String(50), server_default=text("'member'"))
    created_at: Mapped[datetime | None] = created_at_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class Engagement(Timestamps, Base):
    __tablename__ = "engagements"
    __table_args__ = (
        # Children reference (client_account_id, id): tenant-consistent foreign keys.
        UniqueConstraint("client_account_id", "id", name="engagements_tenant_key"),
        # Slugs are unique within an account only (a global key would leak other tenants').
        UniqueConstraint("client_account_id", "slug", name="engagements_slug_unique"),
        Index("idx_engagements_client", "client_account_id"),
        Index("idx_engagements_status", "status"),
        Index("idx_engagements_active", "is_active"),
        *tenant_foreign_keys(engagement=False),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    engagement_type: Mapped[str | None] = mapped_column(
        String(50), server_default=text("'migration'"))
    status: Mapped[str | None] = mapped_column(String(50), server_default=text("'active'"))
    priority: Mapped[str | None] = mapped_column(String(20), server_default=text("'medium'"))
    start_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    target_completion_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_completion_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    engagement_lead_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    client_contact_name: Mapped[str | None] = mapped_column(String(255))
    client_contact_email: Mapped[str | None] = mapped_column(EncryptedText)
    settings: Mapped[dict[str, Any] | None] = json_object()
    migration_scope: Mapped[dict[str, Any] | None] = json_object(MIGRATION_SCOPE_DEFAULT)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    is_active: Mapped[bool | None] = active_flag()
    lock_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": lock_version}  # optimistic locking of edits




class Invitation(Base):
    """A one-time link that lets an invited user set a password.  Only a hash of the token
    is stored; the link is shown once to the admin who created it."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("token_hash", name="invitations_token_hash_unique"),
        Index("idx_invitations_client", "client_account_id"),
        Index("idx_invitations_user", "user_id"),
        *tenant_foreign_keys(engagement=False),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime | None] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = ["ClientAccount", "Engagement", "Invitation", "User", "UserAccountAssociation", "ROLES"]
