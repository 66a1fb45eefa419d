"""Importing this package registers every callback (each declares its permission)."""
from callbacks import queues  # noqa: F401
