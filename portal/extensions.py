"""Flask extensions, created unbound and bound to the app in create_app()."""
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
# A session cookie replayed from a different browser fingerprint is dropped.
login_manager.session_protection = "strong"

csrf = CSRFProtect()
