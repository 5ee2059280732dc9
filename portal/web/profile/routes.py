"""A user's own profile: password and default account/engagement."""
from flask import Blueprint

bp = Blueprint("profile", __name__, url_prefix="/profile")
