"""`portal demo`: a demo client account, users and engagements to click through."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.accounts import add_member, create_account, create_engagement, create_user
from portal.assessment.runs import assess
from portal.db import TenantContext, session_scope, set_tenant
from portal.discovery.flow_runs import import_and_discover
from portal.flows.unattended import tenant_by_slugs
from portal.models import ClientAccount

DEMO_SLUG = "northwind"
LOGINS_FILE = "demo-logins.txt"
DEMO_INVENTORY = Path(__file__).parent / "demo_data" / "northwind-inventory.csv"

# (email, role in Northwind, role in Contoso, platform admin)
DEMO_USERS = [
    ("admin@demo.portal", None, None, True),
    ("consultant@demo.portal", "member", "member", False),
    ("it.lead@northwind.example", "admin", None, False),
    ("auditor@northwind.example", "viewer", None, False),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    what: str


def _describe(northwind: str | None, contoso: str | None, admin: bool) -> str:
    if admin:
        return "platform admin"
    roles = [f"{role} of {name}" for role, name in ((northwind, "Northwind"),
                                                    (contoso, "Contoso")) if role]
    return ", ".join(roles)


def _populate(session: Session) -> list[DemoLogin]:
    northwind = create_account(session, "Northwind Traders", DEMO_SLUG, industry="Retail",
                               company_size="5,000-10,000", subscription_tier="enterprise")
    contoso = create_account(session, "Contoso Health", "contoso", industry="Healthcare",
                             company_size="1,000-5,000")
    logins = []
    for email, in_northwind, in_contoso, is_admin in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        user = create_user(session, email, password, is_admin=is_admin)
        for account, role in ((northwind, in_northwind), (contoso, in_contoso)):
            if role:
                add_member(session, account, user, role)
        logins.append(DemoLogin(email, password, _describe(in_northwind, in_contoso, is_admin)))
    context = session.info["tenant"]
    for account, name, slug, description in (
            (northwind, "Datacenter exit 2027", "dc-exit",
             "Move 1,200 servers out of the Reading datacenter before the lease ends."),
            (contoso, "Cloud readiness", "cloud-readiness",
             "Assess the clinical systems estate for a move to Azure.")):
        set_tenant(session, context.with_(client_id=account.id))
        create_engagement(session, account, name, slug, description=description,
                          priority="high")
    set_tenant(session, context)
    return logins


def load_demo(factory: sessionmaker[Session], instance_path: Path) -> list[DemoLogin] | None:
    """Create the demo data unless it exists; returns the new logins (also saved, mode 0600,
    under the instance folder), or None when the demo was already loaded."""
    with session_scope(factory, TenantContext(platform_admin=True)) as session:
        if session.scalar(select(ClientAccount.id).where(ClientAccount.slug == DEMO_SLUG)):
            return None
        logins = _populate(session)
    # A populated inventory to land on: the shipped sample through the discovery flow.
    import_and_discover(factory, instance_path, DEMO_INVENTORY, DEMO_SLUG, "dc-exit")
    # ...and its 6R recommendations, so the dashboard and the 6R pages have something to say.
    assess(factory, tenant_by_slugs(factory, DEMO_SLUG, "dc-exit"), by="demo",
           name="Demo assessment")
    path = instance_path / LOGINS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{x.email}\t{x.password}\t{x.what}\n" for x in logins)
    return logins


def saved_logins(instance_path: Path) -> list[DemoLogin]:
    path = instance_path / LOGINS_FILE
    if not path.exists():
        return []
    return [DemoLogin(*line.split("\t", 2)) for line in path.read_text().splitlines() if line]
