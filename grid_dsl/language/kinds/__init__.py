"""The language side of each kind of axis: one module per kind, holding its
AST node (registered under its grammar rule `<kind>_decl`) and how
`multigrid fmt` writes it. What the kind computes is its module in axes/
(docs/adding-a-kind.md). Every module here is imported, so a new kind needs
no registration beyond its own module."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
