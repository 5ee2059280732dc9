"""Login and logout."""
from flask import (Blueprint, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_user, logout_user

from portal.accounts import starting_context
from portal.auth import authenticate, record_auth_event
from portal.tenancy import choose_context, remember_session_generation, require_role
from portal.web.auth.forms import LoginForm
from portal.web.request_db import db
from portal.web.safe_redirect import safe_next_url

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    settings = current_app.extensions["portal"].settings
    result = authenticate(db(), form.email.data, form.password.data, request.remote_addr,
                          settings.login_max_failures, settings.login_window_seconds)
    if result.user is None:
        db().commit()  # the failed attempt must count even though the response is an error
        form.password.errors.append(result.message)
        return render_template("auth/login.html", form=form), 429 if result.throttled else 401
    next_url = safe_next_url(request.args.get("next"))
    session.clear()  # nothing from before the login survives into the new session
    login_user(result.user)
    remember_session_generation(result.user)
    account_id, engagement_id = starting_context(db(), result.user)
    choose_context(account_id, engagement_id)
    record_auth_event(db(), "LOGIN", result.user.id, account_id, remote_addr=request.remote_addr)
    flash(f"Welcome, {result.user.display_name}.", "success")
    return redirect(next_url or url_for("home.index"))


@bp.post("/logout")
@require_role("login")
def logout():
    record_auth_event(db(), "LOGOUT", current_user.id, g.tenant.context.client_id)
    logout_user()
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
