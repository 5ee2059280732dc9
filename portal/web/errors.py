"""Friendly error pages (and fragments for htmx), never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.errors import DomainError, NotFound
from portal.locking import CONFLICT_MESSAGE, EditConflict
from portal.web.request_db import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Not logged in", "Please log in to continue."),
    403: ("Not allowed", "Your role does not allow this."),
    404: ("Not found", "There is nothing here, or it belongs to another account."),
    405: ("Not allowed", "This address does not accept that method."),
    409: ("Conflict", "Someone else changed this first. Reload and try again."),
    413: ("Too large", "The upload is larger than this portal accepts."),
    429: ("Slow down", "Too many requests. Wait a few minutes and try again."),
    500: ("Something went wrong", "The error has been logged. Nothing was half-saved."),
}


def render_error(status: int, detail: str | None = None):
    title, message = MESSAGES.get(status, MESSAGES[500])
    template = "errors/_error.html" if request.headers.get("HX-Request") else "errors/page.html"
    return render_template(template, status=status, title=title,
                           message=detail or message), status


def _http_error(exc: HTTPException):
    return render_error(exc.code or 500)


def _csrf_error(exc: CSRFError):
    return render_error(400, "The form expired or was not sent from this site. "
                             "Reload the page and try again.")


def _domain_error(exc: DomainError):
    """A rule broken deeper than a form could check: 404, 409 or 400 with its message.
    Nothing of the failed request is kept (and the session is usable for the layout)."""
    db().rollback()
    if isinstance(exc, NotFound):
        return render_error(404)
    if isinstance(exc, EditConflict):
        return render_error(409, str(exc))
    return render_error(400, str(exc))


def _stale(exc: StaleDataError):
    db().rollback()  # a failed flush leaves the session unusable until rolled back
    return render_error(409, CONFLICT_MESSAGE.format(what="record"))


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException) and not isinstance(exc, InternalServerError):
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(StaleDataError, _stale)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
