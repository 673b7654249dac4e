"""Argument types shared by every `multigrid` command: argparse calls them on
an option's text and reports their ArgumentTypeError as a usage error (exit 2)."""

from __future__ import annotations

import argparse
import math


def whole(least: int):
    """A whole number >= least."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if number < least:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}" if least == 0
                                             else f"must be at least {least}, got {number}")
        return number

    return parse


positive = whole(1)
seed = whole(0)


def fraction(value: str) -> float:
    """A share in [0, 1): a validation fraction (0 = no validation split)."""
    number = _number(value, "a number")
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {value}")
    return number


def share(value: str) -> float:
    """A positive share (may exceed 1): a budget relative to a size."""
    number = _number(value, "a number")
    if not 0 < number <= 100:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 100, got {value}")
    return number


def seconds(value: str) -> float:
    number = _number(value, "a number of seconds")
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return number


def flops(value: str) -> float:
    number = _number(value, "a number of FLOPs (e.g. 2e13)")
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return number


def temperature(value: str) -> float:
    number = _number(value, "a number")
    if not (math.isfinite(number) and number >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0 (0 = always the likeliest), got {value}")
    return number


def _number(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None


class IntermixedParser(argparse.ArgumentParser):
    """Options and positionals in any order (`expand RUN --out RUN2 key=value`):
    a plain parser gives RUN and the overrides to its first run of
    positionals only, and calls the overrides after --out unrecognized.
    Set on a subcommand's parser with `cmd.__class__ = IntermixedParser`."""

    def parse_known_args(self, args=None, namespace=None):
        if getattr(self, "_intermixing", False):  # parse_known_intermixed_args calls back here
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
