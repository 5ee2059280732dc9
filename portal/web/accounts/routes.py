"""The client accounts a user can work in, and switching between them."""
import uuid

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user

from portal.accounts import switchable_accounts
from portal.tenancy import choose_context, require_role
from portal.web.htmx import redirect_or_refresh
from portal.web.request_db import db

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.get("/")
@require_role("login")
def index():
    return render_template("accounts/index.html", rows=switchable_accounts(db(), current_user))


@bp.post("/switch")
@require_role("login")
def switch():
    try:
        account_id = uuid.UUID(request.form.get("account_id", ""))
    except ValueError:
        abort(400)
    if account_id not in {m.account_id for m in switchable_accounts(db(), current_user)}:
        abort(404)
    choose_context(account_id)
    flash("Switched client account.", "success")
    return redirect_or_refresh(url_for("home.index"))
