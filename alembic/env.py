"""Alembic environment.  Migrations run on a connection handed over by portal.migrate
(already switched to the owner role) or, from the alembic command line, on the server the
portal is configured for."""
from alembic import context

from portal.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through 'portal db upgrade|downgrade'")
run_migrations(connection)
if connection.in_transaction():
    connection.commit()
