"""The members of the active account: invitations, roles, removal, deactivation; and the
anonymous page where an invited person sets a password."""
import uuid

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from portal import members
from portal.errors import DomainError, NotFound
from portal.models import User
from portal.tenancy import require_role
from portal.web.members.forms import InviteForm, RoleForm, SetPasswordForm
from portal.web.request_db import db
from portal.web.template_helpers import is_htmx

bp = Blueprint("members", __name__)


def _index(status: int = 200, **extra):
    rows = members.list_members(db(), g.tenant.account.id)
    template = "members/_table.html" if is_htmx() else "members/index.html"
    return render_template(template, rows=rows, role_form=RoleForm(), **extra), status


@bp.get("/members/")
@require_role("admin")
def index():
    return _index()


@bp.route("/members/invite", methods=["GET", "POST"])
@require_role("admin")
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return render_template("members/invite.html", form=form), 400 if form.errors else 200
    try:
        link = members.invite(db(), g.tenant.account, form.email.data, form.role.data,
                              current_user.id, form.first_name.data or None,
                              form.last_name.data or None)
    except DomainError as exc:
        form.email.errors.append(str(exc))
        return render_template("members/invite.html", form=form), 400
    url = url_for("members.accept_invitation", token=link.token, _external=True) \
        if link.token else None
    return render_template("members/invited.html", link=link, url=url)


def _member_action(action, success: str):
    """Run a change to one member; a broken rule re-renders the list with the message."""
    try:
        action()
    except DomainError as exc:
        if isinstance(exc, NotFound):
            abort(404)
        db().rollback()
        flash(str(exc), "danger")
        return _index(400) if is_htmx() else redirect(url_for("members.index"))
    flash(success, "success")
    return _index() if is_htmx() else redirect(url_for("members.index"))


@bp.post("/members/<uuid:user_id>/role")
@require_role("admin")
def change_role(user_id: uuid.UUID):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    return _member_action(lambda: members.change_role(db(), g.tenant.account.id, user_id,
                                                      form.role.data), "Role changed.")


@bp.post("/members/<uuid:user_id>/remove")
@require_role("admin")
def remove(user_id: uuid.UUID):
    return _member_action(lambda: members.remove_member(db(), g.tenant.account.id, user_id),
                          "Removed from this account.")


@bp.post("/members/<uuid:user_id>/deactivate")
@require_role("admin")
def deactivate(user_id: uuid.UUID):
    return _member_action(lambda: members.deactivate_user(
        db(), g.tenant.account.id, user_id, acting_user=current_user),
        "Deactivated: they can no longer log in, and their sessions have ended.")


@bp.post("/members/<uuid:user_id>/invitation")
@require_role("admin")
def reinvite(user_id: uuid.UUID):
    member = members.membership(db(), g.tenant.account.id, user_id)
    user = db().get(User, member.user_id)
    if user.password_hash is not None:
        abort(400)
    token, expires_at = members.issue_invitation(db(), g.tenant.account, user, current_user.id)
    link = members.InvitationLink(user, token, expires_at, new_user=False)
    return render_template("members/invited.html", link=link,
                           url=url_for("members.accept_invitation", token=token, _external=True))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    form = SetPasswordForm()
    if request.method == "GET" or not form.validate_on_submit():
        if not members.invitation_is_valid(db(), token):
            return render_template("members/invitation_expired.html",
                                   message=members.EXPIRED_MESSAGE), 410
        return render_template("members/accept.html", form=form), 400 if form.errors else 200
    try:
        members.redeem_invitation(db(), token, form.password.data)
    except DomainError as exc:
        if str(exc) == members.EXPIRED_MESSAGE:
            return render_template("members/invitation_expired.html", message=str(exc)), 410
        form.password.errors.append(str(exc))
        return render_template("members/accept.html", form=form), 400
    flash("Your password is set. Log in to start.", "success")
    return redirect(url_for("auth.login"))
