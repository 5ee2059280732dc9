"""Readiness: the database answers, migrations are at head, flows are consistent."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.migrate import head_revision


@dataclass
class Readiness:
    checks: dict[str, dict] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_dict(self) -> dict:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


def readiness(session: Session) -> Readiness:
    report = Readiness()
    try:
        session.execute(text("SELECT 1"))
        report.checks["database"] = {"ok": True}
        current = session.scalar(text("SELECT version_num FROM alembic_version"))
        head = head_revision()
        report.checks["migrations"] = {"ok": current == head, "current": current, "head": head}
        # Master and child flow rows must never disagree (counted across all tenants by a
        # function owned by the summary role).
        mismatches = session.scalar(text("SELECT flow_status_mismatches()"))
        report.checks["flow_consistency"] = {"ok": mismatches == 0, "mismatches": mismatches}
    except SQLAlchemyError as exc:
        session.rollback()
        report.checks["database"] = {"ok": False, "error": type(exc.orig or exc).__name__}
    return report
