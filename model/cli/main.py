"""multigrid: the command line, one subcommand per stage.

    multigrid check | show | fmt SPEC ...        grid_dsl/cli/spec.py
    multigrid compile | merge | download ...     grid_dsl/cli/dataset.py
    multigrid stats DIR                          grid_dsl/cli/stats.py
    multigrid train | eval | expand ...          model/cli/train.py
    multigrid sample RUN                         model/cli/sample.py
    multigrid eval-task RUN --task T             model/cli/tasks.py
    multigrid distill RUN                        model/cli/distill.py
    multigrid improve ...                        model/cli/improve.py
    multigrid compare | demo | equal-compute ... model/cli/experiments.py

Each module has `add_commands(subparsers)`, adding parsers whose `run(args)
-> int` raises UserError or SpecError for what a user can fix; they import
their heavy dependencies (torch, NLTK) inside `run`, so `multigrid --help`
and `check` start quickly. This is the top layer (docs/architecture.md): it
wires arguments to the layers below and nothing imports it.

Exit codes: 0 success; 1 a check failed; 2 a user error (an error in the
spec, an unreadable file, a bad argument), printed as a located message on
stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from grid_dsl.cli import dataset, spec, stats
from grid_dsl.language.diagnostics import SpecError, UserError
from model.cli import distill, experiments, improve, sample, tasks, train

COMMAND_MODULES = (spec, dataset, stats, train, sample, tasks, experiments, distill, improve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multigrid", description="MultiGrid: .axes specs, compiled grids, grid transformers and the experiments that test them.")
    parser.add_argument("--version", action="version", version=f"multigrid {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in COMMAND_MODULES:
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare `multigrid`: what it can do
        parser.print_help()
        return 0
    command = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction))).choices.get(argv[0])
    hint = _config_key_as_option(argv, command) if command else ""
    if hint:
        command.print_usage(sys.stderr)
        print(f"multigrid {argv[0]}: error: {hint}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.run(args)
    except SpecError as err:
        print(err.render(), file=sys.stderr)
        return 2
    except UserError as err:
        print(f"multigrid: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `multigrid show ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("multigrid")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "(not installed)"


def _config_key_as_option(argv: list[str], command: argparse.ArgumentParser) -> str:
    """The hint for a training key written as an option (`--max_iters=10`,
    nanoGPT's style) to a command that takes key=value overrides and has no
    such option of its own."""
    keys = getattr(command, "config_keys", None)  # set by model.network.config.add_overrides
    if not keys:
        return ""
    own = {option for action in command._actions for option in action.option_strings}
    for i, arg in enumerate(argv):
        name, _, value = arg[2:].partition("=")
        if arg.startswith("--") and name.replace("-", "_") in keys and arg.split("=")[0] not in own:
            value = value or (argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("-") else "N")
            key = name.replace("-", "_")
            return f"training keys are written key=value, not as options: write {key}={value} (see `multigrid {argv[0]} --help`)"
    return ""
