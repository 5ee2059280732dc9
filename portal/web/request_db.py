"""One database session per request: committed when the response is a success or a
redirect, rolled back otherwise, always closed."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from portal.db import NO_TENANT


def db() -> Session:
    """The request's session (created on first use)."""
    if "db" not in g:
        factory = current_app.extensions["portal"].session_factory
        g.db = factory(info={"tenant": NO_TENANT})
    return g.db


def _finish(response):
    session: Session | None = g.get("db")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.after_request(_finish)
    app.teardown_appcontext(_close)
