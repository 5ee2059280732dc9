"""Rendering a page that lists one kind of row of the active engagement."""
from flask import g, render_template

from portal.web.request_db import db


def render_engagement_rows(template: str, fetch) -> str:
    """`fetch(session, account_id, engagement_id)` gives the rows for `template`."""
    return render_template(template, rows=fetch(db(), g.tenant.account.id,
                                                 g.tenant.engagement.id))
