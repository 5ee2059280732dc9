"""The members of the active account: invitations, roles, removal, deactivation."""
from flask import Blueprint

bp = Blueprint("members", __name__)
