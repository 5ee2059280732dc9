"""Declarative base, naming convention and the column sets most tables share."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, MetaData, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "check_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "%(table_name)s_pkey",
}

# The tenant predicate every row-level-security policy uses.  NULLIF because the setting
# reads '' once a transaction that set it has ended, and ''::uuid raises; the sub-select
# makes PostgreSQL evaluate it once per query instead of once per row.
CURRENT_CLIENT = "(SELECT NULLIF(current_setting('app.current_client_id', true), '')::uuid)"
CURRENT_USER = "(SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid)"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB, uuid.UUID: Uuid}


def json_object(default: str = "{}") -> Any:
    """A JSONB column defaulting (in the database) to the given JSON literal."""
    return mapped_column(JSONB, server_default=text(f"'{default}'::jsonb"))


def json_array() -> Any:
    return json_object("[]")


def uuid_pk() -> Any:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4,
                         server_default=func.gen_random_uuid())


def created_at_column() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Timestamps:
    """`created_at` / `updated_at`; the database trigger keeps `updated_at` current."""

    created_at: Mapped[datetime | None] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now())


class TenantScoped:
    """`client_account_id` + `engagement_id` columns.  Models pair this with
    `tenant_foreign_keys()` in their `__table_args__`."""

    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid)


def tenant_foreign_keys(engagement: bool = True) -> tuple[ForeignKeyConstraint, ...]:
    """Foreign keys to the tenant and, through both columns, to the engagement, so no row
    can ever point at another tenant's engagement (foreign-key checks bypass RLS)."""
    keys = [ForeignKeyConstraint(["client_account_id"], ["client_accounts.id"],
                                 ondelete="CASCADE")]
    if engagement:
        keys.append(ForeignKeyConstraint(
            ["client_account_id", "engagement_id"],
            ["engagements.client_account_id", "engagements.id"], ondelete="CASCADE"))
    return tuple(keys)
