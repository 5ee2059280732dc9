"""Typed SQLAlchemy models, one module per domain.  Importing this package registers them
all on `Base.metadata` (Alembic's target)."""
from portal.models.agents import AgentMemory, AgentTaskHistory
from portal.models.assessment import STRATEGIES, SixrAnalysis
from portal.models.assets import Asset
from portal.models.audit import AuditLog, LoginAttempt
from portal.models.base import Base
from portal.models.discovery import CleansedRecord
from portal.models.flows import AssessmentFlow, CollectionFlow, DiscoveryFlow, MasterFlow
from portal.models.imports import DataImport, ImportRow
from portal.models.tenancy import (ROLES, ClientAccount, Engagement, Invitation, User,
                                   UserAccountAssociation)

__all__ = [
    "AgentMemory", "AgentTaskHistory", "Asset", "AssessmentFlow", "AuditLog", "Base",
    "CleansedRecord",
    "ClientAccount", "CollectionFlow", "DataImport", "ImportRow", "DiscoveryFlow", "Engagement", "Invitation",
    "LoginAttempt", "MasterFlow", "ROLES", "STRATEGIES", "SixrAnalysis", "User",
    "UserAccountAssociation",
]
