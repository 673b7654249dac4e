"""The .axes spec language: parse, check, format and compile specs into
aligned meta-token streams.

    >>> import grid_dsl
    >>> plan = grid_dsl.loads_spec('lexicon royal { "king" | "queen" -> ROYAL }')
    >>> grid = grid_dsl.compile_text(plan, "The king and the queen.")
    >>> grid.labels("royal")[4:8]
    ['ROYAL', 'ROYAL', 'ROYAL', 'ROYAL']
"""

import importlib

# Loaded on first use (PEP 562), so that `multigrid --help` and the commands
# that need no spec start without importing every kind of axis.
_WHERE = {
    "check": "data.checker", "load_spec": "data.checker", "loads_spec": "data.checker",
    "compile_documents": "data.compiler", "compile_text": "data.compiler",
    "SpecError": "language.diagnostics", "Grid": "data.grid", "parse": "language.parser", "parse_file": "language.parser",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Grid",
    "SpecError",
    "check",
    "compile_documents",
    "compile_text",
    "load_spec",
    "loads_spec",
    "parse",
    "parse_file",
]
