"""Alembic's environment for edm: the models' metadata, and the connection `edm.store.migrate` passes."""

from __future__ import annotations

from alembic import context

from edm.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
    include_name=lambda name, kind, _parent: not (kind == "table" and name == "edm_scheduler_jobs"),
)
with context.begin_transaction():
    context.run_migrations()
