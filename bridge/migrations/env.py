"""Alembic's entry point, run for every migration command. It never
connects by itself: ``bridge.migrations`` hands it a connection from
``bridge.db.make_engine`` in ``config.attributes["connection"]``, so a
migration runs in utf8mb4, UTC and READ COMMITTED like the rest of the
bridge. There is no offline (``--sql``) mode."""

from alembic import context

from bridge.migrations import context_options, target_metadata

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError("smsbridge migrations run through `smsbridge db upgrade`, on a connection it makes")

context.configure(connection=connection, target_metadata=target_metadata(), **context_options(connection))
with context.begin_transaction():
    context.run_migrations()
