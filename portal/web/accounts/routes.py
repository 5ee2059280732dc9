"""The client accounts a user can work in, and switching between them."""
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts import active_accounts, memberships_of
from portal.tenancy import choose_context, require_role
from portal.web.htmx import redirect_or_refresh
from portal.web.request_db import db

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.get("/")
@require_role("login")
def index():
    if current_user.is_admin:
        accounts = [(a.id, a.name, a.slug, "platform admin") for a in active_accounts(db())]
    else:
        accounts = [(m.account_id, m.account_name, m.account_slug, m.role)
                    for m in memberships_of(db(), current_user.id)]
    return render_template("accounts/index.html", accounts=accounts)


@bp.post("/switch")
@require_role("login")
def switch():
    try:
        account_id = uuid.UUID(request.form.get("account_id", ""))
    except ValueError:
        abort(400)
    allowed = {a.id for a in active_accounts(db())} if current_user.is_admin else \
        {m.account_id for m in memberships_of(db(), current_user.id)}
    if account_id not in allowed:
        abort(404)
    choose_context(account_id)
    flash("Switched client account.", "success")
    return redirect_or_refresh(url_for("home.index"))
