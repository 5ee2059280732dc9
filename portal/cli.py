"""The `portal` command (see README for the contract others rely on)."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from portal import crypto, embedded, migrate
from portal.accounts import (account_by_slug, add_member, create_account, create_engagement,
                             create_user, user_by_email)
from portal.config import Settings
from portal.db import app_role_url, make_engine, make_session_factory, \
    session_scope, set_tenant
from portal.demo import load_demo, saved_logins
from portal.discovery import learning
from portal.discovery.field_mapping import suggest_field_mappings
from portal.discovery.parsing import InventoryFileError, open_inventory
from portal.errors import DomainError
from portal.flows.unattended import OPERATOR  # whoever runs the CLI administers the platform



def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def friendly_errors(command):
    """Turn expected failures into one clear line on stderr and a non-zero exit."""
    @wraps(command)
    def wrapped(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (DomainError, InventoryFileError, migrate.BootstrapError,
                embedded.EmbeddedPostgresError) as exc:
            _fail(str(exc))
        except OperationalError as exc:
            _fail(f"cannot reach the database: {_first_line(exc.orig)}")
        except ProgrammingError as exc:
            if "does not exist" in str(exc.orig):
                _fail("the database is not migrated: run 'portal db upgrade'")
            _fail(f"database error: {_first_line(exc.orig)}")
        except SQLAlchemyError as exc:
            _fail(f"database error: {_first_line(getattr(exc, 'orig', None) or exc)}")
    return wrapped


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def admin_database(settings: Settings) -> Iterator[str]:
    """The admin URL: DATABASE_URL, or the embedded server (stopped again afterwards if
    this command started it)."""
    if settings.database_url:
        yield settings.database_url
        return
    with embedded.running(settings.instance_path) as url:
        yield url


@contextmanager
def app_sessions(settings: Settings) -> Iterator:
    """A session factory connected as the application role."""
    crypto.configure(settings.encryption_key, settings.lookup_key)
    with admin_database(settings) as url:
        engine = make_engine(app_role_url(url, settings.app_db_password), pool_size=1)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()


@contextmanager
def operator_session() -> Iterator:
    """One unit of work as the platform operator (committed if the command succeeds)."""
    with app_sessions(Settings.from_env()) as factory, session_scope(factory, OPERATOR) as s:
        yield s


@click.group()
def main() -> None:
    """Modernize Migration Portal."""


@main.group()
def db() -> None:
    """Database roles and migrations."""


@db.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Create the roles if missing, then migrate to the newest revision."""
    settings = Settings.from_env()
    with admin_database(settings) as url:
        migrate.upgrade(url, settings.app_db_password)
    click.echo(f"database at revision {migrate.head_revision()}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@friendly_errors
def db_downgrade(revision: str) -> None:
    """Migrate down to REVISION (default: one step; 'base' for empty)."""
    with admin_database(Settings.from_env()) as url:
        migrate.downgrade(url, revision)
    click.echo(f"database downgraded to {revision}")


@main.group()
def users() -> None:
    """Users."""


@users.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make the user a platform administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@friendly_errors
def users_create(email: str, admin: bool, password_stdin: bool) -> None:
    """Create a user who logs in with EMAIL."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise DomainError("no terminal to ask for a password: use --password-stdin")
    with operator_session() as s:
        user = create_user(s, email, password, is_admin=admin)
    click.echo(f"created user {email} ({user.id}){' as platform admin' if admin else ''}")


@main.group()
def accounts() -> None:
    """Client accounts and their members."""


@accounts.command("create")
@click.argument("name")
@click.option("--slug", required=True, help="Short unique name used in URLs and commands.")
@friendly_errors
def accounts_create(name: str, slug: str) -> None:
    """Create a client account called NAME."""
    with operator_session() as s:
        account = create_account(s, name, slug)
    click.echo(f"created account {slug} ({account.id})")


@accounts.command("add-member")
@click.argument("account_slug")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "member", "viewer"]))
@friendly_errors
def accounts_add_member(account_slug: str, email: str, role: str) -> None:
    """Give the user EMAIL a role in the account ACCOUNT_SLUG."""
    with operator_session() as s:
        add_member(s, account_by_slug(s, account_slug), user_by_email(s, email), role)
    click.echo(f"{email} is now {role} of {account_slug}")


@main.group()
def engagements() -> None:
    """Engagements."""


@engagements.command("create")
@click.argument("account_slug")
@click.argument("name")
@click.option("--slug", required=True, help="Short name, unique within the account.")
@friendly_errors
def engagements_create(account_slug: str, name: str, slug: str) -> None:
    """Create the engagement NAME in the account ACCOUNT_SLUG."""
    with operator_session() as s:
        account = account_by_slug(s, account_slug)
        set_tenant(s, OPERATOR.with_(client_id=account.id))
        engagement = create_engagement(s, account, name, slug)
    click.echo(f"created engagement {account_slug}/{slug} ({engagement.id})")


@main.group("fields")
def fields_group() -> None:
    """Field mapping of inventory files."""


@fields_group.command("suggest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_slug", help="Use (and record in) this account's learning.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def fields_suggest(file: Path, account_slug: str | None, as_json: bool) -> None:
    """Suggest how the columns of FILE map onto the canonical asset fields."""
    parsed = open_inventory(file, file.name)
    sample = [row.values for row in parsed.sample(50)]
    if account_slug:
        with operator_session() as session:
            account = account_by_slug(session, account_slug)
            set_tenant(session, OPERATOR.with_(client_id=account.id))
            started = datetime.now(timezone.utc)
            mappings = suggest_field_mappings(parsed.columns, sample,
                                              learning.learned_mappings(session, account.id))
            learning.mark_used(session, account.id, mappings)
            learning.record_run(session, account.id, None, None, started, mappings,
                                f"portal fields suggest {file.name[:200]}")
    else:
        mappings = suggest_field_mappings(parsed.columns, sample)
    if as_json:
        click.echo(json.dumps({"columns": [
            {"source": m.source, "target": m.target, "confidence": m.confidence, "unit": m.unit}
            for m in mappings]}, indent=2))
        return
    for m in mappings:
        click.echo(f"{m.source[:40]:<40} {m.target or '-':<24} {m.confidence:>5.2f} "
                   f"{m.unit or '':<8} {m.reason}")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_slug", required=True)
@click.option("--engagement", "engagement_slug", required=True)
@click.option("--connections", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of source,target,port connections for the dependency analysis.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@friendly_errors
def import_inventory(file: Path, account_slug: str, engagement_slug: str,
                     connections: Path | None, as_json: bool) -> None:
    """Run a discovery flow on FILE to the end, accepting mappings that meet the threshold."""
    from portal.discovery.flow_runs import import_and_discover
    settings = Settings.from_env()
    with app_sessions(settings) as factory:
        outcome = import_and_discover(factory, settings.instance_path, file, account_slug,
                                      engagement_slug, connections)
    click.echo(json.dumps(outcome, indent=2) if as_json else
               "\n".join(f"{k}: {v}" for k, v in outcome.items() if k != "mapping"))
    if outcome["status"] != "completed":
        sys.exit(1)


@main.command("assess")
@click.option("--account", "account_slug", required=True)
@click.option("--engagement", "engagement_slug", required=True)
@click.option("--type", "assessment_type", default="comprehensive", show_default=True,
              type=click.Choice(["quick", "comprehensive", "targeted"]))
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@friendly_errors
def assess_engagement(account_slug: str, engagement_slug: str, assessment_type: str,
                      as_json: bool) -> None:
    """Run an assessment flow over every asset of the engagement, to the end."""
    from portal.assessment.runs import assess
    from portal.flows.unattended import tenant_by_slugs
    with app_sessions(Settings.from_env()) as factory:
        outcome = assess(factory, tenant_by_slugs(factory, account_slug, engagement_slug),
                         assessment_type=assessment_type)
    click.echo(json.dumps(outcome, indent=2) if as_json else
               "\n".join(f"{k}: {v}" for k, v in outcome.items()))
    if outcome["status"] != "completed":
        sys.exit(1)


def _print_logins(settings: Settings, logins) -> None:
    if logins:
        click.echo("Demo logins:")
        for login in logins:
            click.echo(f"  {login.email:<28} {login.password:<18} {login.what}")
    else:
        click.echo(f"Demo already loaded; its logins are in {settings.instance_path}/demo-logins.txt")


@main.command()
@friendly_errors
def demo() -> None:
    """Load a demo account, users and engagements (once)."""
    settings = Settings.from_env()
    with app_sessions(settings) as factory:
        logins = load_demo(factory, settings.instance_path)
    _print_logins(settings, logins or saved_logins(settings.instance_path))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo data if missing.")
@click.option("--no-worker", is_flag=True,
              help="Run no background job worker (run 'portal worker' elsewhere).")
@click.option("--worker-concurrency", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Flow phases the background worker runs at the same time.")
@friendly_errors
def serve(host: str, port: int, workers: int, with_demo: bool, no_worker: bool,
          worker_concurrency: int) -> None:
    """Migrate, then serve the portal with gunicorn, and a job worker beside it."""
    from portal.server import run_gunicorn, worker_process

    settings = Settings.from_env()
    with admin_database(settings) as url:
        migrate.upgrade(url, settings.app_db_password)
        settings.database_url = url
        if with_demo:
            with app_sessions(settings) as factory:
                logins = load_demo(factory, settings.instance_path)
            _print_logins(settings, logins or saved_logins(settings.instance_path))
        click.echo(f"Modernize Migration Portal on http://{host}:{port}/  (Ctrl+C stops it)")
        with nullcontext() if no_worker else worker_process(url, worker_concurrency):
            run_gunicorn(settings, host, port, workers)


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Flow phases run at the same time.")
@friendly_errors
def worker(concurrency: int) -> None:
    """Run a background job worker (flow phases, from the queue in PostgreSQL) until
    Ctrl+C or SIGTERM; start as many as needed, on any machine that reaches the database."""
    from portal.flows.jobs import run_worker

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    with admin_database(settings) as url:
        settings.database_url = url
        run_worker(settings, concurrency)
