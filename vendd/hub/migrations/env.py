"""Alembic's entry point for the hub's schema; always given a connection by
`vendd.hub.migrate.upgrade` (there is no alembic.ini)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
