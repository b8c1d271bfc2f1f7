"""Pure-Python records and rules: no database, no CLI."""
