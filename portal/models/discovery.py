"""Working data of a discovery flow that outlives one phase."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Integer, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base


class CleansedRecord(Base):
    """One cleansed, de-duplicated record of a discovery flow, as its `data_cleansing`
    phase wrote it, in first-seen order (`position`).  The later phases (asset inventory,
    dependencies, tech debt) stream these instead of cleansing the import again; the last
    phase deletes them.  `asset_key` is the key the record's asset has (NULL when the record
    has no name).  No foreign key, like import_rows: the rows are written in bulk and the
    flow that owns them is already tenant-checked."""

    __tablename__ = "cleansed_records"

    client_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_key: Mapped[str | None] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
