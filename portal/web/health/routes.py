"""Liveness and readiness probes (JSON, no login)."""
from flask import Blueprint, jsonify

from portal.health import readiness
from portal.web.request_db import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    report = readiness(db())
    return jsonify(report.as_dict()), 200 if report.ready else 503
