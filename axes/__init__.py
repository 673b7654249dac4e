"""Kinds of axis: one module per kind, each registering a builder for its AST
node (see base.py for the interface). Every module here is imported, so a new
kind needs no registration beyond its own module (the other pieces of a kind:
docs/adding-a-kind.md)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
