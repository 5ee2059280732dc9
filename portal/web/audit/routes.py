"""The audit log: who changed what, when.  Account admins read their account's entries,
platform admins may read every account's (scope=all)."""
from datetime import timezone

from flask import Blueprint, g, render_template, request
from flask_login import current_user

from portal import audit
from portal.tenancy import require_role
from portal.web.audit.forms import AuditFilterForm
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.context_processor
def _audit_helpers() -> dict:
    return {"changes_of": audit.field_changes, "as_json": audit.as_json,
            "short_id": audit.short_id, "AUTH_TABLE": audit.AUTH_TABLE, "utc": timezone.utc}


@bp.get("/")
@require_role("admin")
def index():
    form = AuditFilterForm(request.args, audit.audited_tables(db()))
    if not form.validate():
        return _render(form, None), 400
    account_id = None if form.all_accounts(current_user.is_admin) else g.tenant.account.id
    page = audit.audit_page(db(), account_id, form.to_filter(), form.cursor.data or None)
    return _render(form, page)


def _render(form: AuditFilterForm, page: audit.AuditPage | None) -> str:
    """The results fragment for htmx, else the whole page with the filter form."""
    entries = page.entries if page else []
    all_accounts = form.all_accounts(current_user.is_admin)
    context = {
        "form": form, "page": page, "all_accounts": all_accounts,
        "filter_args": form.query_args(current_user.is_admin),
        "users": audit.user_labels(db(), (entry.user_id for entry in entries)),
        "accounts": audit.account_labels(db(), (entry.client_account_id for entry in entries))
        if all_accounts else {},
    }
    if is_htmx():
        return render_template("audit/_results.html", **context)
    return render_template("audit/index.html", **context,
                           people=audit.account_people(db(), g.tenant.account.id))
