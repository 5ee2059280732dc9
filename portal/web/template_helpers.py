"""What every page's layout needs: the tenant, the switchers' choices, htmx awareness."""
from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user

from portal.accounts import engagements_of, switchable_accounts
from portal.web.request_db import db


def _layout_context() -> dict:
    tenant = getattr(g, "tenant", None)
    if tenant is None or not current_user.is_authenticated:
        return {"tenant": tenant}
    choices = [(m.account_id, m.account_name) for m in switchable_accounts(db(), current_user)]
    engagements = engagements_of(db(), tenant.account.id) if tenant.account else []
    return {"tenant": tenant, "account_choices": choices, "engagement_choices": engagements}


def is_htmx() -> bool:
    """An htmx request that wants a fragment (history restores want the whole page)."""
    return bool(request.headers.get("HX-Request")) and \
        not request.headers.get("HX-History-Restore-Request")


def _vary_on_htmx(response):
    response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    app.context_processor(_layout_context)
    app.jinja_env.globals["is_htmx"] = is_htmx
    app.after_request(_vary_on_htmx)
