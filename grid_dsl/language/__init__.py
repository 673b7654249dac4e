"""The .axes language: grammar, AST, parser, formatter, diagnostics. It
imports no axis. Importing it imports every kind's node and writing
(grid_dsl/language/kinds/), so the parser and the formatter know them all."""

from grid_dsl.language import kinds  # noqa: F401  (registers every kind)
