"""Where uploaded files live: under the instance folder, per account, named by a random id
and an extension from a fixed list — never by the user's file name (no Flask in here)."""
from __future__ import annotations

import uuid
from pathlib import Path

from portal.errors import DomainError

EXTENSIONS = {".csv": ".csv", ".txt": ".csv", ".tsv": ".tsv", ".tab": ".tsv",
              ".xlsx": ".xlsx", ".json": ".json"}
ACCEPTED = "CSV, TSV, XLSX or JSON"


def storage_path(instance_path: Path, account_id: uuid.UUID, original_filename: str) -> Path:
    """A new, server-chosen path for an upload; refuses file types we do not read."""
    extension = EXTENSIONS.get(Path(original_filename or "").suffix.lower())
    if extension is None:
        raise DomainError(f"Upload a {ACCEPTED} file.")
    folder = instance_path / "uploads" / str(account_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{uuid.uuid4().hex}{extension}"
