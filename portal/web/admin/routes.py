"""Platform administration: every client account, and the latest audit entries."""
from flask import Blueprint, render_template

from portal.accounts import active_accounts
from portal.audit import latest_entries
from portal.tenancy import require_role
from portal.web.request_db import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@require_role("platform_admin")
def index():
    return render_template("admin/index.html", accounts=active_accounts(db()),
                           entries=latest_entries(db(), limit=50))
