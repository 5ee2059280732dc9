"""Blueprints, one per feature: `routes.py` (and `forms.py`) in each sub-package."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    from portal.web.accounts.routes import bp as accounts
    from portal.web.admin.routes import bp as admin
    from portal.web.assessment.routes import bp as assessment
    from portal.web.assets.routes import bp as assets
    from portal.web.audit.routes import bp as audit
    from portal.web.auth.routes import bp as auth
    from portal.web.dashboard.routes import bp as dashboard
    from portal.web.engagements.routes import bp as engagements
    from portal.web.flows.routes import bp as flows
    from portal.web.health.routes import bp as health
    from portal.web.home.routes import bp as home
    from portal.web.imports.routes import bp as imports
    from portal.web.members.routes import bp as members
    from portal.web.profile.routes import bp as profile

    for blueprint in (auth, home, accounts, engagements, imports, assets, flows, assessment,
                      admin, health, audit, members, profile, dashboard):
        app.register_blueprint(blueprint)
