"""The data layer: SQLAlchemy models and the lazily built engine."""
