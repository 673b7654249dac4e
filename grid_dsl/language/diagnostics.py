"""Errors a user can cause, with a location and a fix.

Every problem found in a spec becomes a `Diagnostic`; the parser and the
checker collect all of them and raise one `SpecError`, which the command line
prints as `file:line:col: error: message`, the source line with a caret, and
a hint, then exits with code 2.
"""

from __future__ import annotations

import difflib
from typing import Iterable

import attrs

from grid_dsl.language.nodes import Loc


class UserError(Exception):
    """A problem with the command line, a file, a corpus or a checkpoint that
    the user can fix: the message says what is wrong, where, and how to fix
    it; the command line prints it and exits with code 2, without a traceback."""


@attrs.frozen
class Diagnostic:
    loc: Loc | None
    message: str
    hint: str = ""
    severity: str = "error"  # or "warning"

    def render(self, sources: dict[str, str]) -> str:
        where = str(self.loc) if self.loc else "<spec>"
        lines = [f"{where}: {self.severity}: {self.message}"]
        text = sources.get(self.loc.file) if self.loc else None
        if text is not None and 1 <= self.loc.line <= text.count("\n") + 1:
            source_line = text.split("\n")[self.loc.line - 1].rstrip("\r")
            width = 1
            if self.loc.end_line == self.loc.line and self.loc.end_column > self.loc.column:
                width = self.loc.end_column - self.loc.column
            lines.append("    " + source_line)
            lines.append("    " + " " * (self.loc.column - 1) + "^" * width)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class SpecError(Exception):
    """One or more errors in a spec (or in a file it reads)."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources = dict(sources or {})
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render(self.sources) for d in self.diagnostics)

    @property
    def messages(self) -> list[str]:
        return [d.message for d in self.diagnostics]


class Diagnostics:
    """Collects diagnostics while a stage runs; `raise_if_errors` ends it."""

    def __init__(self, sources: dict[str, str] | None = None):
        self.items: list[Diagnostic] = []
        self.sources: dict[str, str] = dict(sources or {})

    def error(self, loc: Loc | None, message: str, hint: str = "") -> None:
        self.items.append(Diagnostic(loc, message, hint))

    def warning(self, loc: Loc | None, message: str, hint: str = "") -> None:
        self.items.append(Diagnostic(loc, message, hint, "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        """Raise all errors at once, in source order (files in include order)."""
        if self.errors:
            files = {name: i for i, name in enumerate(self.sources)}

            def where(d: Diagnostic):
                if d.loc is None:
                    return (len(files), 0, 0)
                return (files.get(d.loc.file, len(files)), d.loc.line, d.loc.column)

            raise SpecError(sorted(self.errors, key=where), self.sources)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def inner_loc(loc: Loc, offset: int, width: int = 1) -> Loc:
    """The location `offset` characters into a one-line token at `loc`."""
    column = loc.column + offset
    return Loc(loc.file, loc.line, column, loc.line, column + width)
