"""Use cases: plain values in, dataclass reports out. Services never print and never exit."""
