"""A user's own profile: password and default account/engagement."""
import uuid

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice

from portal.accounts import engagements_of, switchable_accounts
from portal.errors import DomainError
from portal.profile import change_password, save_defaults
from portal.tenancy import end_other_sessions, require_role
from portal.web.profile.forms import DefaultsForm, PasswordChangeForm
from portal.web.request_db import db

bp = Blueprint("profile", __name__, url_prefix="/profile")


def _defaults_form() -> DefaultsForm:
    form = DefaultsForm(default_client_id=str(current_user.default_client_id or ""),
                        default_engagement_id=str(current_user.default_engagement_id or ""))
    form.default_client_id.choices = [SelectChoice("", "First account (alphabetical)")] + [
        SelectChoice(str(m.account_id), m.account_name)
        for m in switchable_accounts(db(), current_user)]
    engagements = engagements_of(db(), g.tenant.account.id) if g.tenant.account else []
    form.default_engagement_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(str(e.id), f"{e.name} ({g.tenant.account.name})") for e in engagements]
    return form


def _page(status: int = 200, password_form=None, defaults_form=None):
    return render_template("profile/index.html",
                           password_form=password_form or PasswordChangeForm(),
                           defaults_form=defaults_form or _defaults_form()), status


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise DomainError("unknown choice") from None


@bp.get("/")
@require_role("login")
def index():
    return _page()


@bp.post("/password")
@require_role("login")
def password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _page(400, password_form=form)
    try:
        change_password(db(), current_user, form.current_password.data, form.new_password.data)
    except DomainError as exc:
        form.new_password.errors.append(str(exc))
        return _page(400, password_form=form)
    end_other_sessions(current_user)
    flash("Password changed. Your other sessions have been logged out.", "success")
    return redirect(url_for("profile.index"))


@bp.post("/defaults")
@require_role("login")
def defaults():
    form = _defaults_form()
    if not form.validate_on_submit():
        return _page(400, defaults_form=form)
    save_defaults(db(), current_user, _uuid_or_none(form.default_client_id.data),
                  _uuid_or_none(form.default_engagement_id.data))
    flash("Saved: you will land there after logging in.", "success")
    return redirect(url_for("profile.index"))
