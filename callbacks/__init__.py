"""Importing this package registers every callback module in it (each
callback declares its permission through ``auth.guard.secure_callback``)."""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
