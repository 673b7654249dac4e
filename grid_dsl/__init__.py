"""The .axes spec language: parse, check, format and compile specs into
aligned meta-token streams.

    >>> import grid_dsl
    >>> plan = grid_dsl.loads_spec('lexicon royal { "king" | "queen" -> ROYAL }')
    >>> grid = grid_dsl.compile_text(plan, "The king and the queen.")
    >>> grid.labels("royal")[4:8]
    ['ROYAL', 'ROYAL', 'ROYAL', 'ROYAL']
"""

from .checker import check, load_spec, loads_spec
from .compiler import compile_documents, compile_text
from .diagnostics import SpecError
from .grid import Grid
from .parser import parse, parse_file

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
