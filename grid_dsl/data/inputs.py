"""Reading what a user names: spec files, texts and the built-in sample.

Every reader raises UserError (or SpecError, located) for what a user can
fix, so each command reports it as one line with exit code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grid_dsl.language.diagnostics import UserError

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_PATH = PACKAGE_DIR / "sample.txt"
DEMO_SPEC_PATH = PACKAGE_DIR / "demo.axes"


def read_bytes(path: str | Path, what: str) -> bytes:
    """A file's bytes (UserError when it cannot be read)."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{what} is a directory, not a file: {path}") from None
    except OSError as err:
        raise UserError(f"cannot read {what} {path}: {err.strerror or err}") from None


def read_file(path: str | Path, what: str) -> str:
    """A UTF-8 text file, without a leading byte-order mark."""
    path = Path(path)
    data = read_bytes(path, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{what} {path} is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start})") from None
    return text.removeprefix("\ufeff")


def load_plan(path: str):
    """Parse and check the spec at `path` (SpecError on errors in it)."""
    from grid_dsl.data.checker import check
    from grid_dsl.language.parser import parse, decode_spec

    return check(parse(decode_spec(read_bytes(path, "spec file"), str(path)), str(path)))


def print_warnings(plan) -> None:
    for warning in plan.warnings:
        print(warning.render(plan.sources), file=sys.stderr)
