"""Table models of the performance service, on a metadata of its own."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.db import define_plumbing_tables, new_metadata

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)


class Base(SQLModel, registry=registry(metadata=metadata)):
    """Base of every performance table model."""
